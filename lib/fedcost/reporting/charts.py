"""Cost figures: cost structure, payment gap, cost-effectiveness plane and curve, cost coefficients, model terms.

Each takes a tidy table and returns a `matplotlib.figure.Figure` labelled in `lang`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from fedcost.reporting.format import tr
from fedcost.reporting.theme import (
    COMPONENTS, COMPONENT_COLOURS, FIG_HEIGHT, HIGH, LOW, OKABE_ITO, PALETTE, figure, require_columns,
    resolve_lang, thousands_axis,
)
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
    lang = resolve_lang(lang)
    require_columns(df, [group, component, value], "cost_structure_bars")
    d = df.groupby([group, component], sort=False, observed=True)[value].sum().unstack(component).fillna(0.0)
    if normalize:
        d = d.div(d.sum(axis=1).replace(0, np.nan), axis=0).fillna(0.0)
    alias = {c: component_key(c) for c in d.columns}
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
        thousands_axis(ax.xaxis)
        ax.set_xlabel(t("per_case_cost_yuan", lang))
    ax.set_ylabel(t(group, lang))
    if title:
        ax.set_title(title)
    fig.legend(loc="outside lower center", ncol=4)
    return fig


def component_key(c) -> str:
    from fedcost.reporting.i18n import ALIASES
    c = str(c)
    return ALIASES.get(c, c)


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
    lang = resolve_lang(lang)
    d = df.copy()
    if gap is None:
        require_columns(d, [group, payment, cost], "payment_gap_bars")
        d["_gap"] = d[cost] / d[payment] - 1.0
    else:
        require_columns(d, [group, gap], "payment_gap_bars")
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
    lang = resolve_lang(lang)
    require_columns(df, [d_cost, d_effect] + ([strategy] if strategy else []), "ce_plane")
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
    thousands_axis(ax.yaxis)
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
    lang = resolve_lang(lang)
    require_columns(df, [wtp, prob] + ([strategy] if strategy else []), "ceac")
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
    thousands_axis(ax.xaxis)
    ax.set_xlabel(t("wtp", lang))
    ax.set_ylabel(t("prob_ce", lang))
    if title:
        ax.set_title(title)
    ax.legend(loc="best")
    return fig
