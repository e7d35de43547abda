"""One figure theme for every report, and the standard report figures.

`apply_theme(lang)` sets a colour-blind-safe (Okabe–Ito) matplotlib theme (seaborn's
whitegrid look; seaborn plots follow it) sized for an A4 page (figures 6.4 in wide = the PDF text width, 9–10 pt
text), picks fonts that can write the report's language (a CJK font for
Chinese, or a clear error naming `fonts-noto-cjk`), and makes notebooks emit
every figure as PNG and SVG (the renderers prefer the SVG: sharp in HTML and
PDF, text drawn as paths so no font is needed to view it).

Each figure helper takes a tidy DataFrame, returns a `matplotlib.figure.Figure`
(made without pyplot, so a notebook shows it exactly once: end the cell with
the figure or `display(fig)`), and labels it through `i18n` in `lang`.
Nothing here ranks hospitals: the funnel plot labels only hospitals outside
the 99.8% limits.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import matplotlib
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from fedcost.reporting.fonts import needs_cjk, require_cjk_font
from fedcost.reporting.i18n import normalise_lang

# Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}
PALETTE = [OKABE_ITO[k] for k in ("blue", "orange", "green", "vermillion", "sky_blue", "purple", "yellow", "black")]
GREY = "#8C8C8C"
LIGHT_GREY = "#D9D9D9"
HIGH = OKABE_ITO["vermillion"]   # bad / over
LOW = OKABE_ITO["blue"]          # under / surplus
WARN = OKABE_ITO["orange"]
ALERT_YELLOW_FILL = "#F6EB8C"
ALERT_RED_FILL = "#F4B9A0"

# Cost components in the data dictionary's order, with a fixed colour each.
COMPONENTS = ["drug_cost", "consumable_cost", "exam_cost", "procedure_cost", "nursing_cost",
              "labour_cost", "other_cost"]
COMPONENT_COLOURS = dict(zip(COMPONENTS, [OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["sky_blue"],
                                          OKABE_ITO["green"], OKABE_ITO["purple"], OKABE_ITO["vermillion"],
                                          "#B3B3B3"]))

FIG_WIDTH = 6.4          # inches: the PDF text width (A4 less margins); full column in HTML
FIG_HEIGHT = 3.9
LATIN_SANS = ["Liberation Sans", "Arial", "Helvetica", "Noto Sans", "DejaVu Sans"]

_current_lang = "en"


def _installed(families: Iterable[str]) -> list[str]:
    from matplotlib import font_manager
    names = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in families if f in names]


def font_stack(lang: str | None = "en") -> list[str]:
    """Matplotlib font families for `lang`, installed ones only. For Chinese the CJK font comes
    first (its Latin glyphs are good, and matplotlib's per-glyph fallback is not reliable for every
    backend), for English a Latin sans."""
    from matplotlib import font_manager
    fams = _installed(LATIN_SANS)
    if needs_cjk(lang):
        cjk = require_cjk_font()
        if cjk.family not in {f.name for f in font_manager.fontManager.ttflist}:
            for file in cjk.files:
                font_manager.fontManager.addfont(str(file))
        fams = [cjk.family] + fams
    return fams or ["DejaVu Sans"]


def apply_theme(lang: str | None = "en", *, formats: Sequence[str] = ("png", "svg"), dpi: int = 150) -> None:
    """Set the report theme for `lang` ('en' or 'zh'); call once at the top of a report notebook."""
    global _current_lang
    from cycler import cycler

    _current_lang = normalise_lang(lang)
    fams = font_stack(_current_lang)
    # seaborn's "whitegrid" look, set through matplotlib alone (importing seaborn costs seconds per
    # report; seaborn plots drawn after this pick the palette and style up from rcParams)
    matplotlib.rcParams.update({
        "font.family": fams,
        "font.sans-serif": fams,
        "font.size": 9.5,
        "text.color": "#222222",
        "axes.prop_cycle": cycler(color=PALETTE),
        "axes.facecolor": "white",
        "axes.edgecolor": "#555555",
        "axes.linewidth": 0.8,
        "axes.grid": True,
        "axes.axisbelow": True,
        "axes.labelcolor": "#222222",
        "axes.titlesize": 10.5,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "axes.labelsize": 9.5,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.unicode_minus": True,
        "grid.color": "#E6E6E6",
        "grid.linewidth": 0.7,
        "grid.linestyle": "-",
        "xtick.color": "#333333",
        "ytick.color": "#333333",
        "xtick.labelsize": 8.5,
        "ytick.labelsize": 8.5,
        "xtick.major.size": 3,
        "ytick.major.size": 3,
        "xtick.major.width": 0.7,
        "ytick.major.width": 0.7,
        "legend.fontsize": 8.5,
        "legend.frameon": False,
        "figure.facecolor": "white",
        "figure.figsize": (FIG_WIDTH, FIG_HEIGHT),
        "figure.dpi": dpi,
        "savefig.dpi": dpi,
        "savefig.facecolor": "white",
        "figure.constrained_layout.use": True,
        "svg.fonttype": "path",
        "pdf.fonttype": 42,
        "lines.linewidth": 1.6,
        "lines.markersize": 5,
        "patch.edgecolor": "white",
        "image.cmap": "cividis",
    })
    import sys
    if "seaborn" in sys.modules:  # already imported by the notebook: keep it in step
        sys.modules["seaborn"].set_palette(PALETTE)
    try:  # inside a kernel: emit both PNG and SVG for each figure
        from IPython import get_ipython
        if get_ipython() is not None:
            from matplotlib_inline.backend_inline import set_matplotlib_formats
            set_matplotlib_formats(*formats)
    except ImportError:
        pass


def resolve_lang(lang):
    return normalise_lang(lang) if lang else _current_lang


def figure(height: float = FIG_HEIGHT, width: float = FIG_WIDTH):
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def thousands_axis(ax_axis):
    ax_axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def require_columns(df: pd.DataFrame, cols: Iterable[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: the table needs column(s) {missing}; it has {list(df.columns)}")


def fmt_value(v, percent):
    return f"{v * 100:.0f}%" if percent else f"{v:,g}"


__all__ = ["OKABE_ITO", "PALETTE", "COMPONENTS", "COMPONENT_COLOURS", "apply_theme", "font_stack", "figure",
           "fmt_value", "resolve_lang", "require_columns", "thousands_axis"]

matplotlib.rcParams.setdefault("svg.fonttype", "path")
