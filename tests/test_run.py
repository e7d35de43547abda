"""`fedcost run PLAN`: tidy tables (CSV + Parquet), results.json and manifest.json."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fedcost.results.folder import read_results, read_tables
from fedcost.cli import main

ROOT = Path(__file__).resolve().parents[1]
STANDARD = ROOT / "plans" / "standard.toml"

EXPECTED = {
    "kpi": ["metric", "value", "unit", "analysis", "description"],
    "status": ["analysis", "kind", "status", "rounds", "reason"],
    "glm_coefficients": ["analysis", "term", "coef", "se", "z", "p_value", "ci_lower", "ci_upper", "exp_coef"],
    "models": ["analysis", "formula", "family", "link", "n", "hospitals", "dispersion", "deviance", "iterations",
               "converged"],
    "funnel": ["analysis", "hospital", "n", "observed_mean", "expected_mean", "oe", "se", "oe_lower95", "oe_upper95",
               "precision", "z", "z_adjusted", "limit95_lower", "limit95_upper", "limit998_lower", "limit998_upper",
               "funnel_flag"],
    "funnel_curve": ["analysis", "precision", "lower95", "upper95", "lower998", "upper998"],
    "hospital_costs": ["analysis", "hospital", "n", "per_case_cost", "cmi", "cost_per_weighted_case",
                       "cost_coefficient", "cost_coefficient_flag", "adjusted_coefficient", "adjusted_coefficient_flag"],
    "drg_weights": ["analysis", "drg_code", "n", "hospitals", "mean_cost", "trim_lower", "trim_upper",
                    "trim_bound_accuracy", "n_trimmed", "trimmed_mean", "relative_weight", "suppressed", "suppression"],
    "trends": ["analysis", "group_column", "group", "period", "n", "hospitals", "per_case_cost", "growth",
               "yoy_growth", "historical_mean", "historical_ratio", "drug_share", "consumable_share", "suppressed"],
    "alerts": ["analysis", "group_column", "group", "period", "indicator", "value", "threshold", "level", "message"],
    "spc": ["analysis", "group_column", "group", "period", "value", "centre", "moving_range", "mr_bar", "lcl", "ucl",
            "beyond_limits", "run_signal"],
    "payment_gap": ["analysis", "drg_code", "n", "hospitals", "payment_standard", "mean_cost", "gap", "gap_ratio",
                    "overspend_cases", "overspend_rate", "overspend_amount", "payment_total", "cost_total",
                    "overspend_ratio", "surplus", "suppressed", "suppression"],
    "cea_summary": ["analysis", "strategy", "role", "n", "mean_cost", "mean_effect", "sd_cost", "sd_effect",
                    "cov_cost_effect", "se_mean_cost", "se_mean_effect", "hospitals"],
    "ceac": ["analysis", "wtp", "probability_psa", "probability_normal", "inmb"],
    "ce_plane": ["analysis", "draw", "delta_cost", "delta_effect"],
}
DESCRIPTIVE = ["n", "hospitals", "cost_sum", "cost_mean", "cost_sd", "los_mean", "los_sd", "share_drugs",
               "share_consumables", "share_exams", "share_procedures", "share_nursing_bed", "share_labour",
               "share_other", "cost_median", "cost_median_accuracy", "cost_p90", "cost_p90_accuracy",
               "suppressed", "suppression"]


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory, hospital_paths):
    out = tmp_path_factory.mktemp("run") / "results"
    code = main(["run", str(STANDARD), "--data", *map(str, hospital_paths), "--out", str(out), "--engine", "local"])
    assert code == 0
    return out


def test_files_and_manifest(out_dir):
    manifest = json.loads((out_dir / "manifest.json").read_text())
    for name, info in manifest["tables"].items():
        assert (out_dir / f"{name}.csv").is_file() and (out_dir / f"{name}.parquet").is_file()
        assert info["description"]
    for name, cols in EXPECTED.items():
        assert manifest["tables"][name]["columns"] == cols, name
    derived = ["cost_mean_lower95", "cost_mean_upper95"]  # computed once by the descriptive kind
    for name in ("descriptive_by_level", "descriptive_by_region", "descriptive_by_drg"):
        assert manifest["tables"][name]["columns"][-len(DESCRIPTIVE) - 2:] == DESCRIPTIVE + derived
    assert manifest["tables"]["descriptive_by_period"]["columns"][-len(DESCRIPTIVE) - 3:] == \
        DESCRIPTIVE + derived + ["growth"]
    assert manifest["tables"]["descriptive_by_region_year"]["columns"][:2] == ["region", "period"]
    assert not list(out_dir.parent.glob(".results.*"))  # no temporary folder left behind


def test_results_json_metadata(out_dir):
    res = read_results(out_dir)
    run = res["run"]
    assert run["dictionary_version"] == "1.1.0"
    assert run["privacy"]["server_public_context_only"] is True
    assert run["privacy"]["plaintext_statistics_sent_to_server"] is False
    assert run["policy"]["version"] == "2024.1" and run["policy"]["disclosure"]["min_hospitals"] == 3
    assert run["fedcost_version"]
    assert run["rounds"]["payment"] == 1 and run["rounds"]["descriptive_by_period"] == 3
    assert run["total_rounds"] <= max(run["rounds"].values()) + 1  # + the release round
    assert set(res["analyses"]) == set(res["specs"])
    assert res["plan"]["plan"]["name"] == "standard"
    assert all(a["status"] == "released" for a in res["analyses"].values())


def test_derived_statistics_of_the_descriptive_kind(out_dir):
    """Interval of the per-case cost and growth on the previous quarter, by hand from the released cells."""
    d = read_tables(out_dir)["descriptive_by_period"]
    d = d[(d["period"] != "All") & ~d["suppressed"].astype(bool)].reset_index(drop=True)
    assert len(d) >= 4
    se = d["cost_sd"] / np.sqrt(d["n"].astype(float))
    np.testing.assert_allclose(d["cost_mean_lower95"], d["cost_mean"] - 1.959963984540054 * se, rtol=1e-12)
    np.testing.assert_allclose(d["growth"].iloc[1:], (d["cost_mean"] / d["cost_mean"].shift(1) - 1).iloc[1:],
                               rtol=1e-12)
    assert pd.isna(d["growth"].iloc[0])  # the first quarter has no previous one


def test_tables_read_back_the_same(out_dir, hospital_paths):
    pq = read_tables(out_dir)
    csv = read_tables(out_dir, fmt="csv")
    assert set(pq) == set(csv)
    for name in pq:
        a, b = pq[name], csv[name]
        assert list(a.columns) == list(b.columns) and len(a) == len(b)
        for c in a.columns:
            if pd.api.types.is_numeric_dtype(a[c]) and pd.api.types.is_numeric_dtype(b[c]) \
                    and not pd.api.types.is_bool_dtype(a[c]):
                np.testing.assert_allclose(a[c].astype(float), b[c].astype(float), rtol=1e-12, equal_nan=True)
    kpi = pq["kpi"].set_index("metric")
    assert kpi.loc["admissions", "value"] == sum(len(pd.read_csv(p)) for p in hospital_paths)
    assert {"per_case_cost", "icer", "overspend_rate", "cost_cv_across_hospitals"} <= set(kpi.index)
    f = pq["funnel"]
    assert f["hospital"].str.startswith("Hospital ").all()
    assert pq["status"]["status"].eq("released").all()


def test_usage_errors(tmp_path, hospital_paths, capsys):
    code = main(["run", str(tmp_path / "nope.toml"), "--data", str(hospital_paths[0]), "--out", str(tmp_path / "o"),
                 "--engine", "local"])
    assert code == 2
    assert "no such plan file" in capsys.readouterr().err
