"""The figure theme, the standard figures, labels, tables and font discovery (no kernel, fast)."""
from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from fedcost.reporting import charts, fonts, i18n, plots, tables, theme


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    return buf.getvalue()


def _texts(fig: Figure) -> list[str]:
    ax = fig.axes[0]
    out = [t.get_text() for t in ax.texts] + [ax.get_xlabel(), ax.get_ylabel()]
    for leg in fig.legends + ([ax.get_legend()] if ax.get_legend() else []):
        out += [t.get_text() for t in leg.get_texts()]
    return out


@pytest.fixture
def funnel_df():
    rng = np.random.default_rng(1)
    n = rng.integers(200, 3000, 15)
    oe = np.exp(rng.normal(0, 0.3 / np.sqrt(n)) * 0.5)
    oe[2], oe[7] = 1.3, 0.75
    return pd.DataFrame({"hospital": [f"H{i:02d}" for i in range(1, 16)], "n": n, "oe": oe})


def _all_figures(lang, funnel_df):
    rng = np.random.default_rng(2)
    trend = pd.DataFrame({"period": [f"2025-{m:02d}" for m in range(1, 13)],
                          "value": [0.03, 0.05, 0.04, 0.06, 0.07, 0.05, 0.09, 0.06, 0.05, 0.20, 0.07, 0.04]})
    comp = pd.DataFrame([{"hospital": h, "component": c, "value": v}
                         for h in ("H01", "H02") for c, v in zip(theme.COMPONENTS, rng.uniform(1, 5, 7))])
    gaps = pd.DataFrame({"drg_code": ["A1", "B2", "C3"], "payment_standard": [1000.0, 2000.0, 3000.0],
                         "mean_cost": [1200.0, 1800.0, 3000.0]})
    psa = pd.DataFrame({"d_effect": rng.normal(0.4, 0.2, 300), "d_cost": rng.normal(90000, 30000, 300)})
    return {
        "funnel": plots.funnel_plot(funnel_df, lang=lang, sigma=0.3),
        "trend": plots.trend_chart(trend, lang=lang, yellow=0.08, red=0.10, percent=True),
        "structure": charts.cost_structure_bars(comp, lang=lang),
        "gaps": charts.payment_gap_bars(gaps, lang=lang),
        "ce": charts.ce_plane(psa, lang=lang, wtp=287247),
        "ceac": charts.ceac(charts.ceac_from_psa(psa, np.linspace(0, 600000, 13)), lang=lang, threshold=287247),
    }


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_figure_draws_in_both_languages_without_missing_glyphs(lang, funnel_df):
    if lang == "zh" and fonts.find_cjk_font() is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk)")
    theme.apply_theme(lang)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figs = _all_figures(lang, funnel_df)
        for fig in figs.values():
            assert isinstance(fig, Figure)
            assert _png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
    glyphs = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert not glyphs, glyphs[:3]
    if lang == "zh":
        assert theme.font_stack("zh")[0] == fonts.find_cjk_font().family
        assert any("控制限" in s for s in _texts(figs["funnel"]))
    else:
        assert "Observed / expected cost" in _texts(figs["funnel"])


def test_theme_is_colour_blind_safe_and_a4_sized():
    import matplotlib
    theme.apply_theme("en")
    assert matplotlib.rcParams["figure.figsize"] == [theme.FIG_WIDTH, theme.FIG_HEIGHT]
    colours = [c.upper() for c in matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]]
    assert colours[:3] == ["#0072B2", "#E69F00", "#009E73"]
    assert matplotlib.rcParams["svg.fonttype"] == "path"


def test_funnel_labels_only_the_outliers(funnel_df):
    theme.apply_theme("en")
    fig = plots.funnel_plot(funnel_df, sigma=0.3, lang="en")
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert sorted(labels) == ["H03", "H08"]


def test_funnel_limits_narrow_with_more_cases():
    lo, hi = plots.funnel_limits([100, 10000], sigma=0.3, z=1.96)
    assert hi[0] > hi[1] > 1 > lo[1] > lo[0]
    assert np.allclose(np.log(hi), -np.log(lo))
    assert np.isclose(np.log(hi[0]), 1.96 * 0.3 / 10)


def test_spc_limits_individuals_chart():
    c, lcl, ucl = plots.spc_limits([1.0, 2.0, 1.0, 2.0])
    assert c == 1.5 and np.isclose(ucl - c, 2.66) and np.isclose(c - lcl, 2.66)


def test_trend_rings_points_outside_control_limits():
    theme.apply_theme("en")
    df = pd.DataFrame({"period": list("ABCDEFGHIJ"), "value": [1, 1.1, 0.9, 1, 1.05, 0.95, 1, 1.02, 0.98, 3.0]})
    fig = plots.trend_chart(df, yellow=2, red=2.5)
    assert "Outside control limits" in _texts(fig)


def test_ceac_from_psa_is_a_probability_that_rises_with_wtp():
    psa = pd.DataFrame({"d_effect": [1.0, 1.0, 1.0, 1.0], "d_cost": [100.0, 200.0, 300.0, 400.0]})
    c = charts.ceac_from_psa(psa, [0, 150, 250, 1000])
    assert c["prob"].tolist() == [0.0, 0.25, 0.5, 1.0]


def test_helpers_name_missing_columns():
    with pytest.raises(ValueError, match=r"oe"):
        plots.funnel_plot(pd.DataFrame({"hospital": ["a"], "n": [10]}))


def test_payment_gaps_sorted_with_sign_colours():
    theme.apply_theme("en")
    df = pd.DataFrame({"drg_code": ["A", "B", "C"], "payment_standard": [100.0, 100.0, 100.0],
                       "mean_cost": [120.0, 90.0, 105.0]})
    fig = charts.payment_gap_bars(df)
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert ticks == ["B", "C", "A"]


def test_labels_exist_in_both_languages():
    for key, entry in i18n.LABELS.items():
        assert entry.get("en") and entry.get("zh"), key
    assert i18n.t("per_case_cost", "zh") == "次均费用"
    assert i18n.t("per_case_cost", "zh-CN") == "次均费用"
    assert i18n.t("drugs", "zh") == "药品"               # alias
    assert i18n.t("not-a-label", "zh") == "not-a-label"  # data values pass through
    assert i18n.Labels("zh").drug_share == "药占比"
    assert i18n.fmt_yuan(12345.6, lang="zh") == "12,346 元"
    assert i18n.fmt_pct(0.0834, signed=True) == "+8.3%"


def test_markdown_table_aligns_numbers_right_and_translates_headers():
    df = pd.DataFrame({"hospital": ["H01", "H02"], "cases": [1200, 15], "drug_share": ["27.4%", "31.0%"]})
    md = tables.markdown_table(df, lang="zh")
    lines = md.splitlines()
    assert lines[0] == "| 医院 | 病例数 | 药占比 |"
    assert lines[1] == "|:--|--:|--:|"
    assert "| H01 | 1,200 | 27.4% |" in md


def test_dataframe_html_becomes_a_table_without_the_default_index():
    df = pd.DataFrame({"parameter": ["a", "b"], "mean_cost": [21500.0, 2.0]})
    md = tables.html_table_to_markdown(df.to_html())
    assert md.splitlines()[0] == "| parameter | Mean cost (yuan) |"
    assert "| a | 21,500.0 |" in md
    assert tables.html_table_to_markdown(df.to_html(), lang="zh").splitlines()[0] == "| parameter | 平均成本（元） |"


def test_cjk_font_found_or_clear_message(monkeypatch):
    found = fonts.find_cjk_font()
    if found is not None:
        assert found.path.is_file() and found.family
    monkeypatch.setattr(fonts, "find_cjk_font", lambda: None)
    with pytest.raises(fonts.MissingFontError, match="fonts-noto-cjk"):
        fonts.require_cjk_font()


def test_funnel_takes_the_benchmark_analysis_limits_and_flags():
    theme.apply_theme("en")
    grid = np.geomspace(10, 1000, 20)
    curve = pd.DataFrame({"precision": grid, "lower95": 1 - 1.96 / np.sqrt(grid), "upper95": 1 + 1.96 / np.sqrt(grid),
                          "lower998": 1 - 3.09 / np.sqrt(grid), "upper998": 1 + 3.09 / np.sqrt(grid)})
    sites = pd.DataFrame({"site": ["S1", "S2", "S3"], "precision": [50.0, 200.0, 800.0], "oe": [1.9, 1.0, 0.8],
                          "funnel_flag": ["alarm_high", "within", "alarm_low"]})
    fig = plots.funnel_plot(sites, x="precision", limits=curve, flag="funnel_flag", lang="en")
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["S1", "S3"]
