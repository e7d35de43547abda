"""One synthetic hospital's records, drawn from the generating model (`synth_model`).

The DRG mix by level, then per record age, sex, diagnosis, dates and length of
stay, comorbidity, admission type, payer, discharge status, readmission, the
Gamma total cost split into components in whole cents, and the therapy cohort.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fedcost.data.synth_model import (
    B_AGE, B_COM, B_LOS, BASE_YEAR, COMPONENTS, END, LEVEL_EFFECT, LEVELS, QALY_HORIZON, READMIT, START,
)


def mean_comorbidity(age: float) -> float:
    return 1.2 * math.exp(0.025 * (age - 60.0))


def pick(rng, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row from row-wise probabilities (n x k), vectorised."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(len(probs))[:, None]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


def one_hospital(h: dict, ctx: dict, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    codes, profiles = ctx["codes"], ctx["profiles"]
    k = len(codes)
    n = h["rows"]
    level = h["hospital_level"]
    li = {"tertiary": 0, "secondary": 1, "primary": 2}[level]
    # --- DRG: cohort rows from the cohort DRGs, the rest from the level's mix ----------------
    pop = np.array([p["pop"][li] for p in profiles], dtype=float)
    if pop.sum() <= 0:
        pop = np.ones(k)
    drg = rng.choice(k, size=n, p=pop / pop.sum())
    cohort_idx = [codes.index(c) for c in ctx["cohort_drgs"]]
    n_cohort = int(round(h["cohort_fraction"] * n)) if cohort_idx else 0
    cohort = np.zeros(n, dtype=bool)
    if n_cohort:
        rows_c = rng.choice(n, size=n_cohort, replace=False)
        cohort[rows_c] = True
        if level == "primary" or len(cohort_idx) == 1:
            drg[rows_c] = cohort_idx[0]
        else:
            drg[rows_c] = rng.choice(cohort_idx, size=n_cohort, p=[0.7, 0.3] if len(cohort_idx) == 2 else None)
    # --- per-DRG parameters, gathered per row ---------------------------------------------
    P = {key: np.array([p[key] for p in profiles], dtype=float)
         for key in ("los", "female", "emergency", "death", "transfer")}
    age_m, age_sd, age_lo, age_hi = (np.array([p["age"][j] for p in profiles], dtype=float) for j in range(4))
    age = np.clip(np.rint(rng.normal(age_m[drg], age_sd[drg])), age_lo[drg], age_hi[drg]).astype(np.int64)
    female = rng.random(n) < P["female"][drg]
    sex = np.where(female, "F", "M")
    # diagnosis: one of the DRG's ICD-10 codes
    icd_n = np.array([len(p["icd"]) for p in profiles])
    icd_j = np.minimum((rng.random(n) * icd_n[drg]).astype(int), icd_n[drg] - 1)
    flat = [c for p in profiles for c in p["icd"]]
    start = np.concatenate([[0], np.cumsum(icd_n)[:-1]])
    diagnosis = np.asarray(flat, dtype=object)[start[drg] + icd_j]
    # comorbidity: Poisson, more with age and in the "with complications" groups
    lam = 1.2 * np.exp(0.025 * (age - 60.0)) * np.where(ctx["complicated"][drg], 1.5, 1.0)
    com = np.minimum(rng.poisson(lam), 15).astype(np.int64)
    # LOS: 1 + negative binomial around the DRG mean, longer with comorbidity
    mean_extra = np.maximum(P["los"][drg] * (1 + 0.04 * (com - 1)) - 1.0, 0.2)
    los = (1 + rng.poisson(mean_extra * rng.gamma(4.0, 0.25, size=n))).astype(np.int64)
    los = np.minimum(los, 90)
    # dates: discharge uniform over 2022-2024; admission consistent with los == max(1, days)
    span = int((END - START).astype(int)) + 1
    discharge = START + rng.integers(0, span, size=n).astype("timedelta64[D]")
    days = np.where((los == 1) & (rng.random(n) < 0.3), 0, los)
    admission = discharge - days.astype("timedelta64[D]")
    year_c = discharge.astype("datetime64[Y]").astype(int) + 1970 - BASE_YEAR
    # admission type, payer, discharge status, readmission
    u = rng.random(n)
    p_tr = P["transfer"][drg]
    admission_type = np.where(u < p_tr, "transfer", np.where(u < p_tr + P["emergency"][drg] * (1 - p_tr),
                                                             "emergency", "elective"))
    payer_p = ctx["payer"][h["region"]]
    payer_probs = np.tile(payer_p, (n, 1))
    payer_probs[age == 0] = [0.0, 0.88, 0.10, 0.02]         # neonates: resident insurance
    payer_probs[age >= 70, 0] *= 0.2                         # few commercial policies at old age
    payer = np.asarray(ctx["payer_codes"], dtype=object)[pick(rng, payer_probs)]
    p_death = np.clip(P["death"][drg] * np.exp(0.03 * (age - 65.0)) * (1 + 0.1 * com), 0, 0.5)
    p_out = 0.06 if level == "primary" else 0.02
    u = rng.random(n)
    status = np.where(u < p_death, "death",
                      np.where(u < p_death + p_out, "transfer",
                               np.where(u < p_death + p_out + 0.015, "against_advice", "home")))
    eta_r = READMIT["Intercept"] + READMIT["age"] * age + READMIT["comorbidity_score"] * com
    readmit = (rng.random(n) < 1 / (1 + np.exp(-eta_r))).astype(np.int64)
    readmit[status == "death"] = 0
    # --- cohort: strategy, QALY, clinical response --------------------------------------------
    T = ctx["truth_scalars"]
    comb = np.zeros(n, dtype=np.int64)
    comb[cohort] = rng.random(n_cohort) < 0.5
    strategy = np.full(n, None, dtype=object)
    strategy[cohort] = np.where(comb[cohort] == 1, "combination", "standard")
    qaly = np.full(n, np.nan)
    base_q = np.where(np.asarray(codes, dtype=object)[drg] == "RU11", 1.30, 1.60)
    q = base_q - 0.006 * (age - 55.0) + T["combination_qaly"] * comb + rng.normal(0.0, 0.3, size=n)
    qaly[cohort] = np.round(np.clip(q[cohort], 0.01, QALY_HORIZON), 3)
    p_resp = T["response_standard"] + T["response_combination_gain"] * comb
    resp_draw = (rng.random(n) < p_resp).astype(np.int64)
    response = pd.array(np.where(cohort, resp_draw, 0), dtype="Int64")
    response[~cohort] = pd.NA
    # --- total cost: Gamma with log link ---------------------------------------------------
    C = ctx["coef"]
    eta = (C["Intercept"] + ctx["drg_effects"][drg] + LEVEL_EFFECT[level] + h["efficiency"]
           + B_AGE * age + B_LOS * los + B_COM * com + h["slope"] * year_c + C["combination"] * comb)
    mu = np.exp(eta)
    total_raw = rng.gamma(T["shape"], mu / T["shape"])
    # --- components: Dirichlet shares around hospital/DRG means, whole cents ----------------
    kind = np.asarray([p["kind"] for p in profiles])[drg]
    surg = np.isin(kind, ["S", "D"])
    mean_share = np.empty((n, 7))
    drug = h["drug_share"] * np.select([surg, kind == "C", kind == "N"], [0.7, 1.5, 0.5], 1.0)
    drug = np.clip(drug * np.where(comb == 1, 1.3, 1.0), 0.05, 0.75)
    mean_share[:, 1] = np.select([kind == "D", surg], [0.45, 0.28], 0.07)
    mean_share[:, 2] = np.where(surg, 0.13, 0.20)
    mean_share[:, 3] = np.where(surg, 0.18, 0.07)
    mean_share[:, 4] = np.where(kind == "M", 0.06 + 0.004 * np.minimum(los, 30), 0.06)
    mean_share[:, 5] = 0.08
    mean_share[:, 6] = 0.03
    mean_share[:, 1:] *= ((1.0 - drug) / mean_share[:, 1:].sum(axis=1))[:, None]
    mean_share[:, 0] = drug
    g = rng.gamma(80.0 * mean_share)
    share = g / g.sum(axis=1, keepdims=True)
    cents = np.rint(total_raw[:, None] * 100.0 * share).astype(np.int64)
    cents = np.maximum(cents, 0)
    total_cents = cents.sum(axis=1)
    # --- assemble, ordered by discharge date ----------------------------------------------
    order = np.lexsort((admission, discharge))
    width = max(6, len(str(n)))
    df = pd.DataFrame({
        "record_id": [f"{h['hospital_id']}-{i:0{width}d}" for i in range(1, n + 1)],
        "hospital_id": h["hospital_id"],
        "region": h["region"],
        "hospital_level": level,
        "admission_date": pd.Series(admission[order]).dt.strftime("%Y-%m-%d"),
        "discharge_date": pd.Series(discharge[order]).dt.strftime("%Y-%m-%d"),
        "los": los[order],
        "age": age[order],
        "sex": sex[order],
        "principal_diagnosis": diagnosis[order],
        "drg_code": np.asarray(codes, dtype=object)[drg][order],
        "comorbidity_score": com[order],
        "admission_type": admission_type[order],
        "payer_type": payer[order],
        "discharge_status": status[order],
        "readmission_30d": readmit[order],
        "cost_total": total_cents[order] / 100.0,
        **{name: cents[order, j] / 100.0 for j, name in enumerate(COMPONENTS)},
        "strategy": strategy[order],
        "qaly": qaly[order],
        "clinical_response": response[order],
    })
    # truth that depends on this hospital's rows: the cohort's true increments
    mu0 = mu / np.exp(C["combination"] * comb)
    stats = dict(rows=n, cohort_rows=int(n_cohort), combination_rows=int(comb.sum()),
                 cohort_mean_incremental_cost=float(np.mean(mu0[cohort]) * (T["combination_cost_ratio"] - 1))
                 if n_cohort else None,
                 cohort_sum_mu0=float(mu0[cohort].sum()),
                 _arrays=dict(drg=drg.astype(np.int32), level=np.full(n, LEVELS.index(level), dtype=np.int32),
                              age=age.astype(float), los=los.astype(float), com=com.astype(float), mu=mu))
    return df, stats
