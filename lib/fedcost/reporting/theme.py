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

import math
from typing import Iterable, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from fedcost.reporting.fonts import needs_cjk, require_cjk_font
from fedcost.reporting.i18n import normalise_lang, t

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


def _lang(lang):
    return normalise_lang(lang) if lang else _current_lang


def figure(height: float = FIG_HEIGHT, width: float = FIG_WIDTH):
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def _thousands(ax_axis):
    ax_axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _need(df: pd.DataFrame, cols: Iterable[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: the table needs column(s) {missing}; it has {list(df.columns)}")


# ------------------------------------------------------------------ funnel plot
def funnel_limits(n, *, sigma: float, target: float = 1.0, z: float = 1.96, overdispersion: float = 1.0):
    """Control limits of a ratio at precision n: target * exp(±z * sigma * sqrt(overdispersion / n))."""
    n = np.asarray(n, dtype=float)
    half = z * sigma * np.sqrt(overdispersion / n)
    return target * np.exp(-half), target * np.exp(half)


def funnel_plot(df: pd.DataFrame, *, lang: str | None = None, x: str = "n", y: str = "oe",
                label: str | None = None, sigma: float | None = None, overdispersion: float = 1.0,
                target: float = 1.0, limits: pd.DataFrame | None = None, flag: str | None = None,
                band: tuple[float, float] | None = (0.8, 1.2), title: str | None = None,
                xlabel: str | None = None) -> Figure:
    """Funnel plot of case-mix adjusted observed/expected cost ratios (Spiegelhalter 2005).

    df, one row per hospital:
      - `hospital` or `site` (str): pseudonym, shown for outliers only (or name it with `label=`)
      - `n` (int): cases, the precision on the x axis (the benchmark analysis also gives
        `precision` = 1/se^2: pass x="precision" with its `limits` curve)
      - `oe` (float): observed / expected cost ratio
      - optional flag column (`flag="funnel_flag"` of the benchmark analysis: 'alarm_high',
        'alert_high', 'alert_low', 'alarm_low', 'within'): colours follow it instead of the drawn limits
    limits: the analysis' own control-limit curve, columns `x` (e.g. `precision`), `lower95`,
      `upper95`, `lower998`, `upper998` (overdispersion already applied). Without it the limits are
      target * exp(±z * sigma * sqrt(overdispersion / n)), where sigma is the SD of the per-case log
      cost ratio (for a Gamma GLM, sqrt(dispersion)); sigma=None estimates it from the data as
      sqrt(mean(n*log(oe)^2)) (which absorbs between-hospital variation: conservative).
    band: the accepted cost-difference-coefficient band (0.8-1.2) shaded; None for no band.
    Limits at 95% (dashed) and 99.8% (solid); hospitals outside 99.8% are coloured and labelled,
    between 95% and 99.8% coloured orange; no ranking.
    """
    lang = _lang(lang)
    _need(df, [x, y], "funnel_plot")
    if label is None:
        label = next((c for c in ("hospital", "site", "name") if c in df.columns), None)
    d = df.dropna(subset=[x, y]).copy()
    d = d[(d[x] > 0) & (d[y] > 0)]
    fig, ax = figure(FIG_HEIGHT + 0.3)
    if limits is not None:
        _need(limits, [x, "lower95", "upper95", "lower998", "upper998"], "funnel_plot limits")
        lim = limits.sort_values(x)
        grid = lim[x].to_numpy(float)
        lo95, hi95 = lim["lower95"].to_numpy(float), lim["upper95"].to_numpy(float)
        lo998, hi998 = lim["lower998"].to_numpy(float), lim["upper998"].to_numpy(float)
        nmin, nmax = float(grid.min()), float(grid.max())

        def at(col, xs):
            return np.interp(np.log(xs), np.log(grid), lim[col].to_numpy(float))
        l95, h95 = at("lower95", d[x]), at("upper95", d[x])
        l998, h998 = at("lower998", d[x]), at("upper998", d[x])
    else:
        if sigma is None:
            sigma = float(np.sqrt(np.mean(d[x] * np.log(d[y] / target) ** 2))) if len(d) else 0.1
            sigma = sigma or 0.1
        nmin = max(1.0, float(d[x].min()) * 0.6) if len(d) else 1.0
        nmax = float(d[x].max()) * 1.15 if len(d) else 100.0
        grid = np.geomspace(nmin, nmax, 300)
        lo95, hi95 = funnel_limits(grid, sigma=sigma, target=target, z=1.959964, overdispersion=overdispersion)
        lo998, hi998 = funnel_limits(grid, sigma=sigma, target=target, z=3.090232, overdispersion=overdispersion)
        l95, h95 = funnel_limits(d[x], sigma=sigma, target=target, z=1.959964, overdispersion=overdispersion)
        l998, h998 = funnel_limits(d[x], sigma=sigma, target=target, z=3.090232, overdispersion=overdispersion)
    logx = nmax / nmin > 30
    if band:
        ax.axhspan(band[0], band[1], color=OKABE_ITO["sky_blue"], alpha=0.10, lw=0,
                   label=f"{t('band', lang)} {band[0]:g}–{band[1]:g}")
    ax.plot(grid, hi95, color=GREY, ls="--", lw=1.0, label=t("limit95", lang))
    ax.plot(grid, lo95, color=GREY, ls="--", lw=1.0)
    ax.plot(grid, hi998, color="#444444", ls="-", lw=1.1, label=t("limit998", lang))
    ax.plot(grid, lo998, color="#444444", ls="-", lw=1.1)
    ax.axhline(target, color="black", lw=0.9, label=t("regional_average", lang))
    if flag and flag in d.columns:
        f = d[flag].astype(str)
        high, low = f.eq("alarm_high"), f.eq("alarm_low")
        warn = f.isin(["alert_high", "alert_low"])
    else:
        high = d[y] > h998
        low = d[y] < l998
        warn = ((d[y] > h95) | (d[y] < l95)) & ~high & ~low
    inside = ~(high | low | warn)
    ax.scatter(d.loc[inside, x], d.loc[inside, y], s=26, color="#333333", alpha=0.85, zorder=3,
               label=t("within_limits", lang))
    if warn.any():
        ax.scatter(d.loc[warn, x], d.loc[warn, y], s=30, color=WARN, zorder=3, edgecolor="white", lw=0.5,
                   label=f"{t('limit95', lang)} – {t('limit998', lang)}")
    if high.any():
        ax.scatter(d.loc[high, x], d.loc[high, y], s=38, color=HIGH, zorder=4, edgecolor="white", lw=0.5,
                   label=t("outlier_high", lang))
    if low.any():
        ax.scatter(d.loc[low, x], d.loc[low, y], s=38, color=LOW, zorder=4, edgecolor="white", lw=0.5,
                   label=t("outlier_low", lang))
    if label and label in d.columns:
        for _, r in d[high | low].iterrows():
            ax.annotate(str(r[label]), (r[x], r[y]), xytext=(5, 4), textcoords="offset points", fontsize=8,
                        color=HIGH if r[y] > target else LOW, fontweight="bold")
    if logx:
        from matplotlib.ticker import LogLocator, NullFormatter
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    _thousands(ax.xaxis)
    ax.set_xlabel(xlabel or t("n_cases" if x == "n" else x, lang))
    ax.set_ylabel(t("oe_ratio", lang))
    if title:
        ax.set_title(title)
    lo_y = min(float(np.nanmin(lo998)), float(d[y].min()) if len(d) else target) * 0.95
    hi_y = max(float(hi998[len(hi998) // 6]), float(d[y].max()) if len(d) else target) * 1.05
    ax.set_ylim(max(0, lo_y), hi_y)
    ax.set_xlim(nmin, nmax)
    fig.legend(loc="outside lower center", ncol=3)
    return fig


# ------------------------------------------------------------------ trend / SPC
def spc_limits(values) -> tuple[float, float, float]:
    """Individuals (XmR) chart: centre, lower and upper limit = mean ∓ 2.66 × mean moving range."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) < 2:
        c = float(v.mean()) if len(v) else float("nan")
        return c, float("nan"), float("nan")
    centre = float(v.mean())
    mr = float(np.mean(np.abs(np.diff(v))))
    return centre, centre - 2.66 * mr, centre + 2.66 * mr


def trend_chart(df: pd.DataFrame, *, lang: str | None = None, x: str = "period", y: str = "value",
                group: str | None = None, yellow: float | None = None, red: float | None = None,
                spc: bool = True, percent: bool = False, ylabel: str | None = None,
                xlabel: str | None = None, title: str | None = None) -> Figure:
    """Trend of an indicator with yellow/red alert bands and SPC limits.

    df, one row per period (and group):
      - `period`: period label (str like '2025-Q1', a date, or a number), in time order
      - `value` (float): the indicator, e.g. per-case cost growth as a fraction (0.083 = 8.3%)
      - optional group column (e.g. `region`): one line per group (SPC limits then off)
      - optional `centre`, `lcl`, `ucl` (the warning analysis' SPC table): used instead of computing
        the limits here (its `value` is the per-case cost: pass y="value")
    yellow, red: alert thresholds in the units of `value` (policy: growth 0.08 yellow, 0.10 red);
      the band from yellow to red is shaded yellow, above red shaded red.
    spc: individuals-chart centre line and 3-sigma limits (2.66 × mean moving range) for a single
      series; points beyond them are ringed.
    percent: format the y axis as percentages of fractions.
    """
    lang = _lang(lang)
    _need(df, [x, y] + ([group] if group else []), "trend_chart")
    d = df.copy()
    fig, ax = figure()
    periods = list(dict.fromkeys(d[x].tolist()))
    pos = {p: i for i, p in enumerate(periods)}
    d["_pos"] = d[x].map(pos)
    vals = d[y].astype(float)
    top = max(float(vals.max()), red or -math.inf, yellow or -math.inf)
    bottom = min(float(vals.min()), 0.0 if percent else float(vals.min()))
    span = (top - bottom) or abs(top) or 1.0
    ymax = top + 0.18 * span
    ymin = bottom - 0.10 * span
    if yellow is not None:
        ax.axhspan(yellow, red if red is not None else ymax, color=ALERT_YELLOW_FILL, alpha=0.55, lw=0,
                   label=f"{t('alert_yellow', lang)} > {_fmt(yellow, percent)}", zorder=0)
    if red is not None:
        ax.axhspan(red, ymax, color=ALERT_RED_FILL, alpha=0.55, lw=0,
                   label=f"{t('alert_red', lang)} > {_fmt(red, percent)}", zorder=0)
    if group:
        for i, (g, gd) in enumerate(d.groupby(group, sort=True)):
            gd = gd.sort_values("_pos")
            ax.plot(gd["_pos"], gd[y], marker="o", color=PALETTE[i % len(PALETTE)], label=str(g), zorder=3)
    else:
        d = d.sort_values("_pos")
        ax.plot(d["_pos"], d[y], marker="o", color=OKABE_ITO["blue"], zorder=3, label=ylabel or t("value", lang))
        if spc and len(d) >= 3:
            if {"centre", "lcl", "ucl"} <= set(d.columns):   # the warning analysis' own XmR limits
                c, lcl, ucl = (float(d[k].dropna().iloc[0]) for k in ("centre", "lcl", "ucl"))
            else:
                c, lcl, ucl = spc_limits(d[y])
            ax.axhline(c, color="#444444", lw=0.9, ls="-", label=t("centre_line", lang), zorder=2)
            ax.axhline(ucl, color="#444444", lw=0.9, ls=":", label=t("spc_limits", lang), zorder=2)
            ax.axhline(lcl, color="#444444", lw=0.9, ls=":", zorder=2)
            out = d[(d[y] > ucl) | (d[y] < lcl)]
            if len(out):
                ax.scatter(out["_pos"], out[y], s=110, facecolor="none", edgecolor=HIGH, lw=1.6, zorder=4,
                           label=t("spc_signal", lang))
            ymax = max(ymax, ucl + 0.05 * span)
            ymin = min(ymin, lcl - 0.05 * span)
    ax.set_ylim(ymin, ymax)
    ax.set_xticks(range(len(periods)))
    ax.set_xticklabels([str(p) for p in periods], rotation=45 if len(periods) > 8 else 0,
                       ha="right" if len(periods) > 8 else "center")
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    elif float(np.nanmax(np.abs(vals))) >= 1000:
        _thousands(ax.yaxis)
    ax.set_ylabel(ylabel or t("value", lang))
    ax.set_xlabel(xlabel or t("period", lang))
    if title:
        ax.set_title(title)
    fig.legend(loc="outside lower center", ncol=3)
    return fig


def _fmt(v, percent):
    return f"{v * 100:.0f}%" if percent else f"{v:,g}"


# ------------------------------------------------------------------ cost structure
def cost_structure_bars(df: pd.DataFrame, *, lang: str | None = None, group: str = "hospital",
                        component: str = "component", value: str = "value", normalize: bool = True,
                        title: str | None = None) -> Figure:
    """Stacked horizontal bars of the cost structure of each group (100% = the group's cost).

    df, long format, one row per group and component:
      - `hospital` (or the `group` column: region, hospital level, DRG ...)
      - `component`: a data-dictionary component name (`drug_cost`, `consumable_cost`, `exam_cost`,
        `procedure_cost`, `nursing_cost`, `labour_cost`, `other_cost`; short aliases like `drugs`
        work) or any label
      - `value` (float): cost in yuan (normalize=True turns it into shares) or already a share
    Segments of at least 6% carry their percentage; components keep one colour in every report.
    """
    lang = _lang(lang)
    _need(df, [group, component, value], "cost_structure_bars")
    d = df.groupby([group, component], sort=False, observed=True)[value].sum().unstack(component).fillna(0.0)
    if normalize:
        d = d.div(d.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)
    alias = {c: _component_key(c) for c in d.columns}
    order = sorted(d.columns, key=lambda c: (COMPONENTS.index(alias[c]) if alias[c] in COMPONENTS else 99))
    d = d[order]
    groups = list(d.index)[::-1]
    fig, ax = figure(max(2.2, 0.42 * len(groups) + 1.4))
    left = np.zeros(len(groups))
    for i, comp in enumerate(order):
        vals = d.loc[groups, comp].to_numpy(dtype=float)
        key = alias[comp]
        colour = COMPONENT_COLOURS.get(key, PALETTE[i % len(PALETTE)])
        ax.barh(range(len(groups)), vals, left=left, color=colour, edgecolor="white", lw=0.6,
                label=t(key, lang), height=0.72)
        if normalize:
            for j, v in enumerate(vals):
                if v >= 0.06:
                    txt_col = "white" if colour not in ("#B3B3B3", OKABE_ITO["orange"], OKABE_ITO["sky_blue"]) else "black"
                    ax.text(left[j] + v / 2, j, f"{v * 100:.0f}%", ha="center", va="center", fontsize=7.5,
                            color=txt_col)
        left += vals
    ax.set_yticks(range(len(groups)))
    ax.set_yticklabels([str(g) for g in groups])
    ax.grid(axis="y", visible=False)
    if normalize:
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel(t("share", lang))
    else:
        _thousands(ax.xaxis)
        ax.set_xlabel(t("per_case_cost_yuan", lang))
    ax.set_ylabel(t(group, lang))
    if title:
        ax.set_title(title)
    fig.legend(loc="outside lower center", ncol=4)
    return fig


def _component_key(c) -> str:
    from fedcost.reporting.i18n import _ALIASES
    c = str(c)
    return _ALIASES.get(c, c)


# ------------------------------------------------------------------ payment gaps
def payment_gap_bars(df: pd.DataFrame, *, lang: str | None = None, group: str = "drg_code",
                     payment: str = "payment_standard", cost: str = "mean_cost", gap: str | None = None,
                     label: str | None = None, max_groups: int = 20, title: str | None = None) -> Figure:
    """Diverging bars: how far each DRG group's mean cost lies above (overspend) or below (surplus)
    its payment standard.

    df, one row per DRG group (the payment analysis' table has these columns):
      - `drg_code` (str)
      - `payment_standard` (float, yuan per case) and `mean_cost` (float, yuan per case), or
      - a gap column named by `gap`: (cost - payment) / payment as a fraction, positive = overspend
        (NB the payment analysis' `gap_ratio` is (standard - cost) / standard: the other sign)
      - optional `label` column (group name) shown instead of the code
    The `max_groups` groups with the largest absolute gap are shown, sorted by gap.
    """
    lang = _lang(lang)
    d = df.copy()
    if gap is None:
        _need(d, [group, payment, cost], "payment_gap_bars")
        d["_gap"] = d[cost] / d[payment] - 1.0
    else:
        _need(d, [group, gap], "payment_gap_bars")
        d["_gap"] = d[gap].astype(float)
    d = d.dropna(subset=["_gap"])
    d = d.reindex(d["_gap"].abs().sort_values(ascending=False).index).head(max_groups)
    d = d.sort_values("_gap")
    names = d[label] if label and label in d.columns else d[group]
    fig, ax = figure(max(2.4, 0.3 * len(d) + 1.3))
    colours = [HIGH if g > 0 else LOW for g in d["_gap"]]
    ax.barh(range(len(d)), d["_gap"], color=colours, height=0.7)
    ax.axvline(0, color="black", lw=0.9)
    span = float(d["_gap"].abs().max()) if len(d) else 0.1
    for i, g in enumerate(d["_gap"]):
        ax.text(g + (0.02 * span if g >= 0 else -0.02 * span), i, f"{g * 100:+.0f}%", va="center",
                ha="left" if g >= 0 else "right", fontsize=7.5)
    gmin, gmax = (float(d["_gap"].min()), float(d["_gap"].max())) if len(d) else (0.0, 0.0)
    ax.set_xlim(min(gmin, 0.0) - 0.22 * span, max(gmax, 0.0) + 0.22 * span)
    ax.set_yticks(range(len(d)))
    ax.set_yticklabels([str(n) for n in names])
    ax.grid(axis="y", visible=False)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel(t("payment_gap", lang))
    ax.set_ylabel(t("drg", lang))
    from matplotlib.patches import Patch
    ax.legend(handles=[Patch(color=HIGH, label=t("overspend", lang)), Patch(color=LOW, label=t("surplus", lang))],
              loc="lower right")
    if title:
        ax.set_title(title)
    return fig


# ------------------------------------------------------------------ cost-effectiveness
def ce_plane(df: pd.DataFrame, *, lang: str | None = None, d_cost: str = "d_cost", d_effect: str = "d_effect",
             strategy: str | None = None, wtp: float | None = None, title: str | None = None,
             max_points: int = 2000) -> Figure:
    """Cost-effectiveness plane: probabilistic sensitivity analysis draws of incremental effect (x,
    QALYs) against incremental cost (y, yuan), the willingness-to-pay line and the mean (point
    estimate).

    df, one row per PSA draw:
      - `d_cost` (float): incremental cost vs the comparator, yuan
      - `d_effect` (float): incremental QALYs (or the study's effect)
      - optional `strategy` column: one colour per strategy compared
    wtp: threshold yuan per QALY (policy: 3 × GDP per capita); draws below the line are cost-effective.
    """
    lang = _lang(lang)
    _need(df, [d_cost, d_effect] + ([strategy] if strategy else []), "ce_plane")
    fig, ax = figure(FIG_HEIGHT + 0.4)
    groups = list(df.groupby(strategy, sort=True)) if strategy else [(None, df)]
    for i, (g, gd) in enumerate(groups):
        col = PALETTE[i % len(PALETTE)]
        pts = gd.sample(max_points, random_state=1) if len(gd) > max_points else gd
        ax.scatter(pts[d_effect], pts[d_cost], s=6, alpha=0.25, color=col, lw=0,
                   label=str(g) if g is not None else t("psa_draws", lang), rasterized=len(pts) > 500)
        ax.scatter([gd[d_effect].mean()], [gd[d_cost].mean()], s=70, marker="D", color=col, edgecolor="black",
                   lw=0.8, zorder=5, label=t("point_estimate", lang) if g is None else None)
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(0, color="black", lw=0.8)
    x0, x1 = ax.get_xlim()
    pad = 0.05 * (x1 - x0)
    ax.set_xlim(min(x0, -pad), max(x1, pad))
    y0, y1 = ax.get_ylim()
    pad = 0.05 * (y1 - y0)
    ax.set_ylim(min(y0, -pad), max(y1, pad))
    if wtp:
        xl = np.array(ax.get_xlim())
        yl = ax.get_ylim()
        ax.plot(xl, wtp * xl, color=HIGH, lw=1.3, ls="--", label=f"{t('wtp_line', lang)}: {wtp:,.0f}")
        ax.set_ylim(yl)
    _thousands(ax.yaxis)
    ax.set_xlabel(t("incremental_qaly", lang))
    ax.set_ylabel(t("incremental_cost", lang))
    if title:
        ax.set_title(title)
    ax.legend(loc="upper left")
    return fig


def ceac_from_psa(df: pd.DataFrame, wtps: Sequence[float], *, d_cost: str = "d_cost", d_effect: str = "d_effect",
                  strategy: str | None = None) -> pd.DataFrame:
    """Acceptability curve data: for each threshold, the share of draws with net monetary benefit
    wtp*d_effect - d_cost > 0. Returns columns `wtp`, `prob` (and `strategy`)."""
    rows = []
    groups = df.groupby(strategy, sort=True) if strategy else [(None, df)]
    for g, gd in groups:
        e = gd[d_effect].to_numpy(float)
        c = gd[d_cost].to_numpy(float)
        for w in wtps:
            r = {"wtp": float(w), "prob": float(np.mean(w * e - c > 0))}
            if strategy:
                r[strategy] = g
            rows.append(r)
    return pd.DataFrame(rows)


def ceac(df: pd.DataFrame, *, lang: str | None = None, wtp: str = "wtp", prob: str = "prob",
         strategy: str | None = None, threshold: float | None = None, title: str | None = None) -> Figure:
    """Cost-effectiveness acceptability curve.

    df (see `ceac_from_psa`), one row per threshold (and strategy):
      - `wtp` (float): willingness to pay, yuan per QALY
      - `prob` (float in 0..1): probability the therapy is cost-effective at that threshold
      - optional `strategy` column: one curve per strategy
    threshold: the policy threshold (e.g. 3 × GDP per capita) marked with a vertical line and the
      probability there.
    """
    lang = _lang(lang)
    _need(df, [wtp, prob] + ([strategy] if strategy else []), "ceac")
    fig, ax = figure()
    groups = list(df.groupby(strategy, sort=True)) if strategy else [(None, df)]
    for i, (g, gd) in enumerate(groups):
        gd = gd.sort_values(wtp)
        ax.plot(gd[wtp], gd[prob], color=PALETTE[i % len(PALETTE)], lw=1.8,
                label=str(g) if g is not None else t("prob_ce", lang))
        if threshold is not None:
            p = float(np.interp(threshold, gd[wtp], gd[prob]))
            ax.plot([threshold], [p], "o", color=PALETTE[i % len(PALETTE)], zorder=4)
            ax.annotate(f"{p * 100:.0f}%", (threshold, p), xytext=(6, 6), textcoords="offset points", fontsize=8)
    if threshold is not None:
        ax.axvline(threshold, color=HIGH, ls="--", lw=1.2, label=f"{t('wtp_line', lang)}: {threshold:,.0f}")
    ax.set_ylim(-0.02, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _thousands(ax.xaxis)
    ax.set_xlabel(t("wtp", lang))
    ax.set_ylabel(t("prob_ce", lang))
    if title:
        ax.set_title(title)
    ax.legend(loc="best")
    return fig


__all__ = ["OKABE_ITO", "PALETTE", "COMPONENTS", "COMPONENT_COLOURS", "apply_theme", "font_stack",
           "funnel_plot", "funnel_limits", "trend_chart", "spc_limits", "cost_structure_bars",
           "payment_gap_bars", "ce_plane", "ceac", "ceac_from_psa"]

matplotlib.rcParams.setdefault("svg.fonttype", "path")
