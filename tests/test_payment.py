"""Payment gap through the encrypted federation = pandas on the pooled rows; per-hospital figures stay local."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fedcost.analyses.payment import PaymentAnalysis, hospital_payment
from fedcost.analyses.plan import with_policy
from fedcost.researcher import run_study
from fedcost.policy import Policy
from fedcost.data.validation import load_valid


@pytest.fixture(scope="module")
def standards():
    return with_policy("payment", {}, Policy.load())["standards"]


@pytest.fixture(scope="module")
def study(hospital_paths, dictionary, standards):
    return run_study({"pay": PaymentAnalysis(standards=standards)}, hospital_paths, engine="local",
                     dictionary=dictionary)


@pytest.fixture(scope="module")
def pool(hospital_paths, dictionary, standards):
    df = pd.concat([load_valid(p, dictionary).assign(site=i) for i, p in enumerate(hospital_paths)],
                   ignore_index=True)
    df["drg"] = df["drg_code"].astype(str)
    df = df[df["drg"].isin(standards)].copy()
    df["std"] = df["drg"].map(standards)
    return df


def test_payment_gap_equals_pandas(study, pool):
    r = study.result("pay")
    assert study.output["analyses"]["pay"]["rounds"] == 1
    t = pd.DataFrame(r["table"]).set_index("drg_code")
    g = pool.groupby("drg")
    ref = pd.DataFrame({"n": g.size(), "hosp": g["site"].nunique(), "mean": g["cost_total"].mean(),
                        "std": g["std"].first(), "over": g.apply(lambda d: (d.cost_total > d["std"]).sum()),
                        "excess": g.apply(lambda d: (d.cost_total - d["std"]).clip(lower=0).sum()),
                        "pay": g["std"].sum(), "cost": g["cost_total"].sum()})
    shown = t[~t["suppressed"] & (t.index != "All") & (t["n"].fillna(0) > 0)]
    assert len(shown) > 5
    ref = ref.loc[shown.index]
    assert (shown["n"].astype(int) == ref["n"]).all()
    assert (shown["overspend_cases"].astype(int) == ref["over"]).all()
    np.testing.assert_allclose(shown["mean_cost"].astype(float), ref["mean"], rtol=1e-9)
    np.testing.assert_allclose(shown["gap"].astype(float), ref["std"] - ref["mean"], rtol=1e-9)
    np.testing.assert_allclose(shown["overspend_rate"].astype(float), ref["over"] / ref["n"], rtol=1e-12)
    np.testing.assert_allclose(shown["overspend_ratio"].astype(float), ref["excess"] / ref["pay"], rtol=1e-9)
    np.testing.assert_allclose(shown["surplus"].astype(float), ref["pay"] - ref["cost"], rtol=1e-9, atol=1e-6)
    tot = t.loc["All"]
    assert int(tot["n"]) == len(pool)
    assert float(tot["overspend_rate"]) == pytest.approx((pool.cost_total > pool["std"]).mean(), rel=1e-12)
    assert float(tot["surplus"]) == pytest.approx(pool["std"].sum() - pool.cost_total.sum(), rel=1e-9)
    # small groups are suppressed, and suppression keeps the standard itself (public)
    sup = t[t["suppressed"]]
    assert sup["payment_standard"].notna().all()
    assert sup["mean_cost"].isna().all()


def test_no_per_hospital_payment_in_the_release(study):
    released = json.dumps(study.output["analyses"]["pay"]["result"])
    for word in ("site", "hospital_surplus", "Hospital A"):
        assert word not in released
    assert "not released" in study.result("pay")["per_hospital"]


def test_hospital_payment_is_local(hospital_paths, dictionary, standards, pool):
    frame = load_valid(hospital_paths[0], dictionary)
    own = hospital_payment(frame, standards).set_index("drg_code")
    mine = pool[pool["site"] == 0]
    assert int(own.loc["All", "n"]) == len(mine)
    assert own.loc["All", "surplus"] == pytest.approx(mine["std"].sum() - mine.cost_total.sum(), rel=1e-12)


def test_each_hospital_keeps_its_own_balance_locally(hospital_paths, tmp_path):
    """The hospital's own surplus is written to its work folder and never sent to the coordinator."""
    import json

    from fedcost.analyses.payment import PaymentAnalysis
    from fedcost.researcher import run_study
    from fedcost.policy import Policy

    std = Policy.default().payment_standards()
    standards = dict(zip(std["drg_code"], std["payment_standard"]))
    study = run_study({"pay": PaymentAnalysis(standards)}, hospital_paths, engine="local", workdir=tmp_path)
    assert study.status("pay") == "released"
    own = pd.read_csv(tmp_path / "hospitals" / "H01" / "local_reports" / "pay.csv")
    rows = pd.read_csv(hospital_paths[0])
    rows = rows[rows["drg_code"].isin(standards)]
    pay = rows["drg_code"].map(standards).sum()
    total = own[own["drg_code"] == own["drg_code"].iloc[-1]].iloc[0]  # the "All" row comes last
    assert total["n"] == len(rows)
    assert total["surplus"] == pytest.approx(pay - rows["cost_total"].sum(), rel=1e-9)
    assert str(total["surplus"])[:8] not in json.dumps(study.output)
