"""Cost-effectiveness: a worked example by hand, and the federated moments = pandas."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from fedcost.analyses.cea import CEAAnalysis, evaluate
from fedcost.analyses.plan import with_policy
from fedcost.researcher import run_study
from fedcost.policy import Policy
from fedcost.data.validation import load_valid


def _params(wtp=100_000.0, grid=(0.0, 50_000.0, 100_000.0, 200_000.0), draws=20000, seed=1):
    return {"wtp": wtp, "wtp_basis": "test", "intervention": "new", "comparator": "old", "n_draws": draws,
            "seed": seed, "wtp_grid": list(grid)}


def test_worked_example_north_east():
    # comparator: cost 20,000, 1.00 QALY; intervention: cost 30,000, 1.20 QALY; 100 patients each
    S0 = np.array([[4.0e6, 100.0], [100.0, 0.04]])
    S1 = np.array([[9.0e6, 300.0], [300.0, 0.09]])
    r = evaluate([20000.0, 30000.0], [1.0, 1.2], [S0, S1], [100, 100], _params())
    inc = r["incremental"]
    assert inc["delta_cost"] == pytest.approx(10000.0)
    assert inc["delta_effect"] == pytest.approx(0.2)
    assert inc["icer"] == pytest.approx(50000.0)             # 10,000 / 0.2
    assert inc["quadrant"] == "NE" and inc["decision"] == "cost-effective"  # 50,000 <= 100,000
    assert inc["inmb"] == pytest.approx(100000 * 0.2 - 10000)  # 10,000
    # Var(dC) = 4e6/100 + 9e6/100 = 130,000; Var(dE) = 0.0004 + 0.0009 = 0.0013; Cov = 1 + 3 = 4
    assert inc["se_delta_cost"] == pytest.approx(math.sqrt(130000))
    assert inc["se_delta_effect"] == pytest.approx(math.sqrt(0.0013))
    assert inc["cov_delta"] == pytest.approx(4.0)
    # Var(INMB) = lam^2 Var(dE) + Var(dC) - 2 lam Cov = 1e10*0.0013 + 130000 - 800000 = 12,330,000
    var = 1e10 * 0.0013 + 130000 - 2 * 100000 * 4
    assert inc["se_inmb"] == pytest.approx(math.sqrt(var))
    assert inc["prob_cost_effective_normal"] == pytest.approx(sps.norm.cdf(10000 / math.sqrt(var)))
    # CEAC: at lambda 0 the probability is P(dC < 0) = Phi(-10000/sqrt(130000)) ~ 0
    ceac = r["ceac"]
    assert ceac["wtp"] == [0.0, 50000.0, 100000.0, 200000.0]
    assert ceac["probability_normal"][0] == pytest.approx(sps.norm.cdf(-10000 / math.sqrt(130000)))
    # at lambda = ICER the mean INMB is 0: probability 1/2
    assert ceac["probability_normal"][1] == pytest.approx(0.5)
    assert ceac["inmb"][2] == pytest.approx(10000.0)
    # the PSA agrees with the closed form to Monte Carlo error, and the draws have the stated moments
    for p_psa, p_norm in zip(ceac["probability_psa"], ceac["probability_normal"]):
        assert abs(p_psa - p_norm) < 0.015
    d = np.column_stack([r["ce_plane"]["delta_cost"], r["ce_plane"]["delta_effect"]])
    assert d.mean(axis=0) == pytest.approx([10000, 0.2], rel=0.02)
    assert np.cov(d.T)[0, 1] == pytest.approx(4.0, rel=0.1)
    # identical draws every time (every hospital computes the same after decryption)
    r2 = evaluate([20000.0, 30000.0], [1.0, 1.2], [S0, S1], [100, 100], _params())
    assert r2["ce_plane"] == r["ce_plane"]


def test_dominance_quadrants():
    S = np.array([[1.0e6, 0.0], [0.0, 0.01]])
    dom = evaluate([20000.0, 15000.0], [1.0, 1.1], [S, S], [50, 50], _params(draws=100))["incremental"]
    assert dom["quadrant"] == "SE" and dom["decision"] == "dominant" and dom["icer"] < 0
    dmd = evaluate([20000.0, 25000.0], [1.0, 0.9], [S, S], [50, 50], _params(draws=100))["incremental"]
    assert dmd["quadrant"] == "NW" and dmd["decision"] == "dominated"
    sw = evaluate([20000.0, 5000.0], [1.0, 0.9], [S, S], [50, 50], _params(draws=100))["incremental"]
    # 15,000 saved per 0.1 QALY lost = 150,000 per QALY >= 100,000: accept the cheaper strategy
    assert sw["quadrant"] == "SW" and sw["icer"] == pytest.approx(150000) and sw["decision"] == "cost-effective"
    ne = evaluate([20000.0, 40000.0], [1.0, 1.1], [S, S], [50, 50], _params(draws=100))["incremental"]
    assert ne["icer"] == pytest.approx(200000) and ne["decision"] == "not cost-effective"


def test_wtp_from_policy():
    p = with_policy("cea", {}, Policy.load())
    assert p["wtp"] == pytest.approx(3 * 95749)
    assert "GDP per capita" in p["wtp_basis"]


def test_federated_moments_equal_pandas(hospital_paths, dictionary):
    study = run_study({"cea": CEAAnalysis(**with_policy("cea", {}, Policy.load()))}, hospital_paths,
                      engine="local", dictionary=dictionary)
    r = study.result("cea")
    pool = pd.concat([load_valid(p, dictionary) for p in hospital_paths], ignore_index=True)
    coh = pool[pool["strategy"].notna() & pool["qaly"].notna()]
    arms = pd.DataFrame(r["arms"]).set_index("strategy")
    for s in ("standard", "combination"):
        sub = coh[coh["strategy"] == s]
        assert int(arms.loc[s, "n"]) == len(sub)
        assert arms.loc[s, "mean_cost"] == pytest.approx(sub.cost_total.mean(), rel=1e-9)
        assert arms.loc[s, "mean_effect"] == pytest.approx(sub.qaly.mean(), rel=1e-9)
        assert arms.loc[s, "sd_cost"] == pytest.approx(sub.cost_total.std(), rel=1e-8)
        assert arms.loc[s, "sd_effect"] == pytest.approx(sub.qaly.std(), rel=1e-8)
        assert arms.loc[s, "cov_cost_effect"] == pytest.approx(np.cov(sub.cost_total, sub.qaly)[0, 1], rel=1e-7)
    inc = r["incremental"]
    c1, c0 = (coh[coh.strategy == s] for s in ("combination", "standard"))
    dC = c1.cost_total.mean() - c0.cost_total.mean()
    dE = c1.qaly.mean() - c0.qaly.mean()
    assert inc["icer"] == pytest.approx(dC / dE, rel=1e-8)
    assert inc["inmb"] == pytest.approx(3 * 95749 * dE - dC, rel=1e-8)
    assert len(r["ce_plane"]["draw"]) == 1000 and len(r["ceac"]["wtp"]) == 61
