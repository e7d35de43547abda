"""Flower's real engines: the federated GLM equals pooled statsmodels for every family, the standard
plan releases what the in-process engine releases, and the echo protocol on the simulation runtime gives
the deployment's results. (Every test that starts Ray lives in this file, so that under `make test`'s
two workers no two Ray heads start at once.)

One study per engine carries the standard plan and all four families (they run
concurrently), so the cost of starting Flower is paid once per engine.
"""
from pathlib import Path

import numpy as np
import pytest

from fedcost.analyses.plan import load_plan
from fedcost.engines import simulation
from fedcost.researcher import run_study
from fedcost.models.glm import GLM
from fedcost.models.irls import GLMAnalysis
from flower_helpers import flower_processes_under, run_echo
from oracle import CONTRACT, MODELS, contract_error, statsmodels_fit

pytestmark = pytest.mark.slow


STANDARD = Path(__file__).resolve().parents[1] / "plans" / "standard.toml"


_RUNS: dict = {}  # one run per engine and worker process, even if pytest tears the fixture down between tests


@pytest.fixture(scope="module", params=["deployment", "simulation"])
def study(request, hospital_paths, tmp_path_factory):
    """The deployment engine carries the four families (test_demo and test_parties run the standard plan on
    it); the simulation engine carries the standard plan too."""
    if request.param not in _RUNS:
        analyses = {fam: GLMAnalysis(f, fam) for fam, f in MODELS.items()}
        if request.param == "simulation":
            analyses = {**load_plan(STANDARD), **analyses}
        _RUNS[request.param] = run_study(analyses, hospital_paths, engine=request.param,
                                         workdir=tmp_path_factory.mktemp(request.param))
    return _RUNS[request.param]


@pytest.fixture(scope="module")
def in_process(hospital_paths):
    return run_study(load_plan(STANDARD), hospital_paths, engine="local")


@pytest.mark.parametrize("family", list(MODELS))
def test_engine_equals_pooled_statsmodels(study, pooled, family):
    res = study.result_json(family)
    ref = statsmodels_fit(MODELS[family], family, pooled)
    assert contract_error(res["coef"], res["se"], ref) < CONTRACT
    assert res["engine"] == study.run["engine"]


def test_standard_plan_releases_what_the_in_process_engine_releases(study, in_process):
    if study.run["engine"] != "simulation":
        pytest.skip("the deployment engine runs the standard plan in test_demo and test_parties")
    names = list(in_process.analyses)
    assert {n: study.analyses[n]["status"] for n in names} == {n: a["status"] for n, a in in_process.analyses.items()}
    assert all(in_process.analyses[n]["status"] == "released" for n in names)
    a = study.tables["kpi"].set_index(["analysis", "metric"])["value"]
    b = in_process.tables["kpi"].set_index(["analysis", "metric"])["value"]
    assert len(b) >= 10
    np.testing.assert_allclose(a[b.index].astype(float), b.astype(float), rtol=1e-6)


def test_engine_rounds_and_privacy(study):
    assert study.output["analyses"]["gaussian"]["rounds"] in (1, 2)  # 2 with the refinement round (README)
    assert study.output["rounds"] == max(a["rounds"] for a in study.output["analyses"].values())
    priv = study.metadata()["privacy"]
    assert priv["server_public_context_only"] and not priv["plaintext_statistics_sent_to_server"]
    assert set(priv["bytes_from_each_hospital"]) == {"H01", "H02", "H03"}


def test_notebook_api_federated_fit(hospital_paths, pooled):
    """What a researcher calls from JupyterLab: same model, results object with summary()."""
    formula = "cost_total ~ age + los + C(hospital_level)"
    model = GLM(formula, "gamma").fit_federated(hospital_paths, engine="local")  # Flower's engines: above
    ref = statsmodels_fit(formula, "gamma", pooled)
    assert contract_error(model.results_.params, model.results_.bse, ref) < CONTRACT
    assert "federated" in model.results_.summary()


@pytest.mark.timeout(300)
def test_simulation_runs_echo_with_the_same_results(tmp_path):
    out, watch, _ = run_echo(simulation.run, tmp_path, 3, timeout=280)
    assert out["engine"] == "simulation"
    # once Ray is up, rounds are fast
    assert max(out["round_seconds"][1:]) < 5
    # the detached local SuperLink, SuperExec, flwr-simulation and Ray are gone
    assert watch.survivors() == []
    assert flower_processes_under(tmp_path) == []
