"""fedcost.reporting.plots: funnel and SPC limits against hand arithmetic, and what the two monitoring
figures draw (limit lines, point colours, labels) in English and Chinese. Figures are built, never
rendered, so no font is needed."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from scipy import stats

from fedcost.reporting import plots
from fedcost.reporting.theme import HIGH, LOW, OKABE_ITO, PALETTE, WARN

Z95, Z998 = 1.959964, 3.090232   # the two-sided 95% and 99.8% normal quantiles the plot uses


def test_funnel_limits_by_hand():
    # target * exp(+-z * sigma * sqrt(overdispersion / n)), sigma = 0.5, z = 1.96:
    #   n = 100  -> half-width 1.96 * 0.5 / 10 = 0.098
    #   n = 400  -> 1.96 * 0.5 / 20 = 0.049
    #   n = 2500 -> 1.96 * 0.5 / 50 = 0.0196
    lo, hi = plots.funnel_limits([100, 400, 2500], sigma=0.5, z=1.96)
    np.testing.assert_allclose(hi, np.exp([0.098, 0.049, 0.0196]), rtol=1e-12)
    np.testing.assert_allclose(lo, np.exp([-0.098, -0.049, -0.0196]), rtol=1e-12)
    # overdispersion 4 doubles the half-width (sqrt 4 = 2): n = 400 -> 0.098; target 1.2 scales both limits
    lo, hi = plots.funnel_limits(400, sigma=0.5, z=1.96, target=1.2, overdispersion=4.0)
    assert hi == pytest.approx(1.2 * np.exp(0.098), rel=1e-12)
    assert lo == pytest.approx(1.2 * np.exp(-0.098), rel=1e-12)
    assert lo * hi == pytest.approx(1.2 ** 2, rel=1e-12)   # symmetric on the log scale about the target


def test_funnel_limits_are_the_lognormal_quantiles():
    """Independent oracle: log(O/E) ~ Normal(log target, sigma^2 / n) has its 2.5% and 97.5% quantiles at
    exactly these limits (scipy's lognormal, s = sigma / sqrt(n), scale = target)."""
    n = np.array([50.0, 300.0, 5000.0])
    lo, hi = plots.funnel_limits(n, sigma=0.4, target=0.9, z=stats.norm.ppf(0.975))
    ref = stats.lognorm(s=0.4 / np.sqrt(n), scale=0.9)
    np.testing.assert_allclose(lo, ref.ppf(0.025), rtol=1e-10)
    np.testing.assert_allclose(hi, ref.ppf(0.975), rtol=1e-10)


def test_spc_limits_by_hand():
    # values 10, 12, 11, 15: mean 48 / 4 = 12; moving ranges |12-10|, |11-12|, |15-11| = 2, 1, 4, mean 7/3
    # limits 12 -+ 2.66 * 7/3 = 12 -+ 6.206667
    c, lcl, ucl = plots.spc_limits([10, 12, 11, 15])
    assert c == 12.0
    assert lcl == pytest.approx(12 - 2.66 * 7 / 3, rel=1e-12) and ucl == pytest.approx(12 + 2.66 * 7 / 3, rel=1e-12)
    # a missing value is dropped before the moving ranges are taken: same answer
    assert plots.spc_limits([10, np.nan, 12, 11, 15]) == pytest.approx((c, lcl, ucl), rel=1e-12)
    # fewer than two values: a centre (if any) but no limits
    c1, l1, u1 = plots.spc_limits([7.5])
    assert c1 == 7.5 and np.isnan(l1) and np.isnan(u1)
    assert all(np.isnan(v) for v in plots.spc_limits([]))


def _line(ax, label):
    hits = [ln for ln in ax.lines if ln.get_label() == label]
    assert len(hits) == 1, [ln.get_label() for ln in ax.lines]
    return hits[0]


def test_funnel_without_sigma_draws_limits_of_the_estimated_sigma():
    df = pd.DataFrame({"hospital": list("ABCD"), "n": [200, 800, 1500, 3000], "oe": [1.10, 0.95, 1.03, 0.98]})
    fig = plots.funnel_plot(df, lang="en")
    ax = fig.axes[0]
    # sigma = sqrt(mean(n * log(oe)^2)), computed here with numpy
    sigma = float(np.sqrt(np.mean(df["n"] * np.log(df["oe"]) ** 2)))
    up95 = _line(ax, "95% limits")
    x, y = up95.get_xdata(), up95.get_ydata()
    np.testing.assert_allclose(y, np.exp(Z95 * sigma / np.sqrt(x)), rtol=1e-10)
    up998 = _line(ax, "99.8% limits")
    np.testing.assert_allclose(up998.get_ydata(), np.exp(Z998 * sigma / np.sqrt(up998.get_xdata())), rtol=1e-10)
    # the x grid runs from 0.6 x the smallest n to 1.15 x the largest: 120 .. 3450
    assert x[0] == pytest.approx(0.6 * 200) and x[-1] == pytest.approx(1.15 * 3000)
    # 4 limit curves and the target line at 1.0
    assert len(ax.lines) == 5 and list(_line(ax, "Regional average").get_ydata()) == [1.0, 1.0]


def _colour_of(ax, label):
    hits = [c for c in ax.collections if c.get_label() == label]
    assert len(hits) == 1, [c.get_label() for c in ax.collections]
    return tuple(hits[0].get_facecolor()[0]), hits[0].get_offsets()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_funnel_colours_and_labels_follow_the_limits(lang):
    # sigma 0.5; half-widths (log scale) at 95% / 99.8%:
    #   n = 400:  1.96*0.5/20 = 0.049 / 3.09*0.5/20 = 0.0773 -> log(oe) 0.06 lies between: orange, unlabelled
    #   n = 2500: 99.8% half-width 3.09*0.5/50 = 0.0309     -> log(oe) 0.05 above: vermillion, labelled
    #   n = 100:  99.8% half-width 3.09*0.5/10 = 0.1545     -> log(oe) -0.20 below: blue, labelled
    #   n = 900, oe 1.0: inside
    df = pd.DataFrame({"hospital": ["W", "H", "L", "I"], "n": [400, 2500, 100, 900],
                       "oe": np.exp([0.06, 0.05, -0.20, 0.0])})
    fig = plots.funnel_plot(df, sigma=0.5, lang=lang)
    ax = fig.axes[0]
    names = {"en": ("Above 99.8% limit", "Below 99.8% limit", "Within limits", "95% limits – 99.8% limits"),
             "zh": ("高于 99.8% 控制限", "低于 99.8% 控制限", "控制限内", "95% 控制限 – 99.8% 控制限")}[lang]
    high, high_xy = _colour_of(ax, names[0])
    low, low_xy = _colour_of(ax, names[1])
    inside, inside_xy = _colour_of(ax, names[2])
    warn, warn_xy = _colour_of(ax, names[3])
    assert high == to_rgba(HIGH) and low == to_rgba(LOW) and warn == to_rgba(WARN)   # same in both languages
    assert high_xy.tolist() == [[2500, np.exp(0.05)]] and low_xy.tolist() == [[100, np.exp(-0.20)]]
    assert warn_xy.tolist() == [[400, np.exp(0.06)]] and inside_xy.tolist() == [[900, 1.0]]
    assert sorted(t.get_text() for t in ax.texts) == ["H", "L"]   # only the 99.8% outliers are named
    assert ax.get_ylabel() == {"en": "Observed / expected cost", "zh": "实际/预期费用比"}[lang]
    assert ax.get_xlabel() == {"en": "Number of cases", "zh": "病例数"}[lang]


def test_funnel_draws_the_analysis_curve_and_its_flags_as_given():
    grid = np.array([10.0, 100.0, 1000.0])
    # rows given from the most to the least precise: the plot sorts them by precision
    curve = pd.DataFrame({"precision": grid[::-1], "lower95": [0.9, 0.8, 0.5], "upper95": [1.1, 1.2, 1.5],
                          "lower998": [0.85, 0.7, 0.3], "upper998": [1.15, 1.3, 1.7]})
    # the flag overrules the curve: S2 sits on the target yet is drawn as a 95% alert
    sites = pd.DataFrame({"site": ["S1", "S2"], "precision": [100.0, 500.0], "oe": [1.0, 1.0],
                          "funnel_flag": ["within", "alert_high"]})
    fig = plots.funnel_plot(sites, x="precision", limits=curve, flag="funnel_flag", band=None, lang="en")
    ax = fig.axes[0]
    up = _line(ax, "95% limits")
    assert list(up.get_xdata()) == grid.tolist() and list(up.get_ydata()) == [1.5, 1.2, 1.1]
    assert list(_line(ax, "99.8% limits").get_ydata()) == [1.7, 1.3, 1.15]
    colour, xy = _colour_of(ax, "95% limits – 99.8% limits")
    assert colour == to_rgba(WARN) and xy.tolist() == [[500.0, 1.0]]
    assert len(ax.texts) == 0 and len(ax.patches) == 0   # no alarm to name, no band asked for
    assert ax.get_xscale() == "log"              # 1000 / 10 > 30


def test_trend_chart_uses_the_released_spc_limits_and_rings_points_beyond():
    df = pd.DataFrame({"period": ["2024Q1", "2024Q2", "2024Q3", "2024Q4"], "value": [100.0, 104.0, 99.0, 130.0],
                       "centre": 101.0, "lcl": 90.0, "ucl": 112.0})
    fig = plots.trend_chart(df, lang="en", yellow=120.0, red=125.0)
    ax = fig.axes[0]
    assert list(_line(ax, "Mean").get_ydata()) == [101.0, 101.0]      # not mean(values) = 108.25
    assert list(_line(ax, "Control limits (3σ)").get_ydata()) == [112.0, 112.0]
    assert sorted(ln.get_ydata()[0] for ln in ax.lines if ln.get_linestyle() == ":") == [90.0, 112.0]
    ring = [c for c in ax.collections if c.get_label() == "Outside control limits"]
    assert len(ring) == 1 and ring[0].get_offsets().tolist() == [[3, 130.0]]   # only 130 > 112
    assert len(ax.patches) == 2                                               # yellow and red bands
    assert [t.get_text() for t in ax.get_xticklabels()] == list(df["period"])


def test_trend_chart_computes_spc_when_not_given_and_one_line_per_group():
    values = [0.03, 0.05, 0.04, 0.09]
    fig = plots.trend_chart(pd.DataFrame({"period": list("ABCD"), "value": values}), lang="zh", percent=True)
    ax = fig.axes[0]
    c, lcl, ucl = plots.spc_limits(values)
    assert _line(ax, "均值").get_ydata()[0] == pytest.approx(c)          # 0.0525
    assert _line(ax, "控制限（3σ）").get_ydata()[0] == pytest.approx(ucl)
    assert ax.get_xlabel() == "时期" and len(ax.patches) == 0                 # no thresholds: no bands
    grouped = pd.DataFrame({"period": ["A", "B"] * 3, "value": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                            "region": ["west", "west", "east", "east", "north", "north"]})
    ax = plots.trend_chart(grouped, group="region", lang="en").axes[0]
    # groups in sorted order take the palette in turn; no SPC lines for several series
    assert [ln.get_label() for ln in ax.lines] == ["east", "north", "west"]
    assert [ln.get_color() for ln in ax.lines] == PALETTE[:3]
    assert PALETTE[0] == OKABE_ITO["blue"]
