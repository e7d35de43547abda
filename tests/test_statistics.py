"""A block's statistics (the only thing a hospital shares): layouts, moments, WLS and GLM point sums."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import statsmodels.api as sm

from fedcost.models.design import Design
from fedcost.models.families import get_family
from fedcost.models.statistics import (
    Layout, glm_point, moments, point_layout, scale_point, unscale_point, wls, wls_layout, working_response,
)


def _design(n=200, seed=0, offset=True) -> Design:
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(50, 10, n), rng.integers(0, 2, n)])
    eta = 7.0 + 0.01 * X[:, 1] + 0.3 * X[:, 2]
    off = rng.normal(0, 0.1, n) if offset else np.zeros(n)
    y = rng.gamma(4.0, np.exp(eta + off) / 4.0)
    return Design(X=X, y=y, weights=rng.uniform(0.5, 2.0, n), offset=off, columns=["Intercept", "age", "male"],
                  factor_slices={}, n_dropped_missing=0)


def test_layout_packs_symmetric_matrices_as_their_upper_triangle():
    lay = Layout((("n", 1), ("v", 2), ("m", "sym", 3)))
    assert lay.size == 1 + 2 + 6
    m = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 5.0], [3.0, 5.0, 6.0]])
    vec = lay.pack(n=7, v=[8.0, 9.0], m=m)
    np.testing.assert_array_equal(vec, [7, 8, 9, 1, 2, 3, 4, 5, 6])  # row by row above the diagonal
    out = lay.unpack(vec)
    assert out["n"] == 7.0 and isinstance(out["n"], float)
    np.testing.assert_array_equal(out["v"], [8, 9])
    np.testing.assert_array_equal(out["m"], m)
    with pytest.raises(ValueError, match="8 values, layout expects 9"):
        lay.unpack(vec[:-1])
    assert wls_layout(4).size == 10 + 4 + 1 and point_layout(2).size == 2 + 3 * 3 + 3


def test_moments_of_a_small_block_by_hand():
    X = np.array([[1.0, 0.0, 2.0], [1.0, 3.0, 0.0], [1.0, 0.0, 0.0]])
    d = Design(X=X, y=np.array([1.0, 2.0, 4.0]), weights=np.array([1.0, 2.0, 1.0]), offset=np.log([1.0, 2.0, 4.0]),
               columns=["a", "b", "c"], factor_slices={}, n_dropped_missing=0)
    m = moments(d)
    assert (m["n"], m["hospitals"], m["sw"]) == (3, 1.0, 4.0)
    assert m["swy"] == 1 + 4 + 4 and m["swy2"] == 1 + 8 + 16
    np.testing.assert_array_equal(m["colsum"], [3, 1, 1])        # non-zero entries per column
    np.testing.assert_array_equal(m["colss"], [3.0, 9.0, 4.0])
    assert m["swy_eoff"] == pytest.approx(1 / 1 + 2 * 2 / 2 + 4 / 4)   # sum w y exp(-offset) = 1 + 2 + 1
    assert m["sw_eoff"] == pytest.approx(1 * 1 + 2 * 2 + 1 * 4)       # sum w exp(offset) = 9
    empty = moments(Design(X=np.zeros((0, 3)), y=np.zeros(0), weights=np.zeros(0), offset=np.zeros(0),
                           columns=["a", "b", "c"], factor_slices={}, n_dropped_missing=0))
    assert empty["n"] == 0 and empty["hospitals"] == 0.0


def test_wls_sums_and_additivity():
    d = _design()
    w, z = d.weights, np.log(d.y)
    s = wls(d.X, z, w)
    W = np.diag(w)
    np.testing.assert_allclose(s["xtwx"], d.X.T @ W @ d.X, rtol=1e-12)
    np.testing.assert_allclose(s["xtwz"], d.X.T @ W @ z, rtol=1e-12)
    assert s["ztwz"] == pytest.approx(z @ W @ z, rel=1e-12)
    # the statistics of the union are the sum of the blocks' statistics
    a, b = wls(d.X[:70], z[:70], w[:70]), wls(d.X[70:], z[70:], w[70:])
    np.testing.assert_allclose(a["xtwx"] + b["xtwx"], s["xtwx"], rtol=1e-12)
    beta = np.linalg.solve(s["xtwx"], s["xtwz"])
    ref = sm.WLS(z, d.X, weights=w).fit()
    np.testing.assert_allclose(beta, ref.params, rtol=1e-10)


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.DomainWarning")
@pytest.mark.parametrize("family, link", [("gamma", "log"), ("gamma", "inverse"), ("poisson", "sqrt")])
def test_glm_point_matches_statsmodels_score_and_hessians(family, link):
    d = _design(offset=(link == "log"))
    if family == "poisson":
        d = Design(X=d.X, y=np.round(d.y / 100.0), weights=d.weights, offset=d.offset, columns=d.columns,
                   factor_slices={}, n_dropped_missing=0)
    fam, lk = get_family(family, link)
    sm_family = {"gamma": sm.families.Gamma, "poisson": sm.families.Poisson}[family](
        {"log": sm.families.links.Log(), "inverse": sm.families.links.InversePower(),
         "sqrt": sm.families.links.Sqrt()}[link])
    model = sm.GLM(d.y, d.X, family=sm_family, offset=d.offset, var_weights=d.weights)
    start = {"log": [7.2, 0.008, 0.2], "inverse": [1 / 2000, -1e-6, -1e-5], "sqrt": [3.0, 0.1, 0.5]}[link]
    beta = np.array(start)  # not the optimum: the score is far from 0
    p = glm_point(d, fam, lk, beta, None)
    np.testing.assert_allclose(p["U"], model.score(beta, scale=1.0), rtol=1e-8)
    np.testing.assert_allclose(p["h_obs"], -model.hessian(beta, scale=1.0, observed=True), rtol=1e-8)
    np.testing.assert_allclose(p["h_exp"], -model.hessian(beta, scale=1.0, observed=False), rtol=1e-8)
    np.testing.assert_allclose(p["meat"], np.outer(p["U"], p["U"]))
    mu = model.predict(beta, offset=d.offset)
    assert p["deviance"] == pytest.approx(model.family.deviance(d.y, mu, var_weights=d.weights), rel=1e-10)
    assert p["pearson"] == pytest.approx(np.sum(d.weights * (d.y - mu) ** 2 / model.family.variance(mu)), rel=1e-10)


def test_at_the_optimum_the_score_vanishes_and_the_null_deviance_is_statsmodels():
    d = _design(offset=False)
    fam, lk = get_family("gamma")
    res = sm.GLM(d.y, d.X, family=sm.families.Gamma(sm.families.links.Log()), var_weights=d.weights
                 ).fit(tol=1e-13, maxiter=100)
    ybar = np.sum(d.weights * d.y) / np.sum(d.weights)
    p = glm_point(d, fam, lk, res.params, ("constant", ybar))
    assert np.max(np.abs(p["U"])) < 1e-6 * np.max(np.abs(d.X.T @ (d.weights * d.y)))
    assert p["deviance"] == pytest.approx(res.deviance, rel=1e-10)
    assert p["pearson"] == pytest.approx(res.pearson_chi2, rel=1e-10)
    assert p["null_deviance"] == pytest.approx(res.null_deviance, rel=1e-10)
    # Fisher information times the dispersion inverts to statsmodels' covariance
    np.testing.assert_allclose(np.linalg.inv(p["h_exp"]) * res.scale, res.cov_params(), rtol=1e-6)


def test_scale_point_is_the_point_of_the_scaled_columns_and_unscales_back():
    d = _design()
    fam, lk = get_family("gamma")
    beta = np.array([7.1, 0.009, 0.25])
    scale = np.array([1.0, 1 / 50.0, 2.0])
    # the oracle: the columns really multiplied by s, at beta / s (X s (beta / s) = X beta, the same means)
    wide = dataclasses.replace(d, X=d.X * scale)
    oracle = glm_point(wide, fam, lk, beta / scale, None)
    ref = glm_point(d, fam, lk, beta, None)
    got = scale_point(ref, scale)
    back = unscale_point(got, scale)
    for key in ("U", "h_obs", "h_exp", "meat"):
        np.testing.assert_allclose(got[key], oracle[key], rtol=1e-10, err_msg=key)
        np.testing.assert_allclose(back[key], ref[key], rtol=1e-12, err_msg=key)
    assert got["deviance"] == pytest.approx(oracle["deviance"], rel=1e-12)


def test_working_response_as_irls_starts():
    d = _design()
    fam, lk = get_family("gamma")
    mu = np.full(d.n, d.y.mean())
    z, W = working_response(d, fam, lk, mu)
    # log link: z = log mu - offset + (y - mu) / mu; W = w mu^2 / mu^2 = w
    np.testing.assert_allclose(z, np.log(mu) - d.offset + (d.y - mu) / mu, rtol=1e-12)
    np.testing.assert_allclose(W, d.weights, rtol=1e-12)
    fam, lk = get_family("gaussian")
    z, W = working_response(d, fam, lk, mu)
    np.testing.assert_allclose(z, d.y - d.offset, rtol=1e-12)
    np.testing.assert_allclose(W, d.weights)
