"""The truth a synthetic federation was generated from, in the terms a fit reports.

The structural coefficients are in ``truth['parameters']``; the case-mix model
that a federated fit can use (dictionary columns only) omits hospital effects
and trends, so its pseudo-true values (the fit's limit on these very records)
are found here by a Gamma(log) IRLS on the expected costs.
"""
from __future__ import annotations

import math

import numpy as np

from fedcost.data.synth_model import (
    B_AGE, B_COM, B_LOS, BASE_YEAR, CASEMIX_FORMULA, END, GENERATOR_VERSION, LEVEL_EFFECT, LEVELS, QALY_HORIZON,
    READMIT, START,
)


def pseudo_true(arrays: list[dict], codes: list[str], tol: float = 1e-10, max_iter: int = 50
                 ) -> dict[str, float] | None:
    """What a pooled Gamma(log) fit of CASEMIX_FORMULA converges to on these covariates.

    That formula leaves out the hospital efficiency effects, trends and the
    combination arm, so its coefficients are not the structural ones; its
    pseudo-true values are the solution of the GLM score equations with each
    cost replaced by its true mean mu (Fisher scoring; for Gamma with a log
    link the working weights are 1, so X'X is fixed). A fit on the data lands
    within sampling error of them. None when the records cannot identify them.
    """
    drg_seen = sorted(set().union(*(np.unique(a["drg"]).tolist() for a in arrays)))
    lvl_seen = sorted(set().union(*(np.unique(a["level"]).tolist() for a in arrays)))
    drg_cols, lvl_cols = drg_seen[1:], lvl_seen[1:]
    names = (["Intercept"] + [f"C(drg_code)[T.{codes[g]}]" for g in drg_cols]
             + [f"C(hospital_level)[T.{LEVELS[v]}]" for v in lvl_cols] + ["age", "los", "comorbidity_score"])
    k = len(names)
    drg_pos = {g: 1 + i for i, g in enumerate(drg_cols)}
    lvl_pos = {v: 1 + len(drg_cols) + i for i, v in enumerate(lvl_cols)}

    def blocks(chunk: int = 200_000):
        for a in arrays:
            for lo in range(0, len(a["mu"]), chunk):
                sl = slice(lo, lo + chunk)
                m = len(a["mu"][sl])
                X = np.zeros((m, k))
                X[:, 0] = 1.0
                rows = np.arange(m)
                for idx, pos in ((a["drg"][sl], drg_pos), (a["level"][sl], lvl_pos)):
                    col = np.array([pos.get(int(i), -1) for i in range(max(len(codes), len(LEVELS)))])[idx]
                    hit = col >= 0
                    X[rows[hit], col[hit]] = 1.0
                X[:, -3], X[:, -2], X[:, -1] = a["age"][sl], a["los"][sl], a["com"][sl]
                yield X, a["mu"][sl]

    xtx, xty = np.zeros((k, k)), np.zeros(k)
    for X, mu in blocks():
        xtx += X.T @ X
        xty += X.T @ np.log(mu)
    if np.linalg.matrix_rank(xtx) < k:          # too few records to identify every coefficient
        return None
    beta = np.linalg.solve(xtx, xty)            # start: least squares on log mu
    for _ in range(max_iter):
        xtz = np.zeros(k)
        for X, mu in blocks():
            eta = X @ beta
            xtz += X.T @ (eta + mu / np.exp(eta) - 1.0)
        new = np.linalg.solve(xtx, xtz)
        done = np.max(np.abs(new - beta)) < tol
        beta = new
        if done:
            break
    return {name: round(float(b), 8) for name, b in zip(names, beta)}


def truth_document(n_hospitals, rows, seed, dictionary, codes, weights, intercept, drg_eff, coef_comb, scal,
           hospitals, stats, cohort_drgs) -> dict:
    ids = [h["hospital_id"] for h in hospitals]
    slopes = np.array([h["slope"] for h in hospitals])
    year_trend = float(np.round(slopes.mean(), 6))
    h1 = hospitals[0]
    # exact formula: hospital intercepts (level + efficiency) and hospital slopes
    # statsmodels keeps the DRGs it sees, the first in sorted order as reference
    seen = sorted(set().union(*(np.unique(s["_arrays"]["drg"]).tolist() for s in stats.values())))
    ref = drg_eff[seen[0]]
    coef = {"Intercept": round(intercept + ref + LEVEL_EFFECT[h1["hospital_level"]] + h1["efficiency"], 6)}
    coef.update({f"C(drg_code)[T.{codes[g]}]": round(float(drg_eff[g] - ref), 6) for g in seen[1:]})
    for h in hospitals[1:]:
        coef[f"C(hospital_id)[T.{h['hospital_id']}]"] = round(
            LEVEL_EFFECT[h["hospital_level"]] + h["efficiency"] - LEVEL_EFFECT[h1["hospital_level"]]
            - h1["efficiency"], 6)
    coef.update({"age": B_AGE, "los": B_LOS, "comorbidity_score": B_COM})
    has_comb = sum(s["combination_rows"] for s in stats.values()) > 0
    if has_comb:
        coef["combination"] = coef_comb
    for h in hospitals:
        coef[f"C(hospital_id)[{h['hospital_id']}]:year_c"] = h["slope"]
    comb_term = " + combination" if has_comb else ""
    if n_hospitals > 1:
        formula = ("cost_total ~ age + los + comorbidity_score + C(drg_code) + C(hospital_id)"
                   + comb_term + " + C(hospital_id):year_c")
    else:  # one hospital: no hospital terms
        coef = {k: v for k, v in coef.items() if not k.startswith("C(hospital_id)[T.")}
        coef["year_c"] = coef.pop(f"C(hospital_id)[{ids[0]}]:year_c")
        formula = "cost_total ~ age + los + comorbidity_score + C(drg_code)" + comb_term + " + year_c"
    casemix = pseudo_true([s["_arrays"] for s in stats.values()], codes)
    n_cohort = sum(s["cohort_rows"] for s in stats.values())
    sum_mu0 = sum(s["cohort_sum_mu0"] for s in stats.values())
    cohort = None
    if cohort_drgs:
        cohort = {
            "drgs": cohort_drgs,
            "fraction_of_rows": "8-12% of each hospital's rows (hospitals.*.cohort_fraction)",
            "assignment": "strategy randomised 1:1 within the cohort",
            "cost_ratio": scal["combination_cost_ratio"],
            "log_cost_ratio": coef_comb,
            "incremental_cost": round(sum_mu0 / n_cohort * (scal["combination_cost_ratio"] - 1), 2)
            if n_cohort else None,
            "incremental_cost_note": "expected mean cost difference combination - standard (yuan per admission) "
                                     "given the cohort's covariates",
            "incremental_qaly": scal["combination_qaly"],
            "qaly_horizon_years": QALY_HORIZON,
            "response_probability": {"standard": scal["response_standard"],
                                     "combination": round(scal["response_standard"]
                                                          + scal["response_combination_gain"], 3)},
            "rows": n_cohort,
        }
    return {
        "generator": f"fedcost.data.synth v{GENERATOR_VERSION}",
        "seed": seed,
        "n_hospitals": n_hospitals,
        "rows_per_hospital_mean": rows,
        "dictionary": {"name": dictionary.name, "version": dictionary.version},
        "period": {"discharge_from": str(START), "discharge_to": str(END)},
        "family": "gamma", "link": "log",
        "shape": scal["shape"],
        "scale": round(1 / scal["shape"], 8),
        "derived_columns": {
            "year_c": f"discharge_date year - {BASE_YEAR} (values -1, 0, 1)",
            "combination": "1 if strategy == 'combination' else 0 (missing strategy counts 0)",
        },
        "formula": formula,
        "coef": coef,
        "casemix_formula": CASEMIX_FORMULA,
        "casemix_coef": casemix,
        "casemix_note": "pseudo-true values: what a pooled Gamma(log) fit of casemix_formula (dictionary columns "
                        "only, no derived columns) converges to on these records; it leaves out the hospital "
                        "effects, trends and the combination arm, so it differs from the structural parameters, "
                        "but a fit on the data lands within sampling error of these values",
        "parameters": {
            "Intercept": intercept, "age": B_AGE, "los": B_LOS, "comorbidity_score": B_COM,
            "year_trend": year_trend,
            "year_trend_note": "mean of the hospitals' log-scale yearly slopes; per-case growth exp(slope)-1",
            "level_effect": dict(LEVEL_EFFECT),
            "drg_effect": {c: float(e) for c, e in zip(codes, drg_eff)},
            "drg_weight": {c: float(w) for c, w in zip(codes, weights)},
            "combination": coef_comb if cohort_drgs else None,
        },
        "readmission": {"family": "binomial", "link": "logit",
                        "formula": "readmission_30d ~ age + comorbidity_score", "coef": dict(READMIT),
                        "note": "deaths are set to 0 after drawing"},
        "hospitals": {h["hospital_id"]: {
            "region": h["region"], "hospital_level": h["hospital_level"], "rows": h["rows"],
            "efficiency": h["efficiency"],
            "level_effect": LEVEL_EFFECT[h["hospital_level"]],
            "log_cost_effect": round(LEVEL_EFFECT[h["hospital_level"]] + h["efficiency"], 6),
            "trend": h["slope"],
            "trend_deviation": round(h["slope"] - year_trend, 6),
            "per_case_growth": round(math.expm1(h["slope"]), 6),
            "alert": ("red" if math.expm1(h["slope"]) > 0.10 else
                      "yellow" if math.expm1(h["slope"]) > 0.08 else "none"),
            "drug_share_mean": h["drug_share"],
            "cohort_fraction": h["cohort_fraction"],
            "cohort_rows": stats[h["hospital_id"]]["cohort_rows"],
        } for h in hospitals},
        "cohort": cohort,
    }
