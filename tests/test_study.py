"""StudyResult: filled by the kinds from a run, written to a folder and read back the same."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fedcost.analyses import cea
from fedcost.analyses.descriptive import DescriptiveAnalysis
from fedcost.models.irls import GLMAnalysis
from fedcost.researcher import run_study
from fedcost.results import StudyResult
from fedcost.results.study import ResultsNotFound


@pytest.fixture(scope="module")
def study(hospital_paths):
    return run_study({"m": GLMAnalysis("cost_total ~ age + los", "gamma"),
                      "d": DescriptiveAnalysis(by="hospital_level")}, hospital_paths, engine="local")


def test_the_kinds_fill_the_tables(study):
    coef = study.table("glm_coefficients", "m").set_index("term")
    res = study.result("m")
    # Wald statistics computed once, by the GLM kind: z = coef / se, 95% CI = coef -+ 1.96 se
    np.testing.assert_allclose(coef["z"], pd.Series(res["coef"]) / pd.Series(res["se"]), rtol=1e-12)
    np.testing.assert_allclose(coef["ci_upper"] - coef["coef"], 1.959963984540054 * coef["se"], rtol=1e-12)
    assert set(study.table("status")["status"]) == {"released"}
    assert study.kpi("admissions") is None  # no overall descriptive table in this plan
    assert study.has("descriptive_d") and study.run["engine"] == "local"


def test_result_json_carries_the_contract_fields(study):
    r = study.result_json("m")
    for key in ("coef", "se", "cov", "dispersion", "deviance", "null_deviance", "n", "hospitals", "rounds",
                "converged", "family", "link", "formula", "engine", "dictionary_version", "fedcost_version",
                "privacy"):
        assert key in r, key
    assert r["privacy"]["server_public_context_only"] is True


def test_write_and_read_back(study, tmp_path):
    study.write(tmp_path / "results")
    again = StudyResult.read(tmp_path / "results")
    assert set(again.tables) == set(study.tables)
    pd.testing.assert_frame_equal(again.table("glm_coefficients"), study.table("glm_coefficients"),
                                  check_dtype=False)
    assert again.canonical_json() == study.canonical_json()
    json.loads(again.canonical_json())  # canonical JSON: no NaN tokens
    with pytest.raises(ResultsNotFound, match="not a results folder"):
        StudyResult.read(tmp_path)


def test_the_cea_decision_is_one_rule_also_at_zero_effect():
    """Reporting used to decide with its own rule: at dE = 0 it said 'dominant' where the analysis said
    'no effect difference'. Both now come from cea.decide."""
    inc = {"delta_cost": -100.0, "delta_effect": 0.0, "se_delta_cost": 10.0, "se_delta_effect": 0.01,
           "cov_delta": 0.0, "decision": cea.decide(-100.0, 0.0, 50000)[1]}
    at = cea.at_wtp(inc, [], [], 60000)
    assert inc["decision"] == at["decision"] == "no effect difference"
    # INMB at the new threshold, by hand: 60000 * 0 - (-100) = 100; se = sqrt(60000^2 0.01^2 + 10^2) = 600.08
    assert at["inmb"] == 100.0 and at["se_inmb"] == pytest.approx(np.sqrt(600.0 ** 2 + 100.0), rel=1e-12)
