"""The generating model of the synthetic hospitals: its constants and the DRG profiles it draws from.

Each DRG profile gives the group's kind, length of stay, age, sex, urgency,
mortality and ICD-10 diagnoses, written as a table a clinician can read (one
line a DRG group). `synth` draws records from them; `synth_truth` states what a
fit should recover.
"""
from __future__ import annotations

import numpy as np

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
ADULT = (18, 98)


PROFILES_TEXT = """
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


AGE_BOUNDS = {"OB21": (18, 45), "OC11": (18, 45), "NA21": (30, 75), "JA21": (25, 90), "PU11": (0, 0)}


TRANSFER_IN = {"XR21": 0.30, "TR11": 0.08, "FC11": 0.06, "RU11": 0.05}


# fallback diagnoses for a --dictionary's unknown DRGs, by MDC letter
MDC_ICD = {"A": "Z94.0", "B": "G93.9", "C": "H26.9", "D": "J32.9", "E": "J98.8", "F": "I51.9", "G": "K63.9",
            "H": "K76.9", "I": "M25.5", "J": "L08.9", "K": "E88.9", "L": "N28.9", "M": "N50.9", "N": "N94.9",
            "O": "O26.9", "P": "P96.9", "Q": "D64.9", "R": "C80.9", "S": "B99", "T": "A49.9", "U": "F32.9",
            "V": "T14.9", "W": "T30.0", "X": "Z50.9", "Y": "B20", "Z": "R69"}


def parse_profiles() -> dict[str, dict]:
    out = {}
    for line in PROFILES_TEXT.strip().splitlines():
        p = line.split()
        code, kind = p[0], p[1]
        pop = tuple(float(x) for x in p[2:5])
        los, age_m, age_sd, female, emerg, death = (float(x) for x in p[5:11])
        lo, hi = AGE_BOUNDS.get(code, ADULT)
        out[code] = dict(kind=kind, pop=pop, los=los, age=(age_m, age_sd, lo, hi), female=female,
                         emergency=emerg, death=death, icd=tuple(p[11:]), transfer=TRANSFER_IN.get(code, 0.03))
    return out


PROFILES = parse_profiles()


def generic_profile(code: str, weight: float, mdc: str) -> dict:
    """A plausible medical (or, when heavy, surgical) profile for a DRG the generator does not know."""
    heavy = weight >= 2.5
    return dict(kind="S" if heavy else "M", pop=(2.0, 0.3, 0.0) if heavy else (2.0, 2.0, 2.0),
                los=round(3 + 4 * weight, 1), age=(58, 15, *ADULT), female=0.47, emergency=0.3,
                death=0.01 if heavy else 0.002, icd=(MDC_ICD.get(str(mdc)[:1].upper(), "R69"),),
                transfer=0.03)
