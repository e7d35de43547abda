"""Synthetic inpatient cost records for a federation of hospitals, with a known truth.

`generate(n_hospitals, rows, seed)` returns one DataFrame per hospital (every
column of the default data dictionary) and a `truth` dict; `write(...)` puts
them on disk as `H01.csv ...` (or `.parquet`) plus `truth.json`.

The generating model (all of it in `truth`):

* Hospitals get a region and a level (with 3 or more hospitals at least one
  tertiary and one secondary), an efficiency effect ``u_h`` and a yearly cost
  trend ``slope_h``. A few hospitals grow fast enough to cross the 10 % (red)
  and 8 % (yellow) per-case growth alerts; most stay below 8 %.
* The DRG mix depends on the level (heavy surgery in tertiary hospitals, light
  medical groups in primary ones); age, sex, diagnosis (ICD-10), LOS,
  comorbidity, admission type, payer and discharge status depend on the DRG.
* Total cost is Gamma with a log link::

      log mu = Intercept + drg[g] + level[l] + u_h + age*age + los*los
               + comorbidity_score*comorbidity_score + slope_h*year_c
               + combination*combination

  with ``year_c = discharge year - 2023`` and ``combination = 1`` for the
  combination arm of the therapy cohort; Gamma shape ``truth['shape']``.
  ``truth['formula']`` is a statsmodels formula whose coefficients
  ``truth['coef']`` (statsmodels names) are exactly the generating ones; fit it
  on the data after `add_derived_columns` (which adds ``year_c`` and
  ``combination``). ``truth['casemix_formula']`` uses dictionary columns only
  (``cost_total ~ age + los + comorbidity_score + C(drg_code) +
  C(hospital_level)``, what a federated fit can use as is); it omits the
  hospital effects, trends and the combination arm, so ``truth['casemix_coef']``
  holds its pseudo-true values (the fit's limit on these records), not the
  structural ones in ``truth['parameters']``.
* Cost components come from hospital- and DRG-specific shares, in whole cents,
  and ``cost_total`` is their exact sum.
* A combination-therapy cohort (8-12 % of each hospital's records, DRGs RE11 and
  RU11) has ``strategy``, ``qaly`` and ``clinical_response``; the combination
  arm costs more and gains more QALYs (true increments in ``truth['cohort']``).

Everything is drawn from ``numpy.random.Generator`` streams spawned from the
seed, so the same seed gives byte-identical files.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from fedcost.data.dictionary import Dictionary
from fedcost.errors import DataError, UsageError

GENERATOR_VERSION = "1"
START = np.datetime64("2022-01-01")
END = np.datetime64("2024-12-31")
BASE_YEAR = 2023
FORMATS = ("csv", "parquet")
MAX_HOSPITALS = 999
MAX_ROWS = 5_000_000

LEVELS = ("primary", "secondary", "tertiary")       # sorted: primary is the reference
REGIONS = ("central", "east", "west")
COMPONENTS = ("cost_drugs", "cost_consumables", "cost_exams", "cost_procedures",
              "cost_nursing_bed", "cost_labour", "cost_other")
COLUMNS = ("record_id", "hospital_id", "region", "hospital_level", "admission_date", "discharge_date",
           "los", "age", "sex", "principal_diagnosis", "drg_code", "comorbidity_score", "admission_type",
           "payer_type", "discharge_status", "readmission_30d", "cost_total", *COMPONENTS,
           "strategy", "qaly", "clinical_response")
# codes each generated category column uses (a --dictionary must list them)
CODES_USED = {
    "region": set(REGIONS), "hospital_level": set(LEVELS), "sex": {"F", "M"},
    "admission_type": {"elective", "emergency", "transfer"},
    "payer_type": {"uebmi", "urrbmi", "self_pay", "commercial"},
    "discharge_status": {"home", "transfer", "against_advice", "death"},
    "strategy": {"standard", "combination"},
}

# --- fixed structural coefficients (log scale) ---------------------------------------
B_AGE = 0.004            # per year of age
B_LOS = 0.03             # per day of stay
B_COM = 0.05             # per comorbidity point
LEVEL_EFFECT = {"primary": 0.0, "secondary": 0.09, "tertiary": 0.20}
BASE_COST = 9000.0       # yuan per unit DRG weight at a typical case, primary level
READMIT = {"Intercept": -3.4, "age": 0.012, "comorbidity_score": 0.15}   # logistic
COHORT_DRGS = ("RE11", "RU11")
CASEMIX_FORMULA = "cost_total ~ age + los + comorbidity_score + C(drg_code) + C(hospital_level)"
QALY_HORIZON = 3.0       # years; qaly is QALYs over this horizon

# --- DRG profiles ------------------------------------------------------------------------
# code: kind, popularity (tertiary, secondary, primary), mean LOS, age (mean, sd, lo, hi),
#       P(female), P(emergency), P(death), ICD-10 principal diagnoses
# kind: D = device-heavy surgery, S = surgery, M = medical, O = obstetric, N = neonate, C = chemo
_ADULT = (18, 98)
_PROFILES = """
BR21 M 3 3 1    14 70 11   0.42 .80 .035 I63.9 I63.5 I63.4
BR23 M 4 5 3    10 67 12   0.42 .70 .006 I63.9 I63.3 I63.8
BU11 M 2 3 3     6 64 12   0.45 .60 .001 G45.9 G45.0 G45.1
BX21 M 1 3 5     4 42 14   0.60 .40 .000 G43.9 G44.2 R51
DT13 M 1 4 10    4 35 16   0.50 .30 .000 J06.9 H66.9 J02.9
EB11 S 2 .2 0   16 60 10   0.40 .05 .012 C34.1 C34.3 D38.1
ES21 M 3 3 1    12 72 14   0.42 .60 .030 J18.9 J15.9 J69.0
ES23 M 4 7 10    7 50 20   0.48 .35 .001 J18.9 J20.9 J40
ET21 M 3 4 3    11 72 9    0.35 .60 .010 J44.1 J44.0
ET23 M 2 5 8     8 69 10   0.35 .30 .002 J44.9 J44.8
FC11 D 1 .05 0  18 64 9    0.25 .15 .015 I25.1 I21.4 I25.5
FM11 D 4 1.5 0   7 62 11   0.30 .60 .008 I21.0 I21.1 I20.0 I25.1
FR21 M 3 3 1    11 75 10   0.48 .75 .040 I50.0 I50.9 R57.0
FR23 M 3 4 4     8 72 11   0.48 .55 .005 I50.9 I11.0 I50.1
FT21 M 2 4 8     7 64 12   0.47 .30 .001 I11.9 I10 I12.9
FV21 M 3 3 2     7 66 13   0.45 .55 .004 I48.9 I47.1 I49.9
GB21 S 3 1 0    15 62 12   0.40 .10 .008 C18.9 C16.9 C20
GD11 S 2 3 1     5 36 15   0.45 .85 .000 K35.8 K35.3 K37
GK21 S 3 3 1     5 55 13   0.45 .15 .001 K25.9 K29.7 D13.1 K63.5
GS11 M 2 2 1     7 58 15   0.38 .80 .010 K92.2 K25.4 K92.0
GU21 M 2 5 9     5 45 17   0.50 .40 .000 K29.7 K21.0 A09
HC21 S 3 3 .5    7 52 14   0.55 .25 .001 K80.2 K80.1 K81.0
HS21 M 2 2 1    12 58 11   0.30 .45 .020 K74.6 K70.3 K76.6
IB21 D 2 .3 0   14 58 11   0.48 .05 .002 M47.8 M48.0 M51.1
IC21 D 3 .8 0   13 67 9    0.62 .05 .003 M16.9 M17.9 S72.0
IF11 S 2 2 .3   13 72 15   0.60 .80 .010 S72.0 S72.1 S72.3
IU21 M 2 4 6     9 52 14   0.47 .20 .000 M54.5 M51.2 M54.4
JA21 S 2 1 0    10 52 11   1.00 .02 .001 C50.9 C50.4 D05.1
KS11 M 3 5 6    10 62 12   0.47 .30 .003 E11.7 E11.2 E11.5 E10.7
KT11 M 2 2 2     6 45 13   0.72 .10 .000 E05.0 E04.1 E03.9
LA21 S 2 1 0     9 50 13   0.40 .20 .002 N20.0 N20.1 C64
LS11 M 2 2 1    11 63 14   0.45 .50 .020 N18.5 N17.9 N18.4
LU11 M 2 4 6     6 55 20   0.70 .35 .002 N39.0 N30.0 N10
NA21 S 2 1.5 0   8 48 8    1.00 .03 .000 D25.9 N80.0 C54.1
OB21 O 4 5 1     5 30 5    1.00 .40 .000 O82.9 O34.2 O32.1
OC11 O 4 6 5     3 28 4.5  1.00 .60 .000 O80.0 O80.9
PU11 N 2 3 3     5 0 0     0.46 .30 .001 P59.9 P92.9 P22.1
RE11 C 2 1 .3    4 58 11   0.50 .02 .002 Z51.1 Z51.1 Z51.1 C34.9 C50.9 C16.9
RU11 C 2 .5 0   16 52 17   0.44 .15 .020 C83.3 C85.9 C91.0 C92.0
TR11 M 2 1 .3   13 66 16   0.45 .85 .090 A41.9 A41.5 A40.9
XR21 M 2 3 5    21 64 13   0.45 .02 .001 I69.3 Z50.9 T91.3
"""
_AGE_BOUNDS = {"OB21": (18, 45), "OC11": (18, 45), "NA21": (30, 75), "JA21": (25, 90), "PU11": (0, 0)}
_TRANSFER_IN = {"XR21": 0.30, "TR11": 0.08, "FC11": 0.06, "RU11": 0.05}
# fallback diagnoses for a --dictionary's unknown DRGs, by MDC letter
_MDC_ICD = {"A": "Z94.0", "B": "G93.9", "C": "H26.9", "D": "J32.9", "E": "J98.8", "F": "I51.9", "G": "K63.9",
            "H": "K76.9", "I": "M25.5", "J": "L08.9", "K": "E88.9", "L": "N28.9", "M": "N50.9", "N": "N94.9",
            "O": "O26.9", "P": "P96.9", "Q": "D64.9", "R": "C80.9", "S": "B99", "T": "A49.9", "U": "F32.9",
            "V": "T14.9", "W": "T30.0", "X": "Z50.9", "Y": "B20", "Z": "R69"}


def _parse_profiles() -> dict[str, dict]:
    out = {}
    for line in _PROFILES.strip().splitlines():
        p = line.split()
        code, kind = p[0], p[1]
        pop = tuple(float(x) for x in p[2:5])
        los, age_m, age_sd, female, emerg, death = (float(x) for x in p[5:11])
        lo, hi = _AGE_BOUNDS.get(code, _ADULT)
        out[code] = dict(kind=kind, pop=pop, los=los, age=(age_m, age_sd, lo, hi), female=female,
                         emergency=emerg, death=death, icd=tuple(p[11:]), transfer=_TRANSFER_IN.get(code, 0.03))
    return out


PROFILES = _parse_profiles()


def _generic_profile(code: str, weight: float, mdc: str) -> dict:
    """A plausible medical (or, when heavy, surgical) profile for a DRG the generator does not know."""
    heavy = weight >= 2.5
    return dict(kind="S" if heavy else "M", pop=(2.0, 0.3, 0.0) if heavy else (2.0, 2.0, 2.0),
                los=round(3 + 4 * weight, 1), age=(58, 15, *_ADULT), female=0.47, emergency=0.3,
                death=0.01 if heavy else 0.002, icd=(_MDC_ICD.get(str(mdc)[:1].upper(), "R69"),),
                transfer=0.03)


# ----------------------------------------------------------------------------------------
def _check_args(n_hospitals, rows, seed) -> tuple[int, int, int]:
    for name, value, lo, hi in (("n_hospitals", n_hospitals, 1, MAX_HOSPITALS), ("rows", rows, 1, MAX_ROWS),
                                ("seed", seed, 0, 2**63 - 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise UsageError(f"{name} must be an integer, got {value!r}")
        if not lo <= int(value) <= hi:
            raise UsageError(f"{name} must be between {lo} and {hi}, got {value}")
    return int(n_hospitals), int(rows), int(seed)


def _drg_table(dictionary: Dictionary) -> tuple[list[str], np.ndarray, list[dict]]:
    """DRG codes (sorted), weights and profiles from the dictionary's drg_code code list."""
    field = dictionary.fields.get("drg_code")
    if field is None or field.type != "category":
        raise DataError(f"dictionary {dictionary.name}: synth needs a category field drg_code")
    table = dictionary.code_table("drg_code")
    if "weight" not in table.columns:
        raise DataError(f"dictionary {dictionary.name}: the drg_code code list needs a 'weight' column")
    weights = pd.to_numeric(table["weight"], errors="coerce")
    if weights.isna().any() or (weights <= 0).any():
        raise DataError(f"dictionary {dictionary.name}: every DRG weight must be a positive number")
    mdc = table["mdc"] if "mdc" in table.columns else table["code"].astype(str).str[:1]
    info = sorted(zip(table["code"].astype(str), weights.astype(float), mdc.astype(str)))
    codes = [c for c, _, _ in info]
    w = np.array([x for _, x, _ in info])
    profiles = [PROFILES.get(c) or _generic_profile(c, x, m) for c, x, m in info]
    return codes, w, profiles


def _check_dictionary(dictionary: Dictionary) -> list[str]:
    """The output columns (the dictionary's order); errors if it asks for what synth cannot make."""
    missing = [n for n in dictionary.required_columns if n not in COLUMNS]
    if missing:
        raise DataError(f"dictionary {dictionary.name}: synth cannot generate required field(s) "
                        f"{', '.join(missing)}; it generates {', '.join(COLUMNS)}")
    for col, used in CODES_USED.items():
        f = dictionary.fields.get(col)
        if f is None or f.type != "category":
            continue
        unknown = used - set(dictionary.levels(col))
        if unknown:
            raise DataError(f"dictionary {dictionary.name}: code list of {col} lacks {', '.join(sorted(unknown))}")
    return [n for n in dictionary.fields if n in COLUMNS]


def _hospital_ids(n: int) -> list[str]:
    width = max(2, len(str(n)))
    return [f"H{i:0{width}d}" for i in range(1, n + 1)]


def _hospitals(n: int, rows: int, rng: np.random.Generator) -> list[dict]:
    """Region, level, size, efficiency, trend and cost structure of each hospital."""
    ids = _hospital_ids(n)
    # levels: tertiary 30 %, secondary 45 %, primary 25 %; with n >= 3 at least one tertiary and secondary
    levels = list(rng.choice(["tertiary", "secondary", "primary"], size=n, p=[0.30, 0.45, 0.25]))
    if n >= 3:
        if "tertiary" not in levels:
            levels[int(rng.integers(n))] = "tertiary"
        if "secondary" not in levels:
            spare = [i for i, lv in enumerate(levels) if lv != "tertiary" or levels.count("tertiary") > 1]
            levels[spare[int(rng.integers(len(spare)))]] = "secondary"
    # regions: with n >= 3 every region appears
    regions = list(rng.choice(REGIONS, size=n, p=[0.35, 0.40, 0.25]))
    if n >= 3:
        pos = rng.permutation(n)[:3]
        for p, r in zip(pos, rng.permutation(REGIONS)):
            regions[p] = str(r)
    # sizes: rows on average, +-30 %
    factor = rng.uniform(0.7, 1.3, size=n)
    if n > 1:
        factor = np.clip(factor / factor.mean(), 0.7, 1.3)
    sizes = np.maximum(1, np.rint(rows * factor)).astype(int)
    # efficiency (log scale, 0 = average)
    u = np.round(np.clip(rng.normal(0.0, 0.10, size=n), -0.25, 0.25), 4)
    # per-case growth targets: a few red (> 10 %), one yellow (8-10 %) from 4 hospitals, the rest < 8 %
    growth = rng.uniform(0.0, 0.05, size=n)
    order = rng.permutation(n)
    n_red = 0 if n == 1 else max(1, int(round(0.15 * n)))
    n_yellow = 1 if n >= 4 else 0
    growth[order[:n_red]] = rng.uniform(0.13, 0.16, size=n_red)
    growth[order[n_red:n_red + n_yellow]] = rng.uniform(0.085, 0.092, size=n_yellow)
    slope = np.round(np.log1p(growth), 6)
    drug_share = np.round(rng.uniform(0.20, 0.40, size=n), 4)
    out = []
    for i in range(n):
        out.append(dict(hospital_id=ids[i], region=str(regions[i]), hospital_level=str(levels[i]),
                        rows=int(sizes[i]), efficiency=float(u[i]), slope=float(slope[i]),
                        drug_share=float(drug_share[i]),
                        cohort_fraction=float(np.round(rng.uniform(0.08, 0.12), 4))))
    return out


def _truth_scalars(rng: np.random.Generator) -> dict:
    return dict(shape=float(np.round(rng.uniform(4.5, 7.5), 2)),
                combination_cost_ratio=float(np.round(rng.uniform(1.25, 1.40), 4)),
                combination_qaly=float(np.round(rng.uniform(0.15, 0.30), 4)),
                response_standard=float(np.round(rng.uniform(0.40, 0.50), 3)),
                response_combination_gain=float(np.round(rng.uniform(0.12, 0.20), 3)))


def _mean_comorbidity(age: float) -> float:
    return 1.2 * math.exp(0.025 * (age - 60.0))


def _drg_effects(codes, weights, profiles) -> tuple[float, np.ndarray]:
    """Intercept and DRG effects so that a typical case of each group costs about BASE_COST x weight."""
    raw = np.array([math.log(w) - B_LOS * p["los"] - B_AGE * p["age"][0] - B_COM * _mean_comorbidity(p["age"][0])
                    for w, p in zip(weights, profiles)])
    intercept = round(math.log(BASE_COST) + raw[0], 6)
    return intercept, np.round(raw - raw[0], 6)


def _pick(rng, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row from row-wise probabilities (n x k), vectorised."""
    cum = np.cumsum(probs, axis=1)
    cum /= cum[:, -1:]
    u = rng.random(len(probs))[:, None]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


def _one_hospital(h: dict, ctx: dict, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
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
    payer = np.asarray(ctx["payer_codes"], dtype=object)[_pick(rng, payer_probs)]
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


def _pseudo_true(arrays: list[dict], codes: list[str], tol: float = 1e-10, max_iter: int = 50
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


def generate(n_hospitals: int, rows: int, seed: int, dictionary: Dictionary | str | Path | None = None
             ) -> tuple[dict[str, pd.DataFrame], dict]:
    """Synthetic hospitals: ``({hospital_id: DataFrame}, truth)``.

    ``rows`` is the mean number of records per hospital (each hospital gets
    70-130 % of it, fixed by the seed). ``dictionary`` (a `Dictionary` or a
    folder; default: the project's) supplies the DRG list and weights and the
    column order; it must list the codes synth uses.
    """
    n_hospitals, rows, seed = _check_args(n_hospitals, rows, seed)
    if not isinstance(dictionary, Dictionary):
        dictionary = Dictionary.load(dictionary)
    columns = _check_dictionary(dictionary)
    codes, weights, profiles = _drg_table(dictionary)
    intercept, drg_eff = _drg_effects(codes, weights, profiles)
    cohort_drgs = [c for c in COHORT_DRGS if c in codes]
    ss = np.random.SeedSequence(seed)
    s_setup, s_hosp = ss.spawn(2)
    rng = np.random.default_rng(s_setup)
    hospitals = _hospitals(n_hospitals, rows, rng)
    scal = _truth_scalars(rng)
    coef_comb = round(math.log(scal["combination_cost_ratio"]), 6)
    payer_codes = ["uebmi", "urrbmi", "self_pay", "commercial"]
    ctx = dict(codes=codes, weights=weights, profiles=profiles, drg_effects=drg_eff, cohort_drgs=cohort_drgs,
               complicated=np.array([c.endswith("21") and p["kind"] == "M" for c, p in zip(codes, profiles)]),
               truth_scalars=scal, coef={"Intercept": intercept, "combination": coef_comb},
               payer_codes=payer_codes,
               payer={"east": np.array([0.50, 0.38, 0.07, 0.05]), "central": np.array([0.38, 0.50, 0.09, 0.03]),
                      "west": np.array([0.30, 0.58, 0.10, 0.02])})
    frames, stats = {}, {}
    for h, s in zip(hospitals, s_hosp.spawn(n_hospitals)):
        df, st = _one_hospital(h, ctx, np.random.default_rng(s))
        frames[h["hospital_id"]] = df[columns]
        stats[h["hospital_id"]] = st
    truth = _truth(n_hospitals, rows, seed, dictionary, codes, weights, intercept, drg_eff, coef_comb, scal,
                   hospitals, stats, cohort_drgs)
    return frames, truth


def _truth(n_hospitals, rows, seed, dictionary, codes, weights, intercept, drg_eff, coef_comb, scal,
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
    casemix = _pseudo_true([s["_arrays"] for s in stats.values()], codes)
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


def add_derived_columns(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with the columns truth['formula'] uses: ``year_c`` and ``combination``."""
    out = df.copy()
    out["year_c"] = pd.to_datetime(out["discharge_date"]).dt.year.astype("int64") - BASE_YEAR
    if "strategy" in out.columns:
        out["combination"] = (out["strategy"].astype(object) == "combination").astype("int64")
    return out


# --- writing ------------------------------------------------------------------------------
def _write_frame(df: pd.DataFrame, path: Path, fmt: str) -> None:
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    if fmt == "csv":
        # Arrow's writer is ~10x faster than DataFrame.to_csv; values never hold a comma or quote
        import pyarrow.csv as pacsv

        with open(path, "wb") as fh:
            fh.write((",".join(df.columns) + "\n").encode("utf-8"))
            try:
                pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False, quoting_style="none"))
            except pa.ArrowInvalid:  # a value needs quoting (a --dictionary's odd code): let pandas quote it
                fh.seek(0)
                fh.truncate()
                df.to_csv(fh, index=False, encoding="utf-8", lineterminator="\n", na_rep="")
        return
    import pyarrow.parquet as pq

    for name in ("admission_date", "discharge_date"):
        if name in table.column_names:
            i = table.column_names.index(name)
            dates = pa.array(pd.to_datetime(df[name]).dt.date, type=pa.date32())
            table = table.set_column(i, name, dates)
    pq.write_table(table, path)


def _previous_outputs(out_dir: Path) -> list[Path]:
    """Files an earlier synth run listed in its truth.json (so --force can remove stale hospitals)."""
    tj = out_dir / "truth.json"
    try:
        names = json.loads(tj.read_text(encoding="utf-8")).get("files") or []
    except (OSError, ValueError, AttributeError):
        return []
    return [out_dir / n for n in names if isinstance(n, str) and "/" not in n and "\\" not in n]


def write(out_dir: str | Path, n_hospitals: int, rows: int, seed: int, fmt: str = "csv", *,
          force: bool = False, dictionary: Dictionary | str | Path | None = None) -> list[Path]:
    """Generate and write ``H01.<fmt> ...`` and ``truth.json`` into ``out_dir``; return their paths.

    Refuses a non-empty ``out_dir`` unless ``force`` (then it overwrites the
    files it writes and removes the hospital files an earlier synth run listed
    in its truth.json; other files are left alone). Files are written to a
    temporary folder first and moved in only when all are complete.
    """
    if fmt not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise UsageError(f"{out_dir}: folder is not empty (use --force to overwrite synth output there)")
    frames, truth = generate(n_hospitals, rows, seed, dictionary=dictionary)
    names = [f"{hid}.{fmt}" for hid in frames] + ["truth.json"]
    truth["files"] = names[:-1]
    truth["format"] = fmt
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out_dir}: cannot create folder: {exc.strerror or exc}") from None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".fedcost-synth-", dir=out_dir))
    except OSError as exc:
        raise UsageError(f"{out_dir}: cannot write there: {exc.strerror or exc}") from None
    try:
        for hid, df in frames.items():
            _write_frame(df, tmp / f"{hid}.{fmt}", fmt)
        (tmp / "truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        stale = [p for p in _previous_outputs(out_dir) if p.name not in names and p.is_file()] if force else []
        for name in names:
            os.replace(tmp / name, out_dir / name)
        for p in stale:
            p.unlink()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return [out_dir / n for n in names]
