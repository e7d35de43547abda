"""The synthetic hospitals' generating model: its profiles, constants and their fit to the dictionary."""
from __future__ import annotations

import re

from fedcost.data import synth_model as sm
from fedcost.models.design import check_formula_fields


def test_one_profile_per_line_and_per_dictionary_drg(dictionary):
    lines = [ln for ln in sm.PROFILES_TEXT.splitlines() if ln.strip()]
    assert len(sm.PROFILES) == len(lines) == 41
    assert set(sm.PROFILES) == set(dictionary.levels("drg_code"))
    for code, p in sm.PROFILES.items():
        assert p["kind"] in "DSMONC", code
        assert len(p["pop"]) == 3 and p["los"] > 0, code
        assert 0 <= p["female"] <= 1 and 0 <= p["emergency"] <= 1 and 0 <= p["death"] < 0.5, code
        assert p["icd"] and all(re.fullmatch(dictionary.fields["principal_diagnosis"].pattern, c)
                                for c in p["icd"]), code  # every diagnosis passes the dictionary's pattern


def test_a_profile_line_read_column_by_column():
    # "BR21 M 3 3 1    14 70 11   0.42 .80 .035 I63.9 I63.5 I63.4"
    assert sm.PROFILES["BR21"] == dict(kind="M", pop=(3.0, 3.0, 1.0), los=14.0, age=(70.0, 11.0, 18, 98),
                                       female=0.42, emergency=0.80, death=0.035,
                                       icd=("I63.9", "I63.5", "I63.4"), transfer=0.03)
    # age bounds and transfer rates come from their own tables
    assert sm.PROFILES["OC11"]["age"][2:] == (18, 45) and sm.PROFILES["PU11"]["age"] == (0.0, 0.0, 0, 0)
    assert sm.PROFILES["XR21"]["transfer"] == 0.30 and sm.PROFILES["FC11"]["transfer"] == 0.06
    assert sm.PROFILES["RE11"]["icd"] == ("Z51.1", "Z51.1", "Z51.1", "C34.9", "C50.9", "C16.9")


def test_generic_profile_for_an_unknown_drg():
    heavy = sm.generic_profile("ZZ99", 2.5, "f")
    assert heavy["kind"] == "S" and heavy["pop"] == (2.0, 0.3, 0.0)
    assert heavy["los"] == 13.0                 # 3 + 4 x 2.5
    assert heavy["icd"] == ("I51.9",)           # MDC F (lower case accepted)
    light = sm.generic_profile("ZZ98", 1.1, "9")
    assert light["kind"] == "M" and light["pop"] == (2.0, 2.0, 2.0)
    assert light["los"] == 7.4                  # round(3 + 4.4, 1)
    assert light["icd"] == ("R69",)             # no such MDC: unspecified
    assert light["age"] == (58, 15, *sm.ADULT)


def test_columns_and_codes_match_the_default_dictionary(dictionary):
    assert list(sm.COLUMNS) == list(dictionary.fields)
    for column, codes in sm.CODES_USED.items():
        assert codes == set(dictionary.levels(column)), column
    assert list(sm.COMPONENTS) == next(r for r in dictionary.rules if r["kind"] == "sum")["parts"]
    assert set(sm.COHORT_DRGS) <= set(sm.PROFILES)


def test_casemix_formula_and_reference_levels(dictionary):
    parsed = check_formula_fields(sm.CASEMIX_FORMULA, dictionary)
    assert parsed.categorical == ("drg_code", "hospital_level")
    # the first level in sorted order is the reference of C(hospital_level): its effect must be 0
    assert list(sm.LEVELS) == sorted(sm.LEVELS) == sorted(dictionary.levels("hospital_level"))
    assert sm.LEVEL_EFFECT[sm.LEVELS[0]] == 0.0
    assert sm.START < sm.END and str(sm.START)[:4] <= str(sm.BASE_YEAR) <= str(sm.END)[:4]


def test_mdc_fallback_diagnoses_are_valid_icd10(dictionary):
    assert set(sm.MDC_ICD) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert all(re.fullmatch(dictionary.fields["principal_diagnosis"].pattern, c) for c in sm.MDC_ICD.values())
