"""fedcost.reporting.panels: the report notebooks' shared tables (indicators, cost structure, privacy,
versions, status, suppression, data-quality notes) on a small hand-made study, counted by hand."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from fedcost import __version__
from fedcost.reporting import panels as P

sys.path.insert(0, str(Path(__file__).parent))
from report_helpers import small_study  # noqa: E402


@pytest.fixture(scope="module")
def study():
    return small_study()


def test_kpi_table_of_the_federation(study):
    k = P.kpi_table(study, "all", lang="en")
    assert list(k.columns) == ["Indicator", "2024", "2022–2024", "Target", "Status"]
    rows = {r[0]: list(r[1:]) for r in k.itertuples(index=False)}
    assert rows["Cases"] == ["1,100", "3,000", "–", "–"]
    assert rows["Per-case cost (yuan) (95% CI)"] == ["10,584 (10,384–10,784)", "10,000 (9,800–10,200)", "–", "–"]
    assert rows["Growth on previous year"] == ["+12.0%", "–", "≤ 8%", "Red alert"]        # 12% > 10% red
    assert rows["Drug share"] == ["32.0%", "31.0%", "≤ 30%", "above target"]             # 32% > 30%
    assert rows["Consumables share"] == ["18.0%", "15.0%", "≤ 20%", "within"]            # 18% <= 20%
    assert rows["Mean length of stay (days)"] == ["8.0", "8.0", "–", "–"]
    assert rows["Overspend rate"] == ["–", "25.0%", "≤ 7% (benchmark)", "above target"]   # 25% > 7%
    # a report's own thresholds: at 15% yellow / 20% red the 12% growth raises none
    g = P.kpi_table(study, "all", lang="en", growth_yellow=0.15, growth_red=0.20)
    assert g.iloc[2].tolist() == ["Growth on previous year", "+12.0%", "–", "≤ 15%", "No alert"]


def test_kpi_table_of_a_suppressed_region_in_chinese(study):
    k = P.kpi_table(study, "east", lang="zh")
    assert list(k.columns) == ["指标", "2024", "2022–2024", "目标", "状态"]
    for r in k.iloc[:6].itertuples(index=False):
        assert r[1] == "已抑制", r                                          # every cell of the year withheld
    assert k.iloc[0, 2] == "已抑制" and k.iloc[2, 4] == "–"                  # no status from a withheld number
    assert k.iloc[6, 0] == "超支率 ¹" and k.iloc[6, 2] == "25.0%"           # the federation's rate, footnoted


def test_structure_frame_is_long_with_the_withheld_groups_named(study):
    long, withheld = P.structure_frame(study, "all", "en")
    # released groups: the federation, the tertiary level, the west region; 7 components each
    assert sorted(set(long["group"])) == ["All hospitals", "Level: Tertiary", "Region: west"]
    assert len(long) == 3 * 7
    sums = long.groupby("group")["value"].sum()
    assert sums.to_dict() == pytest.approx({"All hospitals": 1.0, "Level: Tertiary": 1.0, "Region: west": 1.0})
    fed = long[long["group"] == "All hospitals"].set_index("component")["value"]
    assert fed["drug_cost"] == 0.31 and fed["nursing_cost"] == 0.10
    assert withheld == ["Level: Primary (suppressed)", "Level: Secondary (no records)", "Region: east (suppressed)"]
    # one region: the other regions are neither drawn nor listed as withheld
    long_w, withheld_w = P.structure_frame(study, "west", "zh")
    assert withheld_w == ["等级：一级（已抑制）", "等级：二级（无记录）"]          # east is not listed
    assert set(long_w["group"]) == {"全部医院", "等级：三级", "地区：西部"}          # region codes in Chinese


def test_suppressed_note():
    assert P.suppressed_note([], "en") == ""
    assert P.suppressed_note(["Region: east (suppressed)", "Level: Primary (suppressed)"], "en").startswith(
        "Not shown: Region: east (suppressed); Level: Primary (suppressed) (cells with fewer than 5 records")
    assert P.suppressed_note(["地区：东部（已抑制）"], "zh").startswith("未显示：地区：东部（已抑制）（少于 5 条记录")


def test_privacy_and_versions_tables(study, monkeypatch):
    p = dict(P.privacy_table(study, "en").itertuples(index=False))
    assert p["Hospitals taking part"] == "3" and p["Federated rounds"] == "7"
    assert p["Bytes sent by each hospital"] == "1,200–1,500"                 # min and max of 1200, 1500, 1350
    assert p["Coordinator held the public context only (no secret key)"] == "yes"
    assert p["Plaintext statistics sent to the coordinator"] == "no"
    assert p["Hospitals that refused"] == "none" and p["Ciphertexts checked"] == "42"
    refused = small_study()
    refused.run = {**refused.run, "refusals": {"H04": "invalid data", "H05": "wrong key"}}
    assert dict(P.privacy_table(refused, "zh").itertuples(index=False))["拒绝参与的医院"] == "H04, H05"

    import fedcost.paths
    monkeypatch.setattr(fedcost.paths, "git_commit", lambda: None)
    v = dict(P.versions_table(study, "en").itertuples(index=False))
    assert v["fedcost version of the run"] == "0.1.0 (0123456789abcdef)"
    assert v["Code version of this report (git)"] == __version__
    assert v["Data dictionary fingerprint"] == "ab" * 8 + "…"                # 64 characters cut to 16
    assert v["Data fingerprint H02"] == "e" * 16 + "…" and v["Study plan"] == "standard v1"
    assert v["Policy file version"] == "2024.1"
    bare = small_study()
    bare.run = {k: val for k, val in bare.run.items() if k != "data_fingerprints"}
    assert dict(P.versions_table(bare, "en").itertuples(index=False))["Hospital data fingerprints"] == \
        "not recorded by this run"


def test_status_table_counts_suppressed_cells_per_analysis(study):
    st = P.status_table(study, "en")
    assert list(st.columns) == ["Analysis", "Kind", "Status", "Rounds", "Suppressed cells", "Note"]
    counts = dict(zip(st["Analysis"], st["Suppressed cells"]))
    # by hand from report_helpers.small_study: region x year: east's 4 rows and west 2024 = 5; by level:
    # primary = 1; by region: east = 1; overall 0; warning_by_region: east's 2 trend rows; payment: BX99
    assert {a: int(counts[a]) for a in ("descriptive_overall", "descriptive_by_level", "descriptive_by_region",
                                        "descriptive_by_region_year", "warning_overall", "warning_by_region",
                                        "payment")} == {
        "descriptive_overall": 0, "descriptive_by_level": 1, "descriptive_by_region": 1,
        "descriptive_by_region_year": 5, "warning_overall": 0, "warning_by_region": 2, "payment": 1}
    # no table of theirs has a suppressed column: unknown, not 0
    assert all(counts[a] is pd.NA for a in ("cost_model", "benchmark", "cea"))
    assert st.loc[st["Analysis"] == "cost_model", "Status"].item() == "withheld"
    assert st.loc[st["Analysis"] == "cost_model", "Note"].item() == "fewer than 3 hospitals in a cell"
    assert P.status_table(study, "zh").loc[0, "状态"] == "已扣留"


def test_suppression_summary_and_quality_lines(study):
    sup = P.suppression_summary(study, "en")
    # (cells, suppressed) by hand: overall (1, 0), by region (3, 1), by level (4, 1), region x year (12, 5),
    # payment (4, 1), trends (7, 2): 31 cells, 10 suppressed
    assert {r.Table: (r.Cells, r.Suppressed) for r in sup.itertuples()} == {
        "descriptive_overall": (1, 0), "descriptive_by_region": (3, 1), "descriptive_by_level": (4, 1),
        "descriptive_by_region_year": (12, 5), "payment_gap": (4, 1), "trends": (7, 2)}
    q = P.quality_lines(study, "en")
    assert q.count("\n- ") == 3 and q.startswith("- **Validation.** All 3 hospitals")
    assert "10 of 31 table cells were suppressed" in q and "Analyses not released: cost_model." in q
    assert "Median cost 7,000 yuan (accurate to ±50 yuan), 90th percentile 19,000 yuan (±120 yuan)" in q
    zh = P.quality_lines(study, "zh")
    assert "10 / 31 个表格单元格" in zh and "未发布的分析：cost_model。" in zh
