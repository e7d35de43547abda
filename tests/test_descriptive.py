"""Descriptive tables through the encrypted federation equal pandas on the pooled rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fedcost.analyses.descriptive import DescriptiveAnalysis
from fedcost.researcher import run_study
from fedcost.contract import run_pooled
from fedcost.data.validation import load_valid

COMPONENTS = ["cost_drugs", "cost_consumables", "cost_exams", "cost_procedures", "cost_nursing_bed",
              "cost_labour", "cost_other"]


@pytest.fixture(scope="module")
def frames(hospital_paths, dictionary):
    return [load_valid(p, dictionary) for p in hospital_paths]


@pytest.fixture(scope="module")
def pool(frames):
    df = pd.concat(frames, ignore_index=True)
    d = pd.to_datetime(df["discharge_date"])
    df["quarter"] = d.dt.year.astype(str) + "Q" + d.dt.quarter.astype(str)
    df["year"] = d.dt.year.astype(str)
    for c in ("region", "hospital_level", "drg_code", "payer_type"):
        df[c] = df[c].astype(str)
    return df


@pytest.fixture(scope="module")
def study(hospital_paths, dictionary):
    plan = {"by_period": DescriptiveAnalysis(by="period", period="quarter"),
            "by_payer_year": DescriptiveAnalysis(by=["payer_type", "period"], period="year"),
            "overall": DescriptiveAnalysis(by=[])}
    return run_study(plan, hospital_paths, engine="local", dictionary=dictionary)


def _reference(pool: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    g = pool.groupby(keys, observed=True)
    ref = pd.DataFrame({
        "n_ref": g.size(), "hosp_ref": g["hospital_id"].nunique(), "sum_ref": g["cost_total"].sum(),
        "mean_ref": g["cost_total"].mean(), "sd_ref": g["cost_total"].std(), "los_ref": g["los"].mean(),
        "los_sd_ref": g["los"].std(), "median_ref": g["cost_total"].median(), "p90_ref": g["cost_total"].quantile(0.9),
        **{f"share_{c[5:]}_ref": g[c].sum() / g["cost_total"].sum() for c in COMPONENTS},
    })
    return ref.reset_index()


def _check(table: pd.DataFrame, ref: pd.DataFrame, on: list[str], released_only=True):
    m = table.merge(ref, on=on, how="inner")
    if released_only:
        m = m[~m["suppressed"]]
    assert len(m) > 0
    assert (m["n"].astype(int) == m["n_ref"]).all()
    assert (m["hospitals"].astype(int) == m["hosp_ref"]).all()
    np.testing.assert_allclose(m["cost_sum"].astype(float), m["sum_ref"], rtol=1e-9)
    np.testing.assert_allclose(m["cost_mean"].astype(float), m["mean_ref"], rtol=1e-9)
    np.testing.assert_allclose(m["cost_sd"].astype(float), m["sd_ref"], rtol=1e-8)
    np.testing.assert_allclose(m["los_mean"].astype(float), m["los_ref"], rtol=1e-9)
    np.testing.assert_allclose(m["los_sd"].astype(float), m["los_sd_ref"], rtol=1e-8)
    for c in COMPONENTS:
        np.testing.assert_allclose(m[f"share_{c[5:]}"].astype(float), m[f"share_{c[5:]}_ref"], rtol=1e-9)
    # quantiles: within the stated accuracy (the width of the refined sub-bin)
    assert (np.abs(m["cost_median"].astype(float) - m["median_ref"]) <= m["cost_median_accuracy"].astype(float) + 1e-6).all()
    assert (np.abs(m["cost_p90"].astype(float) - m["p90_ref"]) <= m["cost_p90_accuracy"].astype(float) + 1e-6).all()
    assert (m["cost_median_accuracy"].astype(float) <= 0.02 * m["median_ref"]).all()


def test_by_quarter_federated_equals_pandas(study, pool):
    assert study.status("by_period") == "released"
    t = pd.DataFrame(study.result("by_period")["table"])
    cells = t[t["period"] != "All"].rename(columns={"period": "quarter"})
    _check(cells, _reference(pool, ["quarter"]), ["quarter"])
    total = t[t["period"] == "All"].iloc[0]
    assert int(total["n"]) == len(pool)
    assert total["cost_mean"] == pytest.approx(pool["cost_total"].mean(), rel=1e-9)


def test_two_way_with_margins(study, pool):
    t = pd.DataFrame(study.result("by_payer_year")["table"])
    inner = t[(t["payer_type"] != "All") & (t["period"] != "All")].rename(columns={"period": "year"})
    _check(inner, _reference(pool, ["payer_type", "year"]), ["payer_type", "year"])
    rows = t[(t["payer_type"] != "All") & (t["period"] == "All")]
    _check(rows, _reference(pool, ["payer_type"]), ["payer_type"])
    cols = t[(t["payer_type"] == "All") & (t["period"] != "All")].rename(columns={"period": "year"})
    _check(cols, _reference(pool, ["year"]), ["year"])


def test_overall_and_pooled_reference(study, pool, frames, dictionary):
    t = pd.DataFrame(study.result("overall")["table"])
    assert len(t) == 1 and int(t["n"].iloc[0]) == len(pool) and int(t["hospitals"].iloc[0]) == 3
    # run_pooled (plaintext sums, no disclosure) agrees with pandas on every cell, suppressed or not
    out = run_pooled({"d": DescriptiveAnalysis(by=["drg_code"])}, frames, dictionary)
    t = pd.DataFrame(out["results"]["d"]["table"])
    t = t[(t["drg_code"] != "All") & (t["n"] > 0)].assign(suppressed=False)
    _check(t, _reference(pool, ["drg_code"]), ["drg_code"], released_only=False)


def test_rounds_and_method_stated(study):
    assert study.output["analyses"]["by_period"]["rounds"] == 3  # scan, moments, refine
    assert study.output["analyses"]["overall"]["rounds"] == 2
    assert "quantile" in study.result("overall")["method"]


def test_a_level_no_hospital_has_releases_no_value(hospital_paths, dictionary, tmp_path):
    """Over real CKKS an empty cell decrypts to noise (~1e-9); nothing computed from it may be released."""
    paths = []
    for p in hospital_paths:
        df = pd.read_csv(p)
        df["hospital_level"] = df["hospital_level"].replace("primary", "secondary")
        df.to_csv(tmp_path / p.name, index=False)
        paths.append(tmp_path / p.name)
    study = run_study({"by_level": DescriptiveAnalysis(by="hospital_level")}, paths, engine="local",
                      dictionary=dictionary)
    t = pd.DataFrame(study.result("by_level")["table"]).set_index("hospital_level")
    assert "primary" in dictionary.levels("hospital_level")
    row = t.loc["primary"]
    assert row["n"] == 0 and row["hospitals"] == 0
    assert bool(row["suppressed"]) and row["suppression"] == "empty"
    values = row.drop(["n", "hospitals", "suppressed", "suppression"])
    assert values.isna().all(), values[values.notna()]
    # the total is still released with its value (the levels with records have < 3 hospitals: primary suppression)
    total = sum(pd.read_csv(p)["cost_total"].sum() for p in paths)
    assert not t.loc["All", "suppressed"] and abs(t.loc["All", "cost_sum"] - total) < 1e-6 * total
    assert set(t.loc[["secondary", "tertiary"], "suppression"]) == {"primary"}
    assert study.result("by_level")["suppression_summary"]["empty"] == 1
