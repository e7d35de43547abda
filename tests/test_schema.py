"""The pandera schema built from the dictionary, the cross-field rules as row checks, and the messages."""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest

from fedcost.data.schema import build_schema, column_checks, evaluate_rule, message, rule_column, rule_fields, show
from fedcost.errors import DataError


def _rule(dictionary, name: str) -> dict:
    return next(r for r in dictionary.rules if r["name"] == name)


def test_each_rule_is_reported_under_the_value_most_likely_wrong(dictionary):
    # written out from data_dictionary/dictionary.yaml
    expected = {"record_id_unique": "record_id", "one_hospital_per_file": "hospital_id",
                "components_sum_to_total": "cost_total", "discharge_after_admission": "discharge_date",
                "los_matches_dates": "los", "qaly_needs_strategy": "strategy"}
    assert {r["name"]: rule_column(r) for r in dictionary.rules} == expected
    # in the order columns, parts, total, start, end, equals, if_present, then_present
    assert rule_fields(_rule(dictionary, "los_matches_dates")) == ["admission_date", "discharge_date", "los"]
    assert rule_fields(_rule(dictionary, "components_sum_to_total")) == [
        "cost_drugs", "cost_consumables", "cost_exams", "cost_procedures", "cost_nursing_bed", "cost_labour",
        "cost_other", "cost_total"]


def test_sum_rule_uses_its_tolerance_and_skips_incomplete_rows(dictionary):
    rule = {"name": "s", "kind": "sum", "parts": ["a", "b"], "total": "t", "tolerance": 1.0}
    df = pd.DataFrame({"a": [10.0, 10.0, 10.0, None],
                       "b": [5.0, 5.0, 5.0, 5.0],
                       "t": [15.0, 16.0, 16.5, 99.0]})
    ok, checked = evaluate_rule(rule, df)
    # |10+5-15| = 0, |15-16| = 1 (= tolerance, passes), |15-16.5| = 1.5 fails; row 4 lacks a part: not checked
    assert ok.tolist() == [True, True, False, True]
    assert checked.tolist() == [True, True, True, False]


def test_los_rule_counts_a_same_day_stay_as_one_day(dictionary):
    rule = _rule(dictionary, "los_matches_dates")  # minimum: 1
    df = pd.DataFrame({
        "admission_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01", "2024-01-10", "2024-01-01"]),
        "discharge_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-04", "2024-01-05", "2024-01-04"]),
        "los": pd.array([1, 0, 3, 5, 4], dtype="Int64")})
    ok, checked = evaluate_rule(rule, df)
    # days: 0 -> expected 1 (ok), 0 -> 1 but los 0 (bad), 3 -> 3 (ok), -5: the date_order rule's business,
    # 3 -> 3 but los 4 (bad)
    assert ok.tolist() == [True, False, True, True, False]
    assert checked.tolist() == [True, True, True, False, True]
    order_ok, _ = evaluate_rule(_rule(dictionary, "discharge_after_admission"), df)
    assert order_ok.tolist() == [True, True, True, False, True]
    implies = _rule(dictionary, "qaly_needs_strategy")
    ok, checked = evaluate_rule(implies, pd.DataFrame({"qaly": [1.2, None, 0.5], "strategy": ["standard", None, None]}))
    assert ok.tolist() == [True, True, False] and checked.tolist() == [True, False, True]
    with pytest.raises(DataError, match="kind unique has no dataframe check"):
        evaluate_rule(_rule(dictionary, "record_id_unique"), df)


def test_schema_of_a_partial_file_keeps_only_the_rules_it_can_check(dictionary):
    schema = build_schema(dictionary, ("age", "sex", "los", "admission_date", "discharge_date"))
    assert set(schema.columns) == {"age", "sex", "los", "admission_date", "discharge_date"}
    # the sum rule needs the cost columns and the implies rule qaly/strategy: both left out
    assert sorted(c.name for c in schema.checks) == ["discharge_after_admission", "los_matches_dates"]
    df = pd.DataFrame({"age": pd.array([30, 116, None], dtype="Int64"), "sex": ["F", "X", "M"],
                       "los": pd.array([1, 2, 3], dtype="Int64"),
                       "admission_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-05"]),
                       "discharge_date": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-06"])})
    with pytest.raises(pa.errors.SchemaErrors) as info:
        schema.validate(df, lazy=True)
    fails = info.value.failure_cases
    found = {(c, k, int(i)) for c, k, i in zip(fails["column"], fails["check"], fails["index"])}
    assert ("age", "max", 1) in found            # 116 > 115
    assert ("sex", "codes", 1) in found          # X is not in codes/sex.csv
    assert ("age", "not_nullable", 2) in found   # age is required
    assert ("los", "rule:los_matches_dates", 2) in found  # 5 -> 6 January is 1 day, not 3
    assert not any(i == 0 for _, _, i in found)  # the first row is valid


def test_column_checks_follow_the_field_type(dictionary):
    age = {c.error: c for c in column_checks(dictionary, "age")}
    assert set(age) == {"min", "max"}
    assert age["min"].statistics == {"min_value": 0.0} and age["max"].statistics == {"max_value": 115.0}
    dates = {c.error: c.statistics for c in column_checks(dictionary, "admission_date")}
    assert dates == {"min": {"min_value": pd.Timestamp("2000-01-01")}, "max": {"max_value": pd.Timestamp("2035-12-31")}}
    assert [c.error for c in column_checks(dictionary, "principal_diagnosis")] == ["pattern"]
    assert [c.error for c in column_checks(dictionary, "sex")] == ["codes"]
    assert column_checks(dictionary, "strategy")[0].statistics["allowed_values"] == dictionary.levels("strategy")


def test_messages_speak_the_spreadsheet_s_terms(dictionary):
    assert show(pd.Timestamp("2024-03-05 10:00")) == "2024-03-05"
    assert show(3.0) == "3" and show(2.5) == "2.5" and show("I63") == "'I63'"
    assert message(dictionary, "max", "age", 116.0, None, None) == "116 years is above the maximum 115 years"
    assert message(dictionary, "min", "cost_total", -2.5, None, None) == "-2.5 yuan is below the minimum 0 yuan"
    assert message(dictionary, "parse", "admission_date", "5/3/24", None, None) == \
        "'5/3/24' is not a date (expected YYYY-MM-DD)"
    drgs = dictionary.levels("drg_code")
    assert message(dictionary, "codes", "drg_code", "ZZ99", None, None) == (
        f"'ZZ99' is not a code of drg (known: {', '.join(drgs[:8])}, ... ({len(drgs)} codes in codes/drg.csv))")
    assert message(dictionary, "dup", "record_id", ("R1", 2, "record_id_unique"), None, None) == \
        "duplicate record_id 'R1' (first seen in row 2) [rule record_id_unique]"


def test_rule_messages_give_the_numbers(dictionary):
    parts = ["cost_drugs", "cost_consumables", "cost_exams", "cost_procedures", "cost_nursing_bed", "cost_labour",
             "cost_other"]
    typed = pd.DataFrame([{**{p: 10.0 for p in parts}, "cost_total": 72.5,
                           "admission_date": pd.Timestamp("2024-01-01"), "discharge_date": pd.Timestamp("2024-01-04"),
                           "los": 7}], index=[5])
    # 7 parts x 10 = 70.00
    assert message(dictionary, "rule:components_sum_to_total", "cost_total", None, typed, 5) == (
        "components " + " + ".join(parts) + " sum to 70.00 but cost_total is 72.50 (tolerance 1.0) "
        "[rule components_sum_to_total]")
    # 1 -> 4 January: 3 days
    assert message(dictionary, "rule:los_matches_dates", "los", None, typed, 5) == (
        "los is 7 but discharge_date - admission_date gives 3 day(s), so los should be 3 [rule los_matches_dates]")
