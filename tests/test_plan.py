"""Study plans: loading with policy inputs, and several analyses cost max(rounds), not the sum."""
from __future__ import annotations

from pathlib import Path

import pytest

from fedcost.analyses.cea import CEAAnalysis
from fedcost.analyses.descriptive import DescriptiveAnalysis
from fedcost.analyses.payment import PaymentAnalysis
from fedcost.analyses.plan import load_plan, plan_info, with_policy
from fedcost.errors import DataError, UsageError
from fedcost.researcher import run_study
from fedcost.models.irls import GLMAnalysis
from fedcost.policy import Policy
from fedcost.analyses import kinds

ROOT = Path(__file__).resolve().parents[1]
STANDARD = ROOT / "plans" / "standard.toml"


def test_standard_plan_loads_with_policy_inputs():
    plan = load_plan(STANDARD)
    assert {a.kind for a in plan.values()} == set(kinds.KINDS) == {"glm", "descriptive", "benchmark", "warning",
                                                                   "payment", "cea"}
    assert plan["warning_by_region"].params["thresholds"]["growth_red"] == 0.10
    assert plan["warning_by_region"].params["thresholds"]["growth_yellow"] == 0.08
    assert plan["benchmark"].params["band"] == [0.8, 1.2]
    assert plan["benchmark"].params["trim"] == [0.025, 0.975]
    assert plan["payment"].params["standards"]["BR21"] == 14900.0
    assert plan["cea"].params["wtp"] == pytest.approx(3 * 95749)
    # specs travel to the hospitals and rebuild the same analyses
    for a in plan.values():
        again = kinds.from_spec(a.spec())
        assert again.spec() == a.spec()
    info = plan_info(STANDARD)
    assert info["plan"]["name"] == "standard" and info["descriptions"]["benchmark"]


def test_plan_overrides_policy(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[analyses.w]\nkind = "warning"\nthresholds = {growth_red = 0.2}\n'
                 '[analyses.c]\nkind = "cea"\nwtp = 300000\n', encoding="utf-8")
    plan = load_plan(f)
    assert plan["w"].params["thresholds"]["growth_red"] == 0.2
    assert plan["w"].params["thresholds"]["growth_yellow"] == 0.08
    assert plan["c"].params["wtp"] == 300000


def test_bad_plans(tmp_path):
    with pytest.raises(UsageError):
        load_plan(tmp_path / "missing.toml")
    f = tmp_path / "bad.toml"
    f.write_text('[analyses.x]\nkind = "nonsense"\n', encoding="utf-8")
    with pytest.raises(DataError):
        load_plan(f)
    f.write_text('[analyses.x]\nkind = "descriptive"\nunknown_param = 1\n', encoding="utf-8")
    with pytest.raises(DataError):
        load_plan(f)
    f.write_text("not toml [", encoding="utf-8")
    with pytest.raises(DataError):
        load_plan(f)


def test_plan_costs_max_not_sum_of_rounds(hospital_paths, dictionary):
    policy = Policy.load()

    def make():
        return {"model": GLMAnalysis("cost_total ~ age + los", "gamma", "log"),
                "by_quarter": DescriptiveAnalysis(by="period"),
                "payment": PaymentAnalysis(**with_policy("payment", {}, policy)),
                "cea": CEAAnalysis(**with_policy("cea", {}, policy))}

    together = run_study(make(), hospital_paths, engine="local", dictionary=dictionary)
    alone = {name: run_study({name: a}, hospital_paths, engine="local", dictionary=dictionary)
             for name, a in make().items()}
    rounds_alone = {n: s.output["analyses"][n]["rounds"] for n, s in alone.items()}
    messages_alone = {n: s.output["messages"] for n, s in alone.items()}
    for n in rounds_alone:  # each analysis takes as many rounds in the plan as alone
        assert together.output["analyses"][n]["rounds"] == rounds_alone[n]
        assert together.status(n) == "released"
    assert together.output["rounds"] == max(rounds_alone.values())
    assert together.output["messages"] == max(messages_alone.values())
    assert together.output["messages"] < sum(messages_alone.values())
    # and the results are the same as alone (up to CKKS noise: each run encrypts afresh)
    a, b = together.result("cea")["incremental"], alone["cea"].result("cea")["incremental"]
    for key in ("delta_cost", "delta_effect", "icer", "inmb"):
        assert a[key] == pytest.approx(b[key], rel=1e-8)
