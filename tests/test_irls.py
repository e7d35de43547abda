"""The one IRLS/Newton implementation against statsmodels on pooled rows (1e-6 relative)."""
import numpy as np
import pytest
import statsmodels.formula.api as smf

from fedcost.errors import DataError
from fedcost.models.irls import GLMAnalysis
from fedcost.contract import run_pooled
from oracle import MODELS, SM_FAMILIES, max_rel, statsmodels_fit

TOL = 1e-6  # the contract: each coefficient and standard error within 1e-6 relative


@pytest.fixture(scope="module")
def frames(hospital_paths, dictionary):
    from fedcost.data.validation import load_valid

    return [load_valid(p, dictionary) for p in hospital_paths]


def fit(frames, dictionary, formula, family, **kw):
    out = run_pooled({"m": GLMAnalysis(formula, family, **kw)}, frames, dictionary)
    return out["results"]["m"], out["rounds"]["m"]


@pytest.mark.parametrize("family", list(MODELS))
@pytest.mark.parametrize("start", ["naive", "local"])
def test_matches_statsmodels(frames, dictionary, pooled, family, start):
    res, rounds = fit(frames, dictionary, MODELS[family], family, start=start)
    ref = statsmodels_fit(MODELS[family], family, pooled)
    assert max_rel(res["coef"], ref.params) < TOL
    assert max_rel(res["se"], ref.bse) < TOL
    assert res["deviance"] == pytest.approx(ref.deviance, rel=1e-8)
    assert res["null_deviance"] == pytest.approx(ref.null_deviance, rel=1e-8)
    assert res["dispersion"] == pytest.approx(ref.scale, rel=1e-8)
    assert res["n"] == len(pooled) and res["converged"]
    if family == "gaussian":  # one round, and one refinement round unless CKKS' error estimate is 10x inside 1e-6
        assert rounds in (1, 2)
    else:
        sm_iters = smf.glm(MODELS[family], pooled, family=SM_FAMILIES[family]()).fit().fit_history["iteration"]
        if start == "local":  # the federated path: never more rounds than statsmodels' IRLS iterations
            assert rounds <= sm_iters
        else:  # statsmodels' own start, plus one round for the mean of y and one free final step
            assert rounds <= sm_iters + 2


@pytest.mark.parametrize("family", ["gamma", "poisson", "binomial"])
def test_hospital_clustered_se_matches_statsmodels(frames, dictionary, pooled, family):
    res, _ = fit(frames, dictionary, MODELS[family], family)
    ref = statsmodels_fit(MODELS[family], family, pooled, cov_type="cluster",
                          cov_kwds={"groups": pooled["hospital_id"].astype("category").cat.codes})
    assert max_rel(res["se_cluster"], ref.bse) < TOL


def test_gaussian_robust_costs_one_more_round(frames, dictionary, pooled):
    res, rounds = fit(frames, dictionary, MODELS["gaussian"], "gaussian", robust=True)
    _, plain_rounds = fit(frames, dictionary, MODELS["gaussian"], "gaussian", robust=False)
    ref = statsmodels_fit(MODELS["gaussian"], "gaussian", pooled, cov_type="cluster",
                          cov_kwds={"groups": pooled["hospital_id"].astype("category").cat.codes})
    assert rounds == plain_rounds + 1 and max_rel(res["se_cluster"], ref.bse) < TOL


def test_weights_and_offset(frames, dictionary, pooled):
    frames = [f.assign(w=1 + (f["age"] % 3).astype(float), off=np.log(f["los"].astype(float))) for f in frames]
    data = pooled.assign(w=1 + (pooled["age"] % 3).astype(float), off=np.log(pooled["los"].astype(float)))
    res, _ = fit(frames, dictionary, "cost_total ~ age + comorbidity_score + C(hospital_level)", "gamma",
                 weights="w", offset="off")
    ref = statsmodels_fit("cost_total ~ age + comorbidity_score + C(hospital_level)", "gamma", data,
                          var_weights=data["w"], offset=data["off"])
    assert max_rel(res["coef"], ref.params) < TOL and max_rel(res["se"], ref.bse) < TOL
    assert res["null_deviance"] == pytest.approx(ref.null_deviance, rel=1e-8)


def test_level_missing_at_one_hospital(frames, dictionary, pooled):
    """H01 loses its commonest DRG: its local design has an all-zero column, the pooled one does not."""
    code = str(frames[0]["drg_code"].value_counts().index[0])
    drop = frames[0]["drg_code"] == code
    frames = [frames[0][~drop]] + frames[1:]
    data = pooled[~((pooled.hospital_id == "H01") & (pooled.drg_code == code))]
    assert (data.drg_code == code).sum() > 0
    res, _ = fit(frames, dictionary, MODELS["gamma"], "gamma")
    ref = statsmodels_fit(MODELS["gamma"], "gamma", data)
    assert f"C(drg_code)[T.{code}]" in res["coef"] or code == dictionary.levels("drg_code")[0]
    assert max_rel(res["coef"], ref.params) < TOL and max_rel(res["se"], ref.bse) < TOL


def test_reference_level_absent_everywhere(frames, dictionary, pooled):
    """No hospital has BR21 (the first code): statsmodels then takes BR23 as reference; so do we."""
    frames = [f[f["drg_code"] != "BR21"] for f in frames]
    data = pooled[pooled["drg_code"] != "BR21"]
    res, _ = fit(frames, dictionary, MODELS["gamma"], "gamma")
    ref = statsmodels_fit(MODELS["gamma"], "gamma", data)
    assert max_rel(res["coef"], ref.params) < TOL and max_rel(res["se"], ref.bse) < TOL
    assert "C(drg_code)[T.BR23]" in res["dropped_columns"]
    # the reader learns which level is the baseline and why BR23's column left
    assert res["baselines"]["C(drg_code)"] == "BR23"
    assert res["dropped_reasons"]["C(drg_code)[T.BR23]"].startswith("baseline: the reference level BR21 has no records")
    empty = [c for c in res["dropped_columns"] if c != "C(drg_code)[T.BR23]"]
    assert all(res["dropped_reasons"][c] == "no records at any hospital" for c in empty)


def test_nonpositive_cost_is_refused_for_gamma(frames, dictionary):
    bad = frames[0].copy()
    bad.loc[bad.index[0], "cost_total"] = 0.0
    with pytest.raises(DataError, match="strictly positive"):
        fit([bad], dictionary, "cost_total ~ age", "gamma")


def test_collinear_design_gives_clear_error(frames, dictionary):
    frames = [f.assign(age2=f["age"] * 2.0) for f in frames]
    with pytest.raises(DataError, match="collinear|singular"):
        fit(frames, dictionary, "cost_total ~ age + age2", "gamma")
