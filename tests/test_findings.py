"""fedcost.reporting.findings: the regional report's headline findings (level, numbers, wording) and
their Markdown, on a small hand-made study whose numbers are checked by hand."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from fedcost.reporting import findings as F

sys.path.insert(0, str(Path(__file__).parent))
from report_helpers import small_study  # noqa: E402


@pytest.fixture(scope="module")
def study():
    return small_study()


def test_growth_above_the_red_line(study):
    f = F.finding_growth(study, "all", None, "en", 0.08, 0.10)
    # 2024: 10,584 yuan, growth 10584 / 9450 - 1 = 12.0% > 10% (red); 95% CI 10,584 -+ 200
    assert f.key == "growth" and f.level == "red"
    assert f.title == "Per-case cost 10,584 yuan in 2024, up 12.0% on 2023 (red alert)"
    assert "(95% CI 10,384–10,784 yuan)" in f.text and "8% (yellow) and 10% (red)" in f.text
    # quarters of 2024 with a growth alert: red in Q1 (growth and yoy: one quarter) and Q3, yellow in Q2;
    # the 2023Q4 red and the drug-share alert do not count
    assert "2 quarters raised a red and 1 a yellow" in f.text
    # the same study at a 15% red line and 12.5% yellow: no alert, but the quarters still pointed out
    calm = F.finding_growth(study, "all", None, "en", 0.125, 0.15)
    assert calm.level == "none" and "review the quarters and groups in the alert table" in calm.action
    # and the west region's yellow 2024Q1 alert is counted, so the title does not read as all clear
    assert calm.title.endswith("(no alert for all hospitals; 1 group alerts)")
    assert "0 red and 1 yellow growth alert were raised in 2024" in calm.text
    # 2023 (+5.0%) asked for by a report parameter, in Chinese
    zh = F.finding_growth(study, "all", "2023", "zh", 0.08, 0.10)
    assert zh.level == "none" and zh.title == "2023 年次均费用 9,450 元，较 2022 年增长 5.0%（无预警）"


def test_growth_of_a_suppressed_region_says_so(study):
    f = F.finding_growth(study, "east", None, "en", 0.08, 0.10)
    assert f.level == "info" and f.title == "Per-case cost in 2024: suppressed"
    assert "the east region" in f.text and "fewer than 5 records or 3 hospitals" in f.text
    assert "元" not in f.text and "yuan" not in f.text            # no number leaks from a withheld cell
    zh = F.finding_growth(study, "east", None, "zh", 0.08, 0.10)
    assert zh.title == "2024 年次均费用：已抑制" and "东部地区" in zh.text


def test_hospitals_outside_the_funnel(study):
    f = F.finding_hospitals(study, "en")
    assert f.level == "yellow" and f.title == "1 of 3 hospitals outside the funnel limits"
    assert "Hospital B (O/E 1.52, 95% CI 1.40–1.64)" in f.text and "range 0.85–1.52" in f.text
    assert "Hospital A (" not in f.text                            # within: not named
    assert "医院 B（实际/预期 1.52" in F.finding_hospitals(study, "zh").text
    calm = small_study()
    calm.tables["funnel"] = calm.tables["funnel"].assign(funnel_flag="within")
    c = F.finding_hospitals(calm, "en")
    # unadjusted, A (0.75) and B (1.30) are outside 0.8-1.2; adjusted only B (1.25)
    assert c.level == "none" and c.title == "All 3 hospitals within the funnel limits"
    assert "Unadjusted, 2 hospitals fall outside the 0.8–1.2 cost-difference band; adjusted, 1" in c.text


def test_payment_gap(study):
    g = F.payment_groups(study)
    assert g["drg_code"].tolist() == ["BR21", "BR23", "BX99"]     # the 'All' total left out
    # cost over standard by hand: 12000 / 10000 - 1 = +20%; 7600 / 8000 - 1 = -5%
    np.testing.assert_allclose(g["cost_over_standard"].iloc[:2], [0.20, -0.05], rtol=1e-12)
    f = F.finding_payment(study, "en")
    # released groups BR21 and BR23 (BX99 suppressed): paid 10000 x 40 + 8000 x 60 = 880,000 yuan, cost
    # 12000 x 40 + 7600 x 60 = 936,000 yuan: a deficit of 56,000 yuan = 6.4% of payments; 1 of 2 groups above its
    # standard, which is not systematic (80%), so yellow
    assert f.level == "yellow"
    assert f.title == ("DRG costs exceed payments by 56,000 yuan (6.4% of payments): 1 of 2 groups cost more than "
                       "their standard")
    assert "1 have a mean cost above their payment standard (by 20.0% to 20.0%)." in f.text
    assert "25.0% of cases cost more than their standard" in f.text and "province" not in f.text
    # the largest deficit: BR21 (80,000 yuan below cost; BR23 is 24,000 yuan in surplus)
    assert "largest deficit is in BR21: mean cost 12,000 yuan against a standard of 10,000 yuan (+20.0%)" in f.text
    # every released group above its standard: a systematic gap, red, and the action says recalibrate
    sys_ = small_study()
    sys_.tables["payment_gap"].loc[1, "mean_cost"] = 8800.0   # BR23 now +10%
    g2 = F.finding_payment(sys_, "en")
    assert g2.level == "red" and "a systematic gap" in g2.text and "calibration" in g2.action
    # cost 12000 x 40 + 8800 x 60 = 1,008,000 yuan against 880,000 paid: 128,000 = 14.5% of payments
    assert g2.title.startswith("DRG costs exceed payments by 128,000 yuan (14.5% of payments): 2 of 2 groups")
    none = small_study()
    none.tables["payment_gap"] = none.tables["payment_gap"].iloc[0:0]
    assert F.finding_payment(none, "en") is None


def test_cost_structure_against_the_caps(study):
    f = F.finding_structure(study, "all", None, "en")
    # 2024: drugs 32% > 30% cap, consumables 18% <= 20% cap
    assert f.level == "yellow" and f.title == "Drug share 32.0% and consumables share 18.0% in 2024"
    assert "caps are 30% and 20%" in f.text and "the drug share" in f.text and "the consumables share" not in f.text
    g = F.finding_structure(study, "all", "2023", "zh")         # 2023: 31% and 15%
    assert g.level == "yellow" and g.title == "2023 年药占比 31.0%，耗占比 15.0%"
    assert F.finding_structure(study, "east", None, "en") is None  # suppressed: nothing to say


def test_cost_effectiveness_at_the_run_and_a_reader_threshold(study):
    f = F.finding_cea(study, "en")
    assert f.level == "none" and f.title == "Combination therapy is cost-effective against standard therapy"
    # INMB = 287,247 x 0.25 - 2,500 = 69,311.75; the ICER 2,500 / 0.25 = 10,000
    assert "an ICER of 10,000 yuan per QALY (95% interval 5,000–20,000 yuan)" in f.text
    assert "net monetary benefit is 69,312 yuan" in f.text and "cost-effective 100%" in f.text
    # at 8,000 yuan per QALY the ICER of 10,000 is too dear; INMB = 8,000 x 0.25 - 2,500 = -500;
    # over the PSA draws (cost 1,000..4,000 at 0.25 QALY) only the first, 8000 x 0.25 - 1000 = 1000 > 0, is: 25%
    low = F.finding_cea(study, "en", wtp=8000)
    assert low.level == "yellow" and low.title == "Combination therapy is not cost-effective against standard therapy"
    assert "willingness to pay of 8,000 yuan" in low.text and "benefit is -500 yuan" in low.text
    assert "cost-effective 25%" in low.text
    assert F.cea_at(study, 8000)["inmb"] == pytest.approx(-500.0)
    assert F.finding_cea(small_study(with_cea=False), "en") is None


def test_a_dominant_strategy_saves_and_a_zero_effect_is_named():
    # cheaper and better: 400 yuan saved, 0.100 QALY gained; INMB = 287,247 x 0.1 + 400 = 29,124.7
    dom = F.finding_cea(small_study(cea={"delta_cost": -400.0, "delta_effect": 0.1, "icer": float("nan"),
                                         "quadrant": "SE", "decision": "dominant",
                                         "inmb": 287247.0 * 0.1 + 400.0}), "en")
    assert dom.title == "Combination therapy is dominant against standard therapy" and dom.level == "none"
    assert dom.text.startswith("It saves 400 yuan per patient and gains 0.100 QALYs")
    assert "-400" not in dom.text and "ICER" not in dom.text
    zh = F.finding_cea(small_study(cea={"delta_cost": -400.0, "delta_effect": 0.1, "icer": float("nan"),
                                        "decision": "dominant"}), "zh")
    assert zh.text.startswith("每例节省成本 400 元，增加 0.100 个质量调整生命年")
    # no difference in effect: 2,500 yuan dearer for 0 QALYs
    same = F.finding_cea(small_study(cea={"delta_effect": 0.0, "icer": float("nan"), "quadrant": "none",
                                          "decision": "no effect difference", "inmb": -2500.0}), "en")
    assert same.title == "Combination therapy is no different in effect from standard therapy"
    assert "costs 2,500 yuan more per patient and gains 0.000 QALYs" in same.text and same.level == "yellow"
    one = F.finding_cea(small_study(cea={"delta_effect": 1.0}), "en")
    assert "gains 1.000 QALY." in one.text or "gains 1.000 QALY:" in one.text


def test_headline_findings_and_their_markdown(study):
    found = F.headline_findings(study, "all", lang="en")
    assert [f.key for f in found] == ["growth", "hospitals", "payment", "structure", "cea"]
    md = F.findings_markdown(found, "en")
    lines = md.splitlines()
    # the first finding is a callout of its level (red -> important), the rest numbered from 2
    assert lines[0] == '::: {.callout-important title="Per-case cost 10,584 yuan in 2024, up 12.0% on 2023 (red alert)"}'
    assert lines[2] == ":::"
    assert [ln.split(". ", 1)[0] for ln in lines[4:]] == ["2", "3", "4", "5"]
    assert lines[4] == "2. " + found[1].markdown("en")
    assert found[1].markdown("en").startswith("**1 of 3 hospitals outside the funnel limits**. After")
    # thresholds passed by the report replace the policy's: at 20% / 30% growth of 12% raises no alert
    # the most severe first: at 20% / 30% growth of 12% raises no alert and goes behind the three yellow findings
    quiet = F.headline_findings(study, growth_yellow=0.2, growth_red=0.3, lang="zh")
    assert [f.key for f in quiet] == ["hospitals", "payment", "structure", "growth", "cea"]
    assert quiet[3].level == "none" and F.findings_markdown(quiet, "zh").startswith('::: {.callout-warning title=')
    assert F.findings_markdown([], "en") == "*The results hold no reportable findings.*\n"
    assert F.findings_markdown([], "zh") == "*结果中没有可报告的发现。*\n"


def _planted_view(alerts):
    from fedcost.reporting.view import StudyView

    return StudyView(run={}, analyses={}, tables={"alerts": alerts})


def test_every_planted_alert_of_the_year_is_listed_most_severe_first_and_nothing_else():
    import pandas as pd

    rows = [  # (analysis, group_column, group, period, indicator, value, threshold, level, planted in 2024?)
        ("warning_overall", "", "All", "2024Q2", "growth", 0.09, 0.08, "yellow", True),
        ("warning_by_level", "hospital_level", "tertiary", "2024Q3", "yoy_growth", 0.138, 0.10, "red", True),
        ("warning_by_region", "region", "east", "2024Q4", "yoy_growth", 0.175, 0.10, "red", True),
        ("warning_by_drg", "drg_code", "FC11", "2024", "historical", 1.41, 1.20, "alert", True),
        ("warning_by_level", "hospital_level", "tertiary", "2024", "consumable_share", 0.222, 0.20, "alert", True),
        ("warning_by_drg", "drg_code", "RU11", "2024", "drug_share", 0.44, 0.30, "alert", True),
        ("warning_by_drg", "drg_code", "GS11", "2024", "growth", 0.30, 0.10, "red", True),
        # not alerts of 2024: another year, an SPC signal (a chart, not an alert line)
        ("warning_by_drg", "drg_code", "GS11", "2023", "growth", 0.50, 0.10, "red", False),
        ("warning_overall", "", "All", "2024Q1", "spc", 10500.0, 10400.0, "signal", False),
    ]
    cols = ["analysis", "group_column", "group", "period", "indicator", "value", "threshold", "level", "planted"]
    frame = pd.DataFrame(rows, columns=cols)
    got = F.year_alerts(_planted_view(frame.drop(columns="planted")), "2024")
    planted = frame[frame["planted"]]
    assert sorted(map(tuple, got[["analysis", "group", "period", "indicator"]].values)) == \
        sorted(map(tuple, planted[["analysis", "group", "period", "indicator"]].values))
    # reds first, furthest over the line first: GS11 +200% of the line, east +75%, tertiary +38%;
    # then the values over a cap or their history: RU11 +46.7%, FC11 +17.5%, tertiary +11%; then yellow (+12.5%)
    assert list(got["group"]) == ["GS11", "east", "tertiary", "RU11", "FC11", "tertiary", "All"]
    table = F.alert_table(_planted_view(frame.drop(columns="planted")), "2024", lang="en")
    # DRG groups named from the installed dictionary (data_dictionary/codes/drg.csv), the run's version
    assert len(table) == 7 and table.iloc[0].tolist() == ["Red alert", "DRG group: GS11 Gastrointestinal bleeding",
                                                           "2024", "Growth on the previous period", "30.0%", "10%"]
    assert table.iloc[3, 0] == "Over its limit" and table.iloc[4].tolist()[3:] == [
        "Per-case cost against its history", "141%", "120%"]
    zh = F.alert_table(_planted_view(frame.drop(columns="planted")), "2024", lang="zh")
    assert zh.iloc[1].tolist()[:2] == ["红色预警", "地区：东部"] and zh.iloc[0, 1] == "DRG 组：GS11 消化道出血"
    # a run made with another dictionary version: its codes only, never another version's names
    from fedcost.reporting.view import StudyView
    other = StudyView(run={"dictionary_fingerprint": "0" * 64}, analyses={}, tables={"alerts": frame.drop(columns="planted")})
    assert F.alert_table(other, "2024", lang="en").iloc[0, 1] == "DRG group: GS11"
    # nothing planted, nothing listed
    assert len(F.year_alerts(_planted_view(frame[~frame["planted"]].drop(columns="planted")), "2024")) == 0


def test_the_shares_headline_names_groups_over_a_cap_even_when_the_total_is_within(study):
    import pandas as pd

    from fedcost.reporting.view import StudyView

    over = pd.DataFrame({"analysis": ["warning_by_level"], "group_column": ["hospital_level"], "group": ["tertiary"],
                         "period": ["2023"], "indicator": ["consumable_share"], "value": [0.222],
                         "threshold": [0.20], "level": ["alert"]})
    tables = {**study.tables, "alerts": pd.concat([study.tables["alerts"], over], ignore_index=True)}
    view = StudyView(run=study.run, analyses=study.analyses, specs=study.specs, plan=study.plan, tables=tables)
    f = F.finding_structure(view, "all", "2023", "en")  # 2023 in total: drugs 31% (over 30%), consumables 15%
    assert "1 value by hospital level, region or DRG group is over a cap (Hospital level: Tertiary 22.2%" in f.text
    calm = F.finding_structure(study, "all", "2023", "en")
    assert "no hospital level, region or DRG group is over a cap" in calm.text
