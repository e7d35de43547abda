"""Typing a column of strings by its field type: each unparseable cell is marked, not fatal."""
from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from fedcost.data.parsing import as_strings, parse_values


def test_integers_accept_whole_numbers_in_any_notation():
    values, bad = parse_values(pa.array(["1e3", " 2.5", "9.3e18", "-7", "", "9.2e18"]), "integer")
    # 1e3 = 1000 is whole; 2.5 is not; 9.3e18 > 2^63 ~ 9.223e18 does not fit an int64; "" is missing, not bad
    assert bad.tolist() == [False, True, True, False, False, False]
    assert str(values.dtype) == "Int64"
    assert values[0] == 1000 and values[3] == -7 and values[5] == 9_200_000_000_000_000_000
    assert values.isna().tolist() == [False, True, True, False, True, False]


def test_numbers_must_be_finite():
    values, bad = parse_values(pa.array(["nan", "-inf", " 3.5 ", "1,5", None, "-0.25"]), "number")
    assert bad.tolist() == [True, True, False, True, False, False]
    assert str(values.dtype) == "float64"
    np.testing.assert_array_equal(values.to_numpy(), [np.nan, np.nan, 3.5, np.nan, np.nan, -0.25])


def test_booleans_in_the_usual_spellings():
    values, bad = parse_values(pa.array(["Yes", "N", "TRUE", "0", "maybe", None, " t "]), "boolean")
    assert str(values.dtype) == "boolean"
    assert values.tolist() == [True, False, True, False, pd.NA, pd.NA, True]
    assert bad.tolist() == [False, False, False, False, True, False, False]


def test_dates_iso_slashes_unpadded_and_with_a_time():
    values, bad = parse_values(pa.array(["2024-03-05 10:30", "2024-3-5", "2024/03/05", "05/03/2024",
                                         "2024-03-05T10:30:00.5", "  ", "2023-02-29"]), "date")
    day = pd.Timestamp("2024-03-05")
    assert values.tolist()[:3] == [day, day, day] and values[4] == day
    # day-first is ambiguous and refused; 2023 is no leap year; blank is missing
    assert bad.tolist() == [False, False, False, True, False, False, True]
    assert values.index.tolist() == list(range(7))


def test_typed_arrow_columns_skip_the_text_parse():
    values, bad = parse_values(pa.array([1, 2, None]), "number")
    assert values.tolist()[:2] == [1.0, 2.0] and np.isnan(values[2]) and not bad.any()
    values, bad = parse_values(pa.array([1.0, 2.5, None]), "integer")  # Parquet floats in an integer field
    assert bad.tolist() == [False, True, False] and values[0] == 1
    values, bad = parse_values(pa.array([True, False]), "integer")
    assert values.tolist() == [1, 0] and not bad.any()
    values, bad = parse_values(pa.array([datetime.date(2024, 1, 2), None]), "date")
    assert values[0] == pd.Timestamp("2024-01-02") and pd.isna(values[1]) and not bad.any()
    assert str(values.dtype) == "datetime64[ns]"


def test_strings_are_trimmed_and_blank_is_missing():
    chunked = pa.chunked_array([pa.array([" a ", ""]), pa.array([None, "b\t"])])
    assert as_strings(chunked).to_pylist() == ["a", None, None, "b"]
    encoded = pa.array([" H01", "H02 ", "", "H01"]).dictionary_encode()  # Parquet's dictionary columns
    values, bad = parse_values(encoded, "category")
    assert values.tolist()[:2] == ["H01", "H02"] and pd.isna(values[2]) and values[3] == "H01"
    assert not bad.any()
    values, _ = parse_values(pa.array([1, 22]), "string")  # numbers in a text field stay text
    assert values.tolist() == ["1", "22"]
