"""Cost-effectiveness of treatment strategies from aggregated moments.

Cohort rows are those with a strategy and an effect (QALY). Two rounds:
``sums`` (per arm n, hospitals, sum of cost and of effect) and ``spread``
(per arm the sums of squared and cross deviations from the federated arm
means: an exact two-pass covariance). Nothing else is needed: the arm means
and their sampling covariance S/n are sufficient for the normal
approximation that the PSA below uses.

* ICER = dC / dE (intervention minus comparator); INMB = lambda dE - dC with
  lambda the willingness to pay per QALY (policy: ``wtp_multiple`` x GDP per
  capita, stated in the result; the domain documents quote 1-3 x GDP per
  capita and 300,000 yuan).
* Dominance: dE > 0 and dC < 0 -> 'dominant'; dE < 0 and dC > 0 ->
  'dominated'; north-east (more costly, more effective) -> cost-effective if
  ICER <= lambda; south-west (cheaper, less effective) -> cost-effective if
  the saving per QALY lost, ICER, is >= lambda.
* PSA: (dC, dE) drawn from the bivariate normal of the difference of arm
  means with covariance S1/n1 + S0/n0 (sampling uncertainty of the means),
  by a fixed seed, so every hospital computes identical draws after
  decryption. CE plane = the draws; CEAC over a lambda grid = share of draws
  with positive INMB (and the closed-form normal probability alongside).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from fedcost.analyses import common as cm
from fedcost.errors import DataError, DisclosureError, UsageError
from fedcost.contract import Analysis, Tables, tidy

DEFAULT_SEED = 20240501


class CEAAnalysis(Analysis):
    """ICER, INMB, dominance, CE plane and CEAC (see the module docstring)."""

    kind = "cea"

    def __init__(self, wtp: float = 3 * 95749.0, wtp_basis: str = "3 x GDP per capita (95,749 yuan) per QALY",
                 strategy: str = "strategy", effect: str = "qaly", cost: str = "cost_total",
                 intervention: str = "combination", comparator: str = "standard", n_draws: int = 1000,
                 seed: int = DEFAULT_SEED, wtp_grid=None, grid_points: int = 61, grid_max_multiple: float = 3.0):
        if intervention == comparator:
            raise UsageError("cea: intervention and comparator must differ")
        grid = [float(x) for x in wtp_grid] if wtp_grid is not None else \
            np.linspace(0.0, grid_max_multiple * float(wtp), int(grid_points)).tolist()
        super().__init__(wtp=float(wtp), wtp_basis=wtp_basis, strategy=strategy, effect=effect, cost=cost,
                         intervention=intervention, comparator=comparator, n_draws=int(n_draws), seed=int(seed),
                         wtp_grid=grid)

    def prepare(self, frame, dictionary):
        p = self.params
        for col in (p["strategy"], p["effect"], p["cost"]):
            if col not in frame.columns:
                raise DataError(f"cea: column {col!r} is not in the data")
        s = frame[p["strategy"]].astype(object)
        c = cm.as_float(frame, p["cost"])
        e = cm.as_float(frame, p["effect"])
        arm = np.where(s == p["intervention"], 1, np.where(s == p["comparator"], 0, -1))
        ok = (arm >= 0) & np.isfinite(c) & np.isfinite(e)
        return {"arm": arm[ok], "c": c[ok], "e": e[ok], "n": int(ok.sum())}

    def records(self, block) -> int:
        return int(block["n"])

    def initial_state(self, sites: int):
        return {"phase": "sums"}

    def statistics(self, block, state, site: int):
        arm, c, e = block["arm"], block["c"], block["e"]
        out = []
        for a in (0, 1):
            m = arm == a
            if state["phase"] == "sums":
                out += [m.sum(), float(m.sum() > 0), c[m].sum(), e[m].sum()]
            else:
                # deviations relative to the arm means: every slot of the vector is of order n, which
                # keeps the CKKS error (spread over the slots of a ciphertext) small for all of them
                dc = (c[m] - state["mean_cost"][a]) / _unit(state["mean_cost"][a])
                de = (e[m] - state["mean_effect"][a]) / _unit(state["mean_effect"][a])
                out += [(dc * dc).sum(), (de * de).sum(), (dc * de).sum()]
        return np.asarray(out, dtype=float)

    def advance(self, state, total):
        t = np.asarray(total, dtype=float)
        if state["phase"] == "sums":
            m = t.reshape(2, 4)
            n = np.round(m[:, 0])
            if np.any(n < 2):
                raise DataError("cea: each strategy arm needs at least 2 cohort records")
            return {"phase": "spread", "n": n.tolist(), "hospitals": np.round(m[:, 1]).tolist(),
                    "mean_cost": (m[:, 2] / n).tolist(), "mean_effect": (m[:, 3] / n).tolist()}
        m = t.reshape(2, 3)
        for a in (0, 1):
            uc, ue = _unit(state["mean_cost"][a]), _unit(state["mean_effect"][a])
            m[a] *= [uc * uc, ue * ue, uc * ue]
        n = np.asarray(state["n"])
        S = [np.array([[m[a, 0], m[a, 2]], [m[a, 2], m[a, 1]]]) / (n[a] - 1) for a in (0, 1)]
        result = evaluate(state["mean_cost"], state["mean_effect"], S, n, self.params)
        result["arms"]["hospitals"] = [int(x) for x in state["hospitals"]]
        return {"phase": "done", "done": True, "result": result}

    def tables(self, name: str, result: dict, labels=None) -> Tables:
        out = Tables()
        inc = dict(result["incremental"])
        inc["icer_lower95"], inc["icer_upper95"] = icer_interval(result["ce_plane"]["delta_cost"],
                                                                 result["ce_plane"]["delta_effect"])
        out.add("cea_summary", tidy(result["arms"], analysis=name),
                "Cost-effectiveness: per strategy arm mean cost and QALYs with spread")
        out.add("cea_incremental", pd.DataFrame([{"analysis": name, **inc}]),
                "Incremental cost and QALYs, ICER (with its PSA interval), dominance, INMB at the willingness to pay")
        out.add("ceac", tidy(result["ceac"], analysis=name),
                "Cost-effectiveness acceptability curve over willingness-to-pay values")
        out.add("ce_plane", tidy(result["ce_plane"], analysis=name),
                "Probabilistic sensitivity analysis draws of incremental cost and QALYs")
        out.kpi("icer", inc["icer"], "yuan per QALY", name, f"{inc['intervention']} vs {inc['comparator']}: {inc['decision']}")
        out.kpi("inmb", inc["inmb"], "yuan", name, f"incremental net monetary benefit at {inc['wtp']:,.0f} yuan/QALY")
        out.kpi("prob_cost_effective", inc["prob_cost_effective_psa"], "probability", name,
                "share of PSA draws with positive INMB at the willingness to pay")
        return out

    def disclose(self, result, disclosure):
        arms = result["arms"]
        for name, n, h in zip(arms["strategy"], arms["n"], arms["hospitals"]):
            if n < disclosure["min_cell_records"] or h < disclosure["min_hospitals"]:
                raise DisclosureError(f"cea: arm {name} has {n} records from {h} hospitals; the policy needs "
                                      f"{disclosure['min_cell_records']} records and {disclosure['min_hospitals']} "
                                      "hospitals per arm")
        return result


def evaluate(mean_cost, mean_effect, S, n, params: dict) -> dict:
    """Everything from the arm means [comparator, intervention], covariances S and sizes n.

    Pure function, so a worked example can be checked by hand.
    """
    mc, me = np.asarray(mean_cost, float), np.asarray(mean_effect, float)
    n = np.asarray(n, float)
    dC, dE = float(mc[1] - mc[0]), float(me[1] - me[0])
    V = S[1] / n[1] + S[0] / n[0]  # covariance of (dC, dE)
    lam = params["wtp"]
    icer = dC / dE if dE != 0 else None
    quadrant, decision = decide(dC, dE, lam)
    inmb = lam * dE - dC
    var_inmb = lam ** 2 * V[1, 1] + V[0, 0] - 2 * lam * V[0, 1]
    se_inmb = float(np.sqrt(max(var_inmb, 0.0)))
    rng = np.random.default_rng(params["seed"])
    z = rng.standard_normal((params["n_draws"], 2))
    L = _chol2(V)
    draws = np.array([dC, dE]) + z @ L.T
    grid = np.asarray(params["wtp_grid"], dtype=float)
    nmb = grid[None, :] * draws[:, 1:2] - draws[:, 0:1]
    p_psa = (nmb > 0).mean(axis=0)
    mean_nmb = grid * dE - dC
    sd_nmb = np.sqrt(np.maximum(grid ** 2 * V[1, 1] + V[0, 0] - 2 * grid * V[0, 1], 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_norm = np.where(sd_nmb > 0, sps.norm.cdf(mean_nmb / sd_nmb), (mean_nmb > 0).astype(float))
    p_at = float(((lam * draws[:, 1] - draws[:, 0]) > 0).mean())
    z95 = float(sps.norm.ppf(0.975))
    arms = {
        "strategy": [params["comparator"], params["intervention"]], "role": ["comparator", "intervention"],
        "n": [int(x) for x in n], "mean_cost": mc.tolist(), "mean_effect": me.tolist(),
        "sd_cost": [float(np.sqrt(s[0, 0])) for s in S], "sd_effect": [float(np.sqrt(s[1, 1])) for s in S],
        "cov_cost_effect": [float(s[0, 1]) for s in S],
        "se_mean_cost": [float(np.sqrt(s[0, 0] / k)) for s, k in zip(S, n)],
        "se_mean_effect": [float(np.sqrt(s[1, 1] / k)) for s, k in zip(S, n)],
    }
    incremental = {
        "intervention": params["intervention"], "comparator": params["comparator"],
        "delta_cost": dC, "delta_effect": dE, "se_delta_cost": float(np.sqrt(V[0, 0])),
        "se_delta_effect": float(np.sqrt(V[1, 1])), "cov_delta": float(V[0, 1]),
        "icer": icer, "quadrant": quadrant, "decision": decision, "wtp": lam, "wtp_basis": params["wtp_basis"],
        "inmb": inmb, "se_inmb": se_inmb, "inmb_lower95": inmb - z95 * se_inmb, "inmb_upper95": inmb + z95 * se_inmb,
        "prob_cost_effective_psa": p_at,
        "prob_cost_effective_normal": float(sps.norm.cdf(inmb / se_inmb)) if se_inmb > 0 else float(inmb > 0),
        "n_draws": params["n_draws"], "seed": params["seed"],
    }
    return {
        "arms": arms, "incremental": incremental,
        "ceac": {"wtp": grid.tolist(), "probability_psa": p_psa.tolist(), "probability_normal": p_norm.tolist(),
                 "inmb": mean_nmb.tolist()},
        "ce_plane": {"draw": list(range(len(draws))), "delta_cost": draws[:, 0].tolist(),
                     "delta_effect": draws[:, 1].tolist()},
        "method": ("ICER = dC/dE, INMB = wtp*dE - dC; PSA draws (dC, dE) from the bivariate normal of the "
                   "difference in arm means with covariance S1/n1 + S0/n0, fixed seed; CEAC = share of draws "
                   "with INMB > 0 (probability_normal: closed form)."),
    }


def decide(dC: float, dE: float, wtp: float) -> tuple[str, str]:
    """(quadrant of the CE plane, decision) at a willingness to pay: the one rule, used everywhere."""
    if dE > 0 and dC <= 0:
        return "SE", "dominant"
    if dE < 0 and dC >= 0:
        return "NW", "dominated"
    if dE > 0:
        return "NE", "cost-effective" if dC / dE <= wtp else "not cost-effective"
    if dE < 0:
        return "SW", "cost-effective" if dC / dE >= wtp else "not cost-effective"
    return "none", "no effect difference"


def at_wtp(incremental: dict, delta_cost, delta_effect, wtp: float) -> dict:
    """The incremental result at another willingness to pay: INMB, its interval, the decision and the
    probability of cost-effectiveness over the same PSA draws (``delta_cost``, ``delta_effect``)."""
    r = dict(incremental)
    dc, de = float(r["delta_cost"]), float(r["delta_effect"])
    var = wtp ** 2 * float(r["se_delta_effect"]) ** 2 + float(r["se_delta_cost"]) ** 2 - 2 * wtp * float(r["cov_delta"])
    se = float(np.sqrt(max(var, 0.0)))
    z95 = float(sps.norm.ppf(0.975))
    inmb = wtp * de - dc
    r.update(wtp=float(wtp), wtp_basis="report parameter", inmb=inmb, se_inmb=se,
             inmb_lower95=inmb - z95 * se, inmb_upper95=inmb + z95 * se, decision=decide(dc, de, wtp)[1],
             prob_cost_effective_normal=float(sps.norm.cdf(inmb / se)) if se > 0 else float(inmb > 0))
    draws_c, draws_e = np.asarray(delta_cost, float), np.asarray(delta_effect, float)
    if len(draws_c):
        r["prob_cost_effective_psa"] = float(np.mean(wtp * draws_e - draws_c > 0))
    return r


def icer_interval(delta_cost, delta_effect) -> tuple[float | None, float | None]:
    """Percentile 95% interval of the ICER over the PSA draws; (None, None) unless every draw gains effect
    (with draws on both sides of dE = 0 the ratio has no interval)."""
    dc, de = np.asarray(delta_cost, float), np.asarray(delta_effect, float)
    if not len(de) or not (de > 0).all():
        return None, None
    icers = dc / de
    return float(np.quantile(icers, 0.025)), float(np.quantile(icers, 0.975))


def _unit(mean: float) -> float:
    return abs(mean) if mean else 1.0


def _chol2(V: np.ndarray) -> np.ndarray:
    """Cholesky factor of a 2x2 covariance, tolerating a singular one."""
    a = np.sqrt(max(V[0, 0], 0.0))
    b = V[0, 1] / a if a > 0 else 0.0
    c = np.sqrt(max(V[1, 1] - b * b, 0.0))
    return np.array([[a, 0.0], [b, c]])
