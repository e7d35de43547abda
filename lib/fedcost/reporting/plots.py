"""Monitoring figures: the funnel plot of hospitals' O/E ratios and the trend chart with its alerts.

Each takes a tidy table, returns a `matplotlib.figure.Figure` labelled in
`lang`, and draws the limits the analysis released (the funnel curve, the SPC
table's centre and limits) when given them. Nothing here ranks hospitals: the
funnel plot labels only hospitals outside the 99.8% limits.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from fedcost.reporting.i18n import t
from fedcost.reporting.theme import (
    ALERT_RED_FILL, ALERT_YELLOW_FILL, FIG_HEIGHT, GREY, HIGH, LOW, OKABE_ITO, PALETTE, WARN, figure, fmt_value,
    require_columns, resolve_lang, thousands_axis,
)


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
    lang = resolve_lang(lang)
    require_columns(df, [x, y], "funnel_plot")
    if label is None:
        label = next((c for c in ("hospital", "site", "name") if c in df.columns), None)
    d = df.dropna(subset=[x, y]).copy()
    d = d[(d[x] > 0) & (d[y] > 0)]
    fig, ax = figure(FIG_HEIGHT + 0.3)
    if limits is not None:
        require_columns(limits, [x, "lower95", "upper95", "lower998", "upper998"], "funnel_plot limits")
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
    thousands_axis(ax.xaxis)
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
    lang = resolve_lang(lang)
    require_columns(df, [x, y] + ([group] if group else []), "trend_chart")
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
                   label=f"{t('alert_yellow', lang)} > {fmt_value(yellow, percent)}", zorder=0)
    if red is not None:
        ax.axhspan(red, ymax, color=ALERT_RED_FILL, alpha=0.55, lw=0,
                   label=f"{t('alert_red', lang)} > {fmt_value(red, percent)}", zorder=0)
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
        thousands_axis(ax.yaxis)
    ax.set_ylabel(ylabel or t("value", lang))
    ax.set_xlabel(xlabel or t("period", lang))
    if title:
        ax.set_title(title)
    fig.legend(loc="outside lower center", ncol=3)
    return fig
