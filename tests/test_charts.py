"""fedcost.reporting.charts: what each cost figure draws (bars, points, lines, labels) and that colours
do not change with the language. Figures are built, never rendered, so no font is needed."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from fedcost.reporting import charts
from fedcost.reporting.theme import COMPONENT_COLOURS, COMPONENTS, HIGH, LOW, OKABE_ITO, PALETTE


def _legend_texts(fig):
    ax = fig.axes[0]
    legends = list(fig.legends) + ([ax.get_legend()] if ax.get_legend() else [])
    return [t.get_text() for leg in legends for t in leg.get_texts()]


def test_coefficient_chart_pairs_raw_and_adjusted_in_name_order():
    hc = pd.DataFrame({"hospital": ["Hospital C", "Hospital A", "Hospital B"],
                       "cost_coefficient": [1.00, 0.75, 1.30], "adjusted_coefficient": [1.00, 0.90, 1.25]})
    ax = charts.coefficient_chart(hc, lang="en").axes[0]
    # name order, top to bottom (A at y = 2): a pseudonym's position says nothing about its cost
    pos = dict(zip([t.get_text() for t in ax.get_yticklabels()], ax.get_yticks()))
    assert pos == {"Hospital A": 2, "Hospital B": 1, "Hospital C": 0}
    raw, adj = ax.collections
    assert raw.get_label() == "Unadjusted" and adj.get_label() == "Case-mix adjusted"
    assert raw.get_offsets().tolist() == [[0.75, 2], [1.30, 1], [1.00, 0]]
    assert adj.get_offsets().tolist() == [[0.90, 2], [1.25, 1], [1.00, 0]]
    assert tuple(adj.get_facecolor()[0]) == to_rgba(OKABE_ITO["blue"])
    # x range: min(0.8, 0.75) - 0.05 = 0.70 to max(1.2, 1.30) + 0.05 = 1.35
    assert ax.get_xlim() == pytest.approx((0.70, 1.35))
    assert len(ax.lines) == 3 + 1                      # a segment per hospital and the line at 1.0
    zh = charts.coefficient_chart(hc, lang="zh", band=(0.9, 1.1))
    assert zh.axes[0].get_xlabel() == "费用差异系数" and "合理区间 0.9–1.1" in _legend_texts(zh)


def test_coef_plot_shows_cost_ratios_without_the_intercept():
    coefs = pd.DataFrame({"term": ["Intercept", "age", "C(drg_code)[T.BR23]"], "coef": [8.6, 0.01, -0.3],
                          "ci_lower": [8.4, 0.005, -0.46], "ci_upper": [8.8, 0.015, -0.13]})
    ax = charts.coef_plot(coefs, lang="en").axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["drg_code = BR23", "age"]   # reversed, pretty
    points = ax.lines[0]                               # the errorbar markers
    np.testing.assert_allclose(np.asarray(points.get_xdata(), float), np.exp([-0.3, 0.01]))
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "Cost ratio exp(coefficient), log scale"
    assert charts.coef_plot(coefs, lang="zh").axes[0].get_xlabel() == "成本比（对数刻度）"
    assert charts.pretty_term("C(hospital_level)[T.tertiary]") == "hospital_level = tertiary"
    assert charts.pretty_term("age:los") == "age:los"


def _structure():
    # costs in yuan; H01 = 600 + 300 + 100 = 1000, H02 = 200 + 200 + 600 = 1000 (shares by hand below)
    return pd.DataFrame({"hospital": ["H01"] * 3 + ["H02"] * 3,
                         "component": ["other_cost", "drugs", "consumable_cost"] * 2,   # 'drugs': an alias
                         "value": [100.0, 600.0, 300.0, 600.0, 200.0, 200.0]})


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_cost_structure_bars_are_shares_in_dictionary_order_and_fixed_colours(lang):
    fig = charts.cost_structure_bars(_structure(), lang=lang)
    ax = fig.axes[0]
    assert len(ax.containers) == 3 and sum(len(c) for c in ax.containers) == 3 * 2   # components x hospitals
    # stacked in the dictionary's order: drugs, consumables, other; each keeps its colour in any language
    keys = ["drug_cost", "consumable_cost", "other_cost"]
    assert [COMPONENTS.index(k) for k in keys] == sorted(COMPONENTS.index(k) for k in keys)
    for cont, key in zip(ax.containers, keys):
        assert all(tuple(bar.get_facecolor()) == to_rgba(COMPONENT_COLOURS[key]) for bar in cont)
    # groups bottom-up are reversed (H02 at y 0, H01 at y 1); widths are the shares
    widths = np.array([[bar.get_width() for bar in cont] for cont in ax.containers])
    np.testing.assert_allclose(widths, [[0.2, 0.6], [0.2, 0.3], [0.6, 0.1]])       # rows: drugs, cons., other
    np.testing.assert_allclose(widths.sum(axis=0), 1.0)
    # segments of at least 6% carry their percentage: all six here (smallest 10%)
    assert sorted(t.get_text() for t in ax.texts) == sorted(["20%", "60%", "20%", "30%", "60%", "10%"])
    want = {"en": (["Drugs", "Consumables", "Other"], "Share of cost", "Hospital"),
            "zh": (["药品", "耗材", "其他"], "费用占比", "医院")}[lang]
    assert _legend_texts(fig) == want[0] and ax.get_xlabel() == want[1] and ax.get_ylabel() == want[2]


def test_cost_structure_bars_in_yuan():
    ax = charts.cost_structure_bars(_structure(), lang="en", normalize=False).axes[0]
    widths = [[bar.get_width() for bar in cont] for cont in ax.containers]
    assert widths == [[200.0, 600.0], [200.0, 300.0], [600.0, 100.0]]
    assert ax.get_xlabel() == "Per-case cost (yuan)" and len(ax.texts) == 0


def test_payment_gap_bars_keep_the_largest_gaps_with_sign_colours():
    df = pd.DataFrame({"drg_code": ["A", "B", "C", "D"], "payment_standard": [100.0, 100.0, 200.0, 50.0],
                       "mean_cost": [130.0, 95.0, 140.0, 51.0]})
    # gaps by hand: A +30%, B -5%, C -30%, D +2%; keep the 3 largest |gap|: A, C, B; sorted by gap
    ax = charts.payment_gap_bars(df, lang="en", max_groups=3).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C", "B", "A"]
    bars = ax.containers[0]
    np.testing.assert_allclose([b.get_width() for b in bars], [-0.30, -0.05, 0.30])
    assert [tuple(b.get_facecolor()) for b in bars] == [to_rgba(LOW), to_rgba(LOW), to_rgba(HIGH)]
    assert [t.get_text() for t in ax.texts] == ["-30%", "-5%", "+30%"]
    # a ready-made gap column is taken as it is
    g = charts.payment_gap_bars(pd.DataFrame({"drg_code": ["X", "Y"], "gap": [0.1, -0.2]}), gap="gap", lang="zh")
    assert [b.get_width() for b in g.axes[0].containers[0]] == [-0.2, 0.1]
    assert g.axes[0].get_legend().get_texts()[0].get_text() == "超支"


def test_ce_plane_draws_the_threshold_line_and_the_mean():
    psa = pd.DataFrame({"d_effect": [0.1, 0.2, 0.3, 0.4], "d_cost": [1000.0, 3000.0, 2000.0, 6000.0]})
    ax = charts.ce_plane(psa, lang="en", wtp=10000).axes[0]
    draws, mean = ax.collections
    assert draws.get_offsets().tolist() == psa[["d_effect", "d_cost"]].values.tolist()
    assert mean.get_offsets().tolist() == [[0.25, 3000.0]]            # (mean dE, mean dC) by hand
    line = [ln for ln in ax.lines if ln.get_label().startswith("Willingness-to-pay threshold")]
    assert len(line) == 1 and line[0].get_label() == "Willingness-to-pay threshold: 10,000"
    np.testing.assert_allclose(line[0].get_ydata(), 10000 * np.asarray(line[0].get_xdata()))
    assert ax.get_xlabel() == "Incremental QALYs" and ax.get_ylabel() == "Incremental cost (yuan)"


def test_ceac_marks_the_probability_at_the_threshold():
    df = pd.DataFrame({"wtp": [0.0, 50000.0, 100000.0] * 2, "prob": [0.1, 0.5, 0.9, 0.0, 0.2, 0.4],
                       "strategy": ["combo"] * 3 + ["mono"] * 3})
    ax = charts.ceac(df, lang="en", strategy="strategy", threshold=75000).axes[0]
    curves = [ln for ln in ax.lines if ln.get_label() in ("combo", "mono")]
    assert [c.get_color() for c in curves] == PALETTE[:2]
    # linear interpolation at 75,000: combo (0.5 + 0.9) / 2 = 0.7, mono (0.2 + 0.4) / 2 = 0.3
    assert [t.get_text() for t in ax.texts] == ["70%", "30%"]
    assert ax.get_ylabel() == "Probability cost-effective" and ax.get_ylim() == pytest.approx((-0.02, 1.02))
