"""Figures of the report notebooks that the theme does not have: cost coefficients, model coefficients."""
from __future__ import annotations

import numpy as np
import pandas as pd

from fedcost.reporting.format import tr
from fedcost.reporting.i18n import t


def coefficient_chart(hc: pd.DataFrame, *, lang="en", band=(0.8, 1.2)):
    """Cost difference coefficient per hospital (pseudonyms, in name order: no ranking), unadjusted
    and case-mix adjusted, against the accepted band."""
    from fedcost.reporting.theme import OKABE_ITO, figure
    d = hc.sort_values("hospital").reset_index(drop=True)
    fig, ax = figure(max(2.2, 0.38 * len(d) + 1.3))
    ax.axvspan(band[0], band[1], color=OKABE_ITO["sky_blue"], alpha=0.12, lw=0,
               label=f"{t('band', lang)} {band[0]:g}–{band[1]:g}")
    ax.axvline(1.0, color="black", lw=0.8)
    ypos = np.arange(len(d))[::-1]
    for y, (_, r) in zip(ypos, d.iterrows()):
        ax.plot([r["cost_coefficient"], r["adjusted_coefficient"]], [y, y], color="#999999", lw=1.0, zorder=2)
    ax.scatter(d["cost_coefficient"], ypos, s=36, facecolor="white", edgecolor=OKABE_ITO["orange"], lw=1.5,
               zorder=3, label=tr("raw_coefficient", lang))
    ax.scatter(d["adjusted_coefficient"], ypos, s=36, color=OKABE_ITO["blue"], zorder=4,
               label=tr("adjusted_coefficient", lang))
    ax.set_yticks(ypos)
    ax.set_yticklabels(d["hospital"].astype(str))
    ax.grid(axis="y", visible=False)
    lo = min(band[0], d[["cost_coefficient", "adjusted_coefficient"]].min().min()) - 0.05
    hi = max(band[1], d[["cost_coefficient", "adjusted_coefficient"]].max().max()) + 0.05
    ax.set_xlim(lo, hi)
    ax.set_xlabel(t("cost_coefficient", lang))
    fig.legend(loc="outside lower center", ncol=3)
    return fig


def coef_plot(coefs: pd.DataFrame, *, lang="en", max_terms: int = 60):
    """Cost ratios exp(coef) with 95% CIs on a log axis (intercept left out)."""
    from fedcost.reporting.theme import OKABE_ITO, figure
    d = coefs[coefs["term"] != "Intercept"].head(max_terms).iloc[::-1]
    fig, ax = figure(max(2.5, 0.16 * len(d) + 1.2))
    y = np.arange(len(d))
    ax.errorbar(np.exp(d["coef"]), y, xerr=[np.exp(d["coef"]) - np.exp(d["ci_lower"]),
                                             np.exp(d["ci_upper"]) - np.exp(d["coef"])],
                fmt="o", ms=3, color=OKABE_ITO["blue"], ecolor="#777777", elinewidth=0.9, capsize=0)
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xscale("log")
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator
    lo, hi = float(np.exp(d["ci_lower"]).min()), float(np.exp(d["ci_upper"]).max())
    ticks = [v for v in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10, 20, 50) if lo / 1.3 <= v <= hi * 1.3]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_yticks(y)
    ax.set_yticklabels([pretty_term(x) for x in d["term"]], fontsize=6.5)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("成本比（对数刻度）" if lang == "zh" else "Cost ratio exp(coefficient), log scale")
    return fig


def pretty_term(term: str) -> str:
    """'C(drg_code)[T.BR23]' -> 'drg_code = BR23'."""
    import re
    m = re.match(r"^C\((\w+)\)\[T\.(.+)\]$", str(term))
    return f"{m.group(1)} = {m.group(2)}" if m else str(term)


