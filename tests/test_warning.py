"""Early warning against constructed series: growth of exactly 9 % and 12 %, historical mean, SPC, shares."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fedcost.analyses.warning import WarningAnalysis, xmr
from fedcost.researcher import run_study
from fedcost.contract import run_pooled
from fedcost.data.validation import load_valid

RULES = {"min_hospitals": 3, "min_cell_records": 5, "max_parameter_fraction": 0.2, "name_hospitals": False}
DATES = ["2023-02-01", "2023-05-01", "2023-08-01", "2023-11-01", "2024-02-01"]


def _frames(dictionary, per_case, drug=0.35, cons=0.10, per_cell=6, drg="BR21"):
    frames = []
    for h in range(3):
        rows = []
        for date, cost in zip(DATES, per_case):
            for _ in range(per_cell):
                rows.append({"hospital_id": f"H{h}", "region": "east", "drg_code": drg,
                             "discharge_date": pd.Timestamp(date), "cost_total": cost,
                             "cost_drugs": cost * drug, "cost_consumables": cost * cons})
        df = pd.DataFrame(rows)
        for c in ("region", "drg_code"):
            df[c] = pd.Categorical(df[c], categories=dictionary.levels(c))
        frames.append(df)
    return frames


def _run(frames, dictionary, **kw):
    a = WarningAnalysis(**kw)
    raw = run_pooled({"w": a}, frames, dictionary)["results"]["w"]
    return a.disclose(raw, RULES)


def test_growth_nine_and_twelve_percent(dictionary):
    costs = [1000.0, 1090.0, 1090.0 * 1.12, 1090.0 * 1.12, 1050.0]
    r = _run(_frames(dictionary, costs), dictionary, group="region", period="quarter")
    alerts = pd.DataFrame(r["alerts"])
    g = alerts[(alerts["group"] == "east") & alerts["indicator"].isin(["growth", "yoy_growth"])]
    assert list(zip(g["period"], g["indicator"], g["level"])) == [("2023Q2", "growth", "yellow"),
                                                                  ("2023Q3", "growth", "red")]
    assert g["value"].tolist() == pytest.approx([0.09, 0.12])
    t = pd.DataFrame(r["trend"])
    east = t[t["group"] == "east"].set_index("period")
    assert east.loc["2024Q1", "yoy_growth"] == pytest.approx(0.05)  # 1050 vs 2023Q1's 1000: below 8 %
    assert east.loc["2023Q4", "growth"] == pytest.approx(0.0)
    # the federation-wide margin carries the same series
    assert set(alerts[alerts["group"] == "All"]["indicator"]) >= {"growth"}
    # 8 % exactly is not "above 8 %"
    r2 = _run(_frames(dictionary, [1000.0, 1080.0, 1080.0, 1080.0, 1080.0]), dictionary, period="quarter")
    t2 = pd.DataFrame(r2["trend"]).set_index(["group", "period"])
    assert t2.loc[("All", "2023Q2"), "growth"] == pytest.approx(0.08)  # the growth was computed ...
    assert "growth" not in r2["alerts"]["indicator"]                    # ... and raised no alert


def test_drug_and_consumable_share_alerts(dictionary):
    r = _run(_frames(dictionary, [1000.0] * 5, drug=0.31, cons=0.25), dictionary, period="quarter")
    a = pd.DataFrame(r["alerts"])
    assert set(a["indicator"]) == {"drug_share", "consumable_share"}
    assert a[a["indicator"] == "drug_share"]["value"].tolist() == pytest.approx([0.31] * 5)
    r = _run(_frames(dictionary, [1000.0] * 5, drug=0.29, cons=0.19), dictionary, period="quarter")
    assert len(r["alerts"]["indicator"]) == 0


def test_drg_above_historical_mean(dictionary):
    # historical mean before 2024Q1 = mean of the four preceding quarters (equal sizes) = 1000
    costs = [1000.0, 1050.0, 950.0, 1000.0, 1210.0]
    r = _run(_frames(dictionary, costs), dictionary, group="drg_code", period="quarter",
             thresholds={"growth_yellow": 0.5, "growth_red": 0.6})
    t = pd.DataFrame(r["trend"])
    row = t[(t["group"] == "BR21") & (t["period"] == "2024Q1")].iloc[0]
    assert row["historical_mean"] == pytest.approx(1000.0)
    assert row["historical_ratio"] == pytest.approx(1.21)
    a = pd.DataFrame(r["alerts"])
    hist = a[(a["indicator"] == "historical") & (a["group"] == "BR21")]
    assert hist["period"].tolist() == ["2024Q1"]
    assert hist["threshold"].iloc[0] == pytest.approx(1.2)


def test_xmr_limits_by_hand():
    pts = [("p1", 10.0), ("p2", 12.0), ("p3", 11.0), ("p4", 13.0), ("p5", 30.0)]
    rows = xmr(pts)
    centre = (10 + 12 + 11 + 13 + 30) / 5
    mr_bar = (2 + 1 + 2 + 17) / 4
    assert rows[0]["centre"] == pytest.approx(centre)
    assert rows[0]["ucl"] == pytest.approx(centre + 2.66 * mr_bar)
    assert rows[0]["lcl"] == pytest.approx(centre - 2.66 * mr_bar)
    assert rows[0]["moving_range"] is None and rows[4]["moving_range"] == pytest.approx(17)
    assert [r["beyond_limits"] for r in rows] == [False] * 4 + [True]  # 30 > 15.2 + 2.66 * 5.5 = 29.83
    # a run of 8 on one side of the centre
    run = [("p%d" % i, v) for i, v in enumerate([1, 1.1, 0.9, 1.0, 1.05, 0.95, 1.0, 1.02, 5, 5.1, 5.2])]
    rr = xmr(run, run_length=8)
    assert [r["run_signal"] for r in rr].index(True) == 7


def test_federated_trend_equals_pandas(hospital_paths, dictionary):
    study = run_study({"w": WarningAnalysis(group=None, period="quarter")}, hospital_paths, engine="local",
                      dictionary=dictionary)
    r = study.result("w")
    pool = pd.concat([load_valid(p, dictionary) for p in hospital_paths], ignore_index=True)
    d = pd.to_datetime(pool["discharge_date"])
    pool["period"] = d.dt.year.astype(str) + "Q" + d.dt.quarter.astype(str)
    g = pool.groupby("period")
    mean = g["cost_total"].mean()
    t = pd.DataFrame(r["trend"]).set_index("period")
    np.testing.assert_allclose(t["per_case_cost"].astype(float), mean[t.index], rtol=1e-9)
    np.testing.assert_allclose(t["growth"].astype(float).iloc[1:], (mean / mean.shift(1) - 1)[t.index].iloc[1:],
                               rtol=1e-9)
    np.testing.assert_allclose(t["drug_share"].astype(float),
                               (g["cost_drugs"].sum() / g["cost_total"].sum())[t.index], rtol=1e-9)
    spc = pd.DataFrame(r["spc"])
    assert spc["centre"].iloc[0] == pytest.approx(mean.mean(), rel=1e-9)
    assert spc["mr_bar"].iloc[0] == pytest.approx(mean.diff().abs().mean(), rel=1e-9)
