"""One synthetic hospital's records, drawn from a small hand-made context (two DRG groups)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fedcost.data.synth_model import B_AGE, B_COM, B_LOS, BASE_YEAR, COMPONENTS, LEVEL_EFFECT, PROFILES
from fedcost.data.synth_records import mean_comorbidity, one_hospital, pick

SCALARS = dict(shape=5.0, combination_cost_ratio=1.3, combination_qaly=0.2, response_standard=0.45,
               response_combination_gain=0.15)
COEF = {"Intercept": math.log(9000.0), "combination": round(math.log(1.3), 6)}


def _ctx() -> dict:
    codes = ["BR21", "RE11"]
    return dict(codes=codes, profiles=[PROFILES[c] for c in codes], drg_effects=np.array([0.0, 0.4]),
                cohort_drgs=["RE11"], complicated=np.array([True, False]), truth_scalars=SCALARS, coef=COEF,
                payer_codes=["uebmi", "urrbmi", "self_pay", "commercial"],
                payer={"east": np.array([0.5, 0.38, 0.07, 0.05])})


def _hospital(level="secondary", rows=3000) -> dict:
    return dict(hospital_id="H07", region="east", hospital_level=level, rows=rows, efficiency=0.05, slope=0.04,
                drug_share=0.3, cohort_fraction=0.1)


@pytest.fixture(scope="module")
def drawn():
    return one_hospital(_hospital(), _ctx(), np.random.default_rng(3))


def test_mean_comorbidity():
    assert mean_comorbidity(60.0) == pytest.approx(1.2)
    assert mean_comorbidity(100.0) == pytest.approx(1.2 * math.e)  # 0.025 x 40 = 1


def test_pick_draws_by_row_probabilities():
    rng = np.random.default_rng(0)
    one_hot = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=float)
    assert pick(rng, one_hot).tolist() == [1, 2, 0]
    n = 20_000
    got = pick(np.random.default_rng(1), np.tile([1.0, 3.0], (n, 1)))  # unnormalised: P(1) = 3/4
    assert abs(got.mean() - 0.75) < 5 * math.sqrt(0.75 * 0.25 / n)
    same = pick(np.random.default_rng(1), np.tile([0.25, 0.75], (n, 1)))
    assert (got == same).all()


def test_records_obey_the_dictionary_rules(drawn):
    df, stats = drawn
    assert len(df) == stats["rows"] == 3000
    assert df["record_id"].iloc[0] == "H07-000001" and df["record_id"].is_unique
    cents = (df[list(COMPONENTS)] * 100).round().astype("int64")
    assert (cents.sum(axis=1) == (df["cost_total"] * 100).round().astype("int64")).all()  # exact to the cent
    adm, dis = pd.to_datetime(df["admission_date"]), pd.to_datetime(df["discharge_date"])
    assert (df["los"] == (dis - adm).dt.days.clip(lower=1)).all()
    assert dis.is_monotonic_increasing  # ordered by discharge date
    assert set(df["hospital_id"]) == {"H07"} and set(df["region"]) == {"east"}


def test_the_cohort_is_its_fraction_of_rows_in_the_cohort_drg(drawn):
    df, stats = drawn
    cohort = df["strategy"].notna()
    assert cohort.sum() == stats["cohort_rows"] == round(0.1 * 3000)
    assert (df.loc[cohort, "drg_code"] == "RE11").all()      # one cohort DRG: all of the cohort there
    assert (df["qaly"].notna() == cohort).all() and (df["clinical_response"].notna() == cohort).all()
    assert (df["strategy"] == "combination").sum() == stats["combination_rows"]
    assert df.loc[cohort, "qaly"].between(0.01, 3.0).all()


def test_expected_costs_follow_the_structural_model(drawn):
    df, stats = drawn
    # log mu = Intercept + drg + level + efficiency + age, los, comorbidity terms + slope year_c + combination,
    # written out again from the columns of the frame
    year_c = pd.to_datetime(df["discharge_date"]).dt.year - BASE_YEAR
    eta = (COEF["Intercept"] + df["drg_code"].map({"BR21": 0.0, "RE11": 0.4}) + LEVEL_EFFECT["secondary"] + 0.05
           + B_AGE * df["age"] + B_LOS * df["los"] + B_COM * df["comorbidity_score"] + 0.04 * year_c
           + COEF["combination"] * (df["strategy"] == "combination"))
    mu = stats["_arrays"]["mu"]  # in draw order, the frame in discharge order: compare as sorted multisets
    np.testing.assert_allclose(np.sort(np.exp(eta.to_numpy(dtype=float))), np.sort(mu), rtol=1e-12)
    # Gamma with mean mu and shape 5: sum(y)/sum(mu) is 1 within a few standard errors
    se = math.sqrt((mu ** 2).sum() / SCALARS["shape"]) / mu.sum()
    assert abs(df["cost_total"].sum() / mu.sum() - 1) < 4 * se


def test_primary_hospitals_same_seed_same_records():
    a, _ = one_hospital(_hospital("primary", 400), _ctx(), np.random.default_rng(9))
    b, _ = one_hospital(_hospital("primary", 400), _ctx(), np.random.default_rng(9))
    pd.testing.assert_frame_equal(a, b)
    assert (a["hospital_level"] == "primary").all()
    # BR21 has popularity 1 at primary level, RE11 2 (plus the cohort): both appear
    assert set(a["drg_code"]) == {"BR21", "RE11"}
