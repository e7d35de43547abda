"""Design matrices take their categorical levels from the dictionary, not the data."""
import pandas as pd
import pytest

from fedcost.models.design import build_design
from fedcost.errors import UsageError


def test_every_hospital_builds_the_same_columns(hospital_paths, dictionary):
    from fedcost.data.validation import load_valid

    a = load_valid(hospital_paths[0], dictionary)
    b = a[a["drg_code"] == a["drg_code"].iloc[0]]  # a hospital that saw a single DRG
    da = build_design(a, "cost_total ~ age + C(drg_code)", dictionary)
    db = build_design(b, "cost_total ~ age + C(drg_code)", dictionary)
    assert da.columns == db.columns
    assert len(da.columns) == 2 + len(dictionary.levels("drg_code")) - 1
    assert da.columns[1] == f"C(drg_code)[T.{dictionary.levels('drg_code')[1]}]"


def test_missing_values_drop_rows_like_statsmodels(dictionary):
    df = pd.DataFrame({"cost_total": [1.0, 2.0, None, 4.0], "age": [30, None, 50, 60]})
    d = build_design(df, "cost_total ~ age", dictionary)
    assert d.n == 2 and d.n_dropped_missing == 2


def test_stateful_transform_refused(dictionary):
    df = pd.DataFrame({"cost_total": [1.0, 2.0], "age": [30.0, 40.0]})
    with pytest.raises(UsageError, match="stateful"):
        build_design(df, "cost_total ~ center(age)", dictionary)


def test_text_column_outside_dictionary_refused(dictionary):
    df = pd.DataFrame({"cost_total": [1.0, 2.0], "ward": ["a", "b"]})
    with pytest.raises(UsageError, match="not a category of the data dictionary"):
        build_design(df, "cost_total ~ C(ward)", dictionary)


def test_bad_formula_is_a_usage_error(dictionary):
    df = pd.DataFrame({"cost_total": [1.0, 2.0], "age": [30.0, 40.0]})
    with pytest.raises(UsageError):
        build_design(df, "cost_total ~ age +", dictionary)
    with pytest.raises(UsageError, match="not found|age_x"):
        build_design(df, "cost_total ~ age_x", dictionary)


def test_c_of_a_float_field_is_refused(dictionary):
    df = pd.DataFrame({"cost_total": [1.0, 2.0], "cost_drugs": [0.5, 1.0]})
    with pytest.raises(UsageError, match="levels would differ"):
        build_design(df, "cost_total ~ C(cost_drugs)", dictionary)


def test_c_of_an_integer_field_uses_the_dictionary_range(dictionary):
    df = pd.DataFrame({"cost_total": [1.0, 2.0, 3.0], "readmission_30d": [0, 0, 0]})
    d = build_design(df, "cost_total ~ C(readmission_30d)", dictionary)
    assert d.columns == ["Intercept", "C(readmission_30d)[T.1]"]
