"""A withheld per-hospital indicator stays withheld: closure, a complement, spreads over the hospitals shown."""
from __future__ import annotations

import numpy as np
import pytest

from fedcost.analyses.benchmark import WITHHOLDABLE, BenchmarkAnalysis
from fedcost.analyses.consent import blanked
from fedcost.analyses.funnel import funnel_statistics
from fedcost.contract import run_pooled
from fedcost.data.validation import load_valid
from fedcost.policy import DISCLOSURE_DEFAULTS

SITES, N = [0, 1, 2, 3], [40, 10, 30, 20]  # site 1 is the smallest, then site 3


def test_one_hospital_alone_in_a_group_gets_a_complement_the_smallest_other():
    # H2 withholds its CMI: the overall CMI minus the other three would give it back,
    # so the smallest other hospital (site 1, n = 10) is blanked with it.
    assert blanked(SITES, N, {"cmi": [2]}) == {"oe": set(), "cmi": {1, 2}, "per_case_cost": set()}
    # two hospitals withholding already protect each other: nothing is added
    assert blanked(SITES, N, {"oe": [0, 2]}) == {"oe": {0, 2}, "cmi": set(), "per_case_cost": set()}
    assert blanked(SITES, N, {}) == {"oe": set(), "cmi": set(), "per_case_cost": set()}


def test_withholding_the_per_case_cost_withholds_the_groups_that_carry_it():
    # per-case cost = O/E x expected mean = CMI x cost per weighted case: site 3 withholds it,
    # its O/E and CMI go too; site 1 (smallest other) is its complement in all three groups.
    assert blanked(SITES, N, {"per_case_cost": [3]}) == {g: {1, 3} for g in ("oe", "cmi", "per_case_cost")}
    # site 0 withholds its O/E, site 3 its per-case cost: O/E {0, 3} needs no complement, but the
    # per-case cost {3} does (site 1), whose O/E and CMI then go as well.
    assert blanked(SITES, N, {"oe": [0], "per_case_cost": [3]}) == {
        "oe": {0, 1, 3}, "cmi": {1, 3}, "per_case_cost": {1, 3}}


def test_ties_go_to_the_lower_slot():
    assert blanked([0, 1, 2], [10, 10, 10], {"oe": [1]})["oe"] == {0, 1}


@pytest.fixture(scope="module")
def raw(hospital_paths, dictionary):
    """The benchmark on six hospitals (each synthetic file split in two), before release."""
    frames = []
    for p in hospital_paths:
        f = load_valid(p, dictionary)
        frames += [f.iloc[: len(f) // 3], f.iloc[len(f) // 3:]]
    return run_pooled({"b": BenchmarkAnalysis()}, frames, dictionary)["results"]["b"]


def _release(raw, withheld):
    return BenchmarkAnalysis().disclose(raw, {**DISCLOSURE_DEFAULTS, "withheld": withheld})


def test_a_withheld_per_case_cost_cannot_be_rebuilt_from_the_release(raw):
    site = 2
    n_all = np.array(raw["hospitals_table"]["n"], dtype=float)
    cost_all = np.array(raw["hospitals_table"]["per_case_cost"]) * n_all
    out = _release(raw, {"per_case_cost": [site]})
    t = out["hospitals_table"]
    blank = [r for r, v in enumerate(t["per_case_cost"]) if v is None]
    assert len(blank) == 2  # its own and a complement
    for column in WITHHOLDABLE["oe"] + WITHHOLDABLE["cmi"] + WITHHOLDABLE["per_case_cost"]:
        assert [r for r, v in enumerate(t[column]) if v is None] == blank, column
    # The attack: reference per-case cost x N minus the shown hospitals' cost leaves the two
    # blanked hospitals' total cost, not the withholding one's.
    shown = [r for r in range(len(t["n"])) if r not in blank]
    residue = out["cost_coefficient"]["reference_per_case_cost"] * n_all.sum() - sum(
        t["per_case_cost"][r] * t["n"][r] for r in shown)
    complement = int(np.argmin(np.where(np.arange(len(n_all)) == site, np.inf, n_all)))
    assert residue == pytest.approx(cost_all[site] + cost_all[complement], rel=1e-9)
    assert abs(residue - cost_all[site]) > 0.1 * cost_all[site]


def test_spreads_and_the_funnel_are_computed_over_the_hospitals_shown(raw):
    out = _release(raw, {"oe": [0], "cmi": [4]})
    t, f, cc = out["hospitals_table"], out["funnel"], out["cost_coefficient"]
    shown = [r for r, v in enumerate(t["oe"]) if v is not None]
    assert len(shown) == 4 and f["hospitals"] == 4
    oracle = funnel_statistics([t["oe"][r] for r in shown], [t["se"][r] for r in shown], "random")
    assert f["phi_hat"] == pytest.approx(oracle["phi_hat"], rel=1e-12)
    assert f["tau2"] == pytest.approx(oracle["tau2"], rel=1e-12, abs=1e-15)
    assert [t["z_adjusted"][r] for r in shown] == pytest.approx(oracle["z_adjusted"].tolist(), rel=1e-12)
    O = sum(t["observed_mean"][r] * t["n"][r] for r in shown)
    E = sum(t["expected_mean"][r] * t["n"][r] for r in shown)
    assert f["pooled_oe"] == pytest.approx(O / E, rel=1e-12)
    cpwc = np.array([v for v in t["cost_per_weighted_case"] if v is not None])
    assert len(cpwc) == 4 and cc["hospitals_shown_adjusted"] == 4
    assert cc["cv_adjusted"] == pytest.approx(cpwc.std(ddof=1) / cpwc.mean(), rel=1e-12)
    per_case = np.array(t["per_case_cost"])  # nobody withheld it: all six
    assert cc["hospitals_shown"] == 6
    assert cc["cv_across_hospitals"] == pytest.approx(per_case.std(ddof=1) / per_case.mean(), rel=1e-12)
    untouched = _release(raw, {})
    assert untouched["funnel"]["phi_hat"] == pytest.approx(raw["funnel"]["phi_hat"], rel=1e-12)
    assert out["funnel"]["phi_hat"] != pytest.approx(raw["funnel"]["phi_hat"], rel=1e-6)
