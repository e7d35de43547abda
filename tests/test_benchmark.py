"""Benchmarking through the encrypted federation = statsmodels / pandas on the pooled rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from fedcost.analyses.benchmark import DEFAULT_FORMULA, BenchmarkAnalysis
from fedcost.researcher import run_study
from fedcost.contract import run_pooled
from fedcost.data.validation import load_valid


MODEL: dict = {}


@pytest.fixture(scope="module")
def frames(hospital_paths, dictionary):
    return [load_valid(p, dictionary) for p in hospital_paths]


@pytest.fixture(scope="module")
def pool(frames):
    df = pd.concat([f.assign(site=i) for i, f in enumerate(frames)], ignore_index=True)
    model = smf.glm(DEFAULT_FORMULA, df, family=sm.families.Gamma(sm.families.links.Log())).fit()
    df["mu"] = model.fittedvalues
    df["drg"] = df["drg_code"].astype(str)
    MODEL["fit"] = model
    return df


@pytest.fixture(scope="module")
def study(hospital_paths, dictionary):
    return run_study({"bench": BenchmarkAnalysis()}, hospital_paths, engine="local", dictionary=dictionary)


@pytest.fixture(scope="module")
def pooled_raw(frames, dictionary):
    return run_pooled({"b": BenchmarkAnalysis()}, frames, dictionary)["results"]["b"]


def _by_site(pool, table):
    """Released rows are pseudonymised: match them to sites by their record counts (distinct here)."""
    h = pd.DataFrame(table)
    sizes = pool.groupby("site").size()
    assert sizes.is_unique
    h["site"] = h["n"].map({v: k for k, v in sizes.items()})
    return h.set_index("site").sort_index()


def test_model_and_oe_match_statsmodels(study, pool):
    r = study.result("bench")
    m = MODEL["fit"]
    for name, value in m.params.items():
        assert r["model"]["coef"][name] == pytest.approx(value, rel=1e-6, abs=1e-9)
        assert r["model"]["se"][name] == pytest.approx(m.bse[name], rel=1e-6)
    h = _by_site(pool, r["hospitals_table"])
    g = pool.groupby("site")
    oe = g["cost_total"].sum() / g["mu"].sum()
    np.testing.assert_allclose(h["oe"], oe, rtol=1e-6)
    se = np.sqrt(m.scale * (pool["mu"] ** 2).groupby(pool["site"]).sum()) / g["mu"].sum()
    np.testing.assert_allclose(h["se"], se, rtol=1e-6)
    np.testing.assert_allclose(h["oe_lower95"], oe - 1.959963984540054 * se, rtol=1e-6)
    assert (h["n"] == g.size()).all()
    labels = r["hospitals_table"]["hospital"]
    assert len(labels) == 3 and all(lbl.startswith("Hospital ") for lbl in labels)
    assert r["funnel"]["hospitals"] == 3


def test_per_case_cost_coefficient_and_cv(study, pool):
    r = study.result("bench")
    h = _by_site(pool, r["hospitals_table"])
    per_case = pool.groupby("site")["cost_total"].mean()
    np.testing.assert_allclose(h["per_case_cost"], per_case, rtol=1e-9)
    coef = per_case / pool["cost_total"].mean()
    np.testing.assert_allclose(h["cost_coefficient"], coef, rtol=1e-9)
    flags = np.where(coef > 1.2, "high", np.where(coef < 0.8, "low", "within"))
    assert list(h["cost_coefficient_flag"]) == list(flags)
    assert r["cost_coefficient"]["cv_across_hospitals"] == pytest.approx(per_case.std(ddof=1) / per_case.mean(), rel=1e-9)


def test_drg_weights_trimmed_means(study, pool, pooled_raw):
    # The raw (pre-disclosure) weights: trimmed mean of each group at its federated percentile bounds
    w = pd.DataFrame(pooled_raw["drg_weights"])
    w = w[w["drg_code"] != "All"].set_index("drg_code")
    lo, hi = w["trim_lower"].to_dict(), w["trim_upper"].to_dict()
    keep = pool.apply(lambda r: lo.get(r.drg) is not None and lo[r.drg] <= r.cost_total <= hi[r.drg], axis=1)
    kept = pool[keep]
    tmean = kept.groupby("drg")["cost_total"].mean()
    weight = tmean / kept["cost_total"].mean()
    present = w[w["n"] > 0]
    np.testing.assert_allclose(present["trimmed_mean"].astype(float), tmean[present.index], rtol=1e-9)
    np.testing.assert_allclose(present["relative_weight"].astype(float), weight[present.index], rtol=1e-9)
    # bounds are the pandas percentiles to within the stated accuracy
    q_lo = pool.groupby("drg")["cost_total"].quantile(0.025)
    q_hi = pool.groupby("drg")["cost_total"].quantile(0.975)
    acc = present["trim_bound_accuracy"].astype(float)
    assert (np.abs(present["trim_lower"].astype(float) - q_lo[present.index]) <= acc + 1e-6).all()
    assert (np.abs(present["trim_upper"].astype(float) - q_hi[present.index]) <= acc + 1e-6).all()
    # CMI = mean weight of a hospital's cases; cost per weighted case
    pool = pool.assign(w=pool["drg"].map(w["relative_weight"].astype(float)))
    h = _by_site(pool, pooled_raw["hospitals_table"] | {"hospital": pooled_raw["hospitals_table"]["site"]})
    np.testing.assert_allclose(h["cmi"], pool.groupby("site")["w"].mean(), rtol=1e-9)
    np.testing.assert_allclose(h["cost_per_weighted_case"],
                               pool.groupby("site")["cost_total"].sum() / pool.groupby("site")["w"].sum(), rtol=1e-9)
    # the federated release agrees on every released group and suppresses small ones
    rel = pd.DataFrame(study.result("bench")["drg_weights"]).set_index("drg_code")
    shown = rel[~rel["suppressed"] & (rel.index != "All") & (rel["n"].notna())]
    shown = shown[shown["n"] > 0]
    np.testing.assert_allclose(shown["relative_weight"].astype(float), weight[shown.index], rtol=1e-6)
    # primary suppression exactly where the pooled rows have < 5 records or < 3 hospitals (both directions)
    pooled_small = {i for i in w.index if 0 < w.loc[i, "n"] and (w.loc[i, "n"] < 5 or w.loc[i, "hospitals"] < 3)}
    assert pooled_small, "the test data should have small DRG groups"
    assert set(rel.index[rel["suppression"] == "primary"]) == pooled_small


def test_rounds_run_side_by_side(study):
    # model chain (local start + Newton steps + O/E) and weights chain (4 rounds) share rounds
    assert study.output["analyses"]["bench"]["rounds"] <= 8


def test_pseudonyms_and_names(pooled_raw):
    rules = {"min_hospitals": 3, "min_cell_records": 5, "max_parameter_fraction": 0.2}
    anon = BenchmarkAnalysis().disclose(pooled_raw, {**rules, "name_hospitals": False})
    assert anon["hospitals_table"]["hospital"] == ["Hospital A", "Hospital B", "Hospital C"]
    assert "secret" not in anon and "site" not in anon["hospitals_table"]
    # the letters follow a keyed order, not the order in which sites connected
    named = BenchmarkAnalysis().disclose(pooled_raw, {**rules, "name_hospitals": True})
    assert sorted(named["hospitals_table"]["hospital"]) == ["site:0", "site:1", "site:2"]
    with pytest.raises(Exception):
        BenchmarkAnalysis().disclose(pooled_raw, {**rules, "min_hospitals": 4, "name_hospitals": False})


def test_a_hospital_whose_block_comes_from_its_cache_steps_like_one_that_built_it(frames, dictionary):
    """The hospital keeps (block, fitted attributes) between rounds; the composed GLM's baseline names must
    come back with them, or a cached hospital says 'the first level' where a fresh one says the code."""
    import pickle

    from fedcost.analyses import kinds

    fresh = BenchmarkAnalysis()
    block = fresh.prepare(frames[0], dictionary)
    attrs = {k: v for k, v in vars(fresh).items() if k.endswith("_")}
    cached = kinds.from_spec(fresh.spec())
    vars(cached).update(pickle.loads(pickle.dumps(attrs)))  # as hospital._prepared restores them from disk
    assert cached.model_.factor_levels_ == fresh.model_.factor_levels_ and fresh.model_.factor_levels_
    # the model's first step from the same sum: the same baselines, so the same digest at every hospital
    state = fresh.initial_state(1)["model"]
    total = fresh.model_.statistics(block["design"], state)
    assert fresh.model_.advance(state, total) == cached.model_.advance(state, total)
