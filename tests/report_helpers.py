"""Helpers the report tests share (not a test module: pytest does not collect it).

- ``REPORTS`` and ``make_results``: the four report notebooks and a real results folder made by
  ``fedcost run`` (used by test_notebooks.py and test_reports_end_to_end.py; ~20 s, once per session).
- ``small_study``: a hand-made ``StudyView`` in memory, with round numbers a test can check by hand
  (used by the fast tests of ``fedcost.reporting.view``, ``findings`` and ``panels``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fedcost.paths import PROJECT_ROOT

REPORTS = ["regional_cost_report", "hospital_benchmarking", "cost_model", "cost_effectiveness"]


def make_results(base: Path) -> tuple[Path, Path]:
    """4 synthetic hospitals x 800 records through the standard plan (engine local): (data, results).
    Made once per test session, in a folder both report test files share."""
    data, results = base / "data", base / "results"
    if not (results / "manifest.json").is_file():
        from fedcost.cli import main
        from fedcost.data.synth import write
        write(data, 4, 800, 11)
        files = [str(p) for p in sorted(data.glob("H*.csv"))]
        code = main(["run", str(PROJECT_ROOT / "plans" / "standard.toml"), "--data", *files, "--out", str(results),
                     "--engine", "local", "--quiet"])
        assert code == 0, "fedcost run failed"
    return data, results


# ------------------------------------------------------------------ a small study in memory
POLICY = {
    "path": None, "version": "2024.1",
    "disclosure": {"min_hospitals": 3, "min_cell_records": 5},
    "alerts": {"growth_yellow": 0.08, "growth_red": 0.10, "drug_share_max": 0.30, "consumable_share_max": 0.20},
    "benchmark": {"cost_coefficient_band": [0.8, 1.2]},
    "cost_effectiveness": {"gdp_per_capita": 95749, "wtp_multiple": 3},
}
SHARES = {"share_drugs": 0.31, "share_consumables": 0.15, "share_exams": 0.20, "share_procedures": 0.10,
          "share_nursing_bed": 0.10, "share_labour": 0.09, "share_other": 0.05}   # sum 1.00


def _desc(n, cost_mean, *, suppressed=False, shares=None, los=8.0, **extra) -> dict:
    """One descriptive row as the descriptive kind writes it (a suppressed row keeps only its keys)."""
    if suppressed:
        return {**extra, "n": pd.NA, "hospitals": pd.NA, "cost_mean": np.nan, "cost_mean_lower95": np.nan,
                "cost_mean_upper95": np.nan, "los_mean": np.nan, **{k: np.nan for k in SHARES},
                "cost_median": np.nan, "cost_median_accuracy": np.nan, "cost_p90": np.nan,
                "cost_p90_accuracy": np.nan, "suppressed": True, "suppression": "primary"}
    return {**extra, "n": n, "hospitals": 3, "cost_mean": cost_mean, "cost_mean_lower95": cost_mean - 200.0,
            "cost_mean_upper95": cost_mean + 200.0, "los_mean": los, **(shares or SHARES),
            "cost_median": 7000.0, "cost_median_accuracy": 50.0, "cost_p90": 19000.0, "cost_p90_accuracy": 120.0,
            "suppressed": False, "suppression": ""}


def small_study(*, policy: dict | None = POLICY, with_cea: bool = True, cea: dict | None = None):
    """A ``StudyView`` of 3 hospitals and the years 2022-2024, built from hand-chosen numbers:

    - all hospitals: per-case cost 9,000 -> 9,450 (+5.0%) -> 10,584 (+12.0%, above the 10% red line);
      2024 drug share 32% (cap 30%), consumables 18% (cap 20%); whole period 3,000 cases, 10,000 yuan
    - region 'west' released for 2022 and 2023, suppressed in 2024; region 'east' suppressed every year
    - funnel: Hospital B above the 99.8% limit (O/E 1.52), A and C within
    - payment: BR21 12,000 against 10,000 (+20%), BR23 7,600 against 8,000, BX99 suppressed; 25% overspend
    - CEA: combination vs standard, dC 2,500, dE 0.25 QALY (ICER 10,000), at 3 x 95,749 = 287,247 per QALY
    - the plan's cost model was withheld
    """
    from fedcost.reporting.view import StudyView

    sh24 = {**SHARES, "share_drugs": 0.32, "share_consumables": 0.18, "share_other": 0.04}
    ry = pd.DataFrame([  # out of period order on purpose: annual() sorts
        _desc(1100, 10584.0, shares=sh24, region="All", period="2024", growth=0.12),
        _desc(950, 9000.0, region="All", period="2022", growth=np.nan),
        _desc(950, 9450.0, region="All", period="2023", growth=0.05),
        _desc(3000, 10000.0, region="All", period="All", growth=np.nan),
        _desc(0, 0, suppressed=True, region="west", period="2024", growth=np.nan),
        _desc(500, 8800.0, region="west", period="2022", growth=np.nan),
        _desc(520, 9680.0, region="west", period="2023", growth=0.10),
        _desc(1700, 9300.0, region="west", period="All", growth=np.nan),
        *[_desc(0, 0, suppressed=True, region="east", period=p, growth=np.nan) for p in ("2022", "2023", "2024", "All")],
    ])
    overall = pd.DataFrame([_desc(3000, 10000.0)])
    by_region = pd.DataFrame([_desc(0, 0, suppressed=True, region="east"), _desc(1700, 9300.0, region="west"),
                              _desc(3000, 10000.0, region="All")])
    by_level = pd.DataFrame([_desc(0, 0, suppressed=True, hospital_level="primary"),
                             {**_desc(0, 0, hospital_level="secondary"), "n": 0},
                             _desc(2500, 10400.0, hospital_level="tertiary"),
                             _desc(3000, 10000.0, hospital_level="All")])
    funnel = pd.DataFrame({
        "analysis": "benchmark", "hospital": ["Hospital A", "Hospital B", "Hospital C"], "n": [1000, 900, 1100],
        "oe": [0.85, 1.52, 1.00], "oe_lower95": [0.80, 1.40, 0.95], "oe_upper95": [0.90, 1.64, 1.05],
        "funnel_flag": ["within", "alarm_high", "within"]})
    hospital_costs = pd.DataFrame({
        "analysis": "benchmark", "hospital": ["Hospital A", "Hospital B", "Hospital C"],
        "cost_coefficient": [0.75, 1.30, 1.00], "cost_coefficient_flag": ["low", "high", "within"],
        "adjusted_coefficient": [0.90, 1.25, 1.00], "adjusted_coefficient_flag": ["within", "high", "within"]})
    payment = pd.DataFrame({
        "analysis": "payment", "drg_code": ["BR21", "BR23", "BX99", "All"], "n": [40, 60, pd.NA, 100],
        "payment_standard": [10000.0, 8000.0, np.nan, np.nan], "mean_cost": [12000.0, 7600.0, np.nan, np.nan],
        "overspend_rate": [0.40, 0.15, np.nan, 0.25], "overspend_amount": [90000.0, 20000.0, np.nan, 110000.0],
        "overspend_ratio": [0.20, 0.04, np.nan, 0.06], "suppressed": [False, False, True, False]})
    trends = pd.DataFrame({
        "analysis": ["warning_overall"] * 3 + ["warning_by_region"] * 4,
        "group": ["All"] * 3 + ["west", "west", "east", "east"],
        "period": ["2024Q1", "2024Q2", "2024Q3", "2024Q1", "2024Q2", "2024Q1", "2024Q2"],
        "per_case_cost": [10400.0, 10600.0, 10700.0, 9700.0, 9800.0, np.nan, np.nan],
        "suppressed": [False, False, False, False, False, True, True]})
    spc = pd.DataFrame({"analysis": ["warning_overall"] * 2 + ["warning_by_region"] * 2,
                        "group": ["All", "All", "west", "east"], "period": ["2024Q1", "2024Q2", "2024Q1", "2024Q1"],
                        "value": [10400.0, 10600.0, 9700.0, np.nan]})
    alerts = pd.DataFrame({
        "analysis": ["warning_overall"] * 6 + ["warning_by_region"],
        "group": ["All"] * 6 + ["west"],
        "period": ["2023Q4", "2024Q1", "2024Q1", "2024Q2", "2024Q3", "2024Q1", "2024Q1"],
        "group_column": [""] * 6 + ["region"],
        "indicator": ["growth", "growth", "yoy_growth", "growth", "growth", "drug_share", "growth"],
        "value": [0.11, 0.13, 0.105, 0.09, 0.12, 0.32, 0.085],
        "threshold": [0.10, 0.10, 0.10, 0.08, 0.10, 0.30, 0.08],
        "level": ["red", "red", "red", "yellow", "red", "alert", "yellow"]})
    kpi = pd.DataFrame({"metric": ["admissions", "per_case_cost", "overspend_rate"], "value": [3000.0, 10000.0, 0.25],
                        "unit": ["cases", "yuan", "fraction"], "analysis": "x", "description": ""})
    analyses = ["cost_model", "descriptive_overall", "descriptive_by_level", "descriptive_by_region",
                "descriptive_by_region_year", "benchmark", "warning_overall", "warning_by_region", "payment", "cea"]
    kinds = ["glm", "descriptive", "descriptive", "descriptive", "descriptive", "benchmark", "warning", "warning",
             "payment", "cea"]
    status = pd.DataFrame({"analysis": analyses, "kind": kinds,
                           "status": ["withheld"] + ["released"] * 9, "rounds": [3, 2, 2, 2, 3, 6, 2, 2, 1, 2],
                           "reason": ["fewer than 3 hospitals in a cell"] + [""] * 9})
    tables = {"descriptive_overall": overall, "descriptive_by_region": by_region, "descriptive_by_level": by_level,
              "descriptive_by_region_year": ry, "funnel": funnel, "hospital_costs": hospital_costs,
              "payment_gap": payment, "trends": trends, "spc": spc, "alerts": alerts, "kpi": kpi, "status": status}
    if with_cea:
        tables["cea_incremental"] = pd.DataFrame([{
            "analysis": "cea", "intervention": "combination", "comparator": "standard",
            "delta_cost": 2500.0, "delta_effect": 0.25, "se_delta_cost": 1000.0, "se_delta_effect": 0.04,
            "cov_delta": 0.0, "icer": 10000.0, "quadrant": "NE", "decision": "cost-effective", "wtp": 287247.0,
            "inmb": 287247.0 * 0.25 - 2500.0, "se_inmb": 11533.0, "inmb_lower95": 46706.0, "inmb_upper95": 91917.0,
            "prob_cost_effective_psa": 1.0, "prob_cost_effective_normal": 1.0, "icer_lower95": 5000.0,
            "icer_upper95": 20000.0, **(cea or {})}])
        tables["ce_plane"] = pd.DataFrame({"analysis": "cea", "draw": [0, 1, 2, 3],
                                           "delta_cost": [1000.0, 2000.0, 3000.0, 4000.0],
                                           "delta_effect": [0.25, 0.25, 0.25, 0.25]})
    run = {"engine": "local", "dictionary_version": "1.1.0", "dictionary_fingerprint": "ab" * 32,
           "fedcost_version": "0.1.0", "git_sha": "0123456789abcdef", "hospitals": ["H01", "H02", "H03"],
           "hospital_labels": ["H01", "H02", "H03"], "refusals": {}, "total_rounds": 7, "seconds": 3.25,
           "created": "2025-01-02T03:04:05Z", "data_fingerprints": {"H01": "f" * 64, "H02": "e" * 64, "H03": "d" * 64},
           "privacy": {"server_public_context_only": True, "plaintext_statistics_sent_to_server": False,
                       "bytes_from_each_hospital": {"H01": 1200, "H02": 1500, "H03": 1350},
                       "ciphertexts_checked": 42, "key_fingerprint": "92da ff60"},
           "policy": policy}
    entries = {a: {"kind": k, "status": s, "rounds": r, "reason": why, "result": {} if s == "released" else None}
               for a, k, s, r, why in zip(analyses, kinds, status["status"], status["rounds"], status["reason"])}
    specs = {"warning_overall": {"kind": "warning", "thresholds": {"growth_yellow": 0.07, "growth_red": 0.09}}}
    plan = {"plan": {"name": "standard", "version": "1"}}
    return StudyView(run=run, analyses=entries, specs=specs, plan=plan, tables=tables,
                     descriptions={n: "" for n in tables})
