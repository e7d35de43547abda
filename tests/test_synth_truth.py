"""The truth of a synthetic federation: the case-mix model's pseudo-true values and the truth document."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from fedcost.data import synth
from fedcost.data.synth_model import CASEMIX_FORMULA, LEVELS
from fedcost.data.synth_truth import pseudo_true

CODES = ["A10", "B20", "C30"]


def _arrays(n: int, seed: int, mu_of) -> dict:
    rng = np.random.default_rng(seed)
    a = dict(drg=rng.integers(0, 3, n).astype(np.int32), level=rng.choice([0, 2], n).astype(np.int32),
             age=rng.uniform(20, 90, n), los=rng.integers(1, 30, n).astype(float),
             com=rng.poisson(1.5, n).astype(float))
    a["mu"] = mu_of(a)
    return a


def _frame(arrays: list[dict]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"cost_total": a["mu"], "drg_code": np.asarray(CODES)[a["drg"]],
                                    "hospital_level": np.asarray(LEVELS)[a["level"]], "age": a["age"],
                                    "los": a["los"], "comorbidity_score": a["com"]}) for a in arrays],
                     ignore_index=True)


def test_log_linear_means_give_back_their_coefficients():
    beta = {"Intercept": 8.0, "C(drg_code)[T.B20]": 0.5, "C(drg_code)[T.C30]": -0.3,
            "C(hospital_level)[T.tertiary]": 0.2, "age": 0.004, "los": 0.03, "comorbidity_score": 0.05}

    def mu(a):  # exactly the case-mix model: its score equations hold at beta itself
        return np.exp(beta["Intercept"] + np.array([0.0, 0.5, -0.3])[a["drg"]] + 0.2 * (a["level"] == 2)
                      + 0.004 * a["age"] + 0.03 * a["los"] + 0.05 * a["com"])

    got = pseudo_true([_arrays(400, 1, mu), _arrays(300, 2, mu)], CODES)
    assert list(got) == list(beta)
    for name, value in beta.items():
        assert got[name] == pytest.approx(value, abs=1e-7), name


def test_misspecified_means_match_a_statsmodels_fit_on_the_means():
    def mu(a):  # hospital effects, a curved age effect: not in the case-mix formula
        return 5000.0 * np.exp(0.3 * (a["drg"] == 1) + 0.00008 * (a["age"] - 50) ** 2 + 0.02 * a["los"]) \
            * (1 + 0.1 * a["com"])

    arrays = [_arrays(500, 3, mu), _arrays(500, 4, mu)]
    got = pseudo_true(arrays, CODES)
    fit = smf.glm(CASEMIX_FORMULA, _frame(arrays), family=sm.families.Gamma(sm.families.links.Log())
                  ).fit(tol=1e-12, maxiter=100)
    assert set(got) == set(fit.params.index)
    for name in got:
        assert got[name] == pytest.approx(fit.params[name], abs=1e-6), name


def test_too_few_records_identify_nothing():
    def mu(a):
        return np.full(len(a["age"]), 1000.0)

    assert pseudo_true([_arrays(4, 5, mu)], CODES) is None  # 7 coefficients, 4 rows


@pytest.fixture(scope="module")
def one_hospital_truth():
    return synth.generate(1, 300, 5)[1]


def test_one_hospital_truth_has_no_hospital_terms(one_hospital_truth):
    t = one_hospital_truth
    assert t["formula"].endswith("+ year_c") and "hospital_id" not in t["formula"]
    assert not [k for k in t["coef"] if k.startswith("C(hospital_id)")]
    assert t["coef"]["year_c"] == t["hospitals"]["H01"]["trend"] == t["parameters"]["year_trend"]
    assert t["scale"] == round(1 / t["shape"], 8)
    h = t["hospitals"]["H01"]
    growth = math.expm1(h["trend"])
    assert h["per_case_growth"] == round(growth, 6)
    assert h["alert"] == ("red" if growth > 0.10 else "yellow" if growth > 0.08 else "none")


def test_cohort_block_states_the_true_increments(one_hospital_truth):
    c = one_hospital_truth["cohort"]
    assert c["drgs"] == ["RE11", "RU11"]
    assert c["log_cost_ratio"] == round(math.log(c["cost_ratio"]), 6) == one_hospital_truth["coef"]["combination"]
    assert c["rows"] == one_hospital_truth["hospitals"]["H01"]["cohort_rows"] > 0
    p = c["response_probability"]
    assert 0 < p["standard"] < p["combination"] < 1
