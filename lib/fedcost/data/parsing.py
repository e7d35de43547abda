"""Typing a column of strings by the data dictionary's field type: numbers, dates, booleans.

A value that is not what its field says is reported for its cell (a mask of
bad values comes back beside the typed column) instead of failing the read.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


# -- typing raw values -----------------------------------------------------------
TRUE = {"1", "true", "t", "yes", "y"}


FALSE = {"0", "false", "f", "no", "n"}


DATE_RE = r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"


def as_strings(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """Trimmed strings with empty cells as null (the CSV reader's view of any column)."""
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.string())
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)


def parse_values(arr: pa.ChunkedArray | pa.Array, kind: str) -> tuple[pd.Series, np.ndarray]:
    """Type one column for a dictionary field type; returns (values, bad) where values holds
    missing for empty and unparseable cells and `bad` marks the unparseable ones, so each is
    reported for its own cell. Integers -> Int64, numbers -> float64 (finite only), dates ->
    datetime64[ns] (YYYY-MM-DD, also YYYY/MM/DD and a trailing time), strings and categories
    -> trimmed str, booleans -> boolean (true/false, yes/no, 1/0)."""
    if isinstance(arr, pa.Array):
        arr = pa.chunked_array([arr])
    t = arr.type
    if kind in ("integer", "number") and (pa.types.is_integer(t) or pa.types.is_floating(t)
                                          or pa.types.is_decimal(t) or pa.types.is_boolean(t)):
        num = pd.Series(arr.cast(pa.float64()).to_numpy(zero_copy_only=False))
        raw_present = num.notna().to_numpy()
    elif kind == "date" and (pa.types.is_date(t) or pa.types.is_timestamp(t)):
        values = pd.Series(arr.cast(pa.timestamp("ns")).to_pandas(), dtype="datetime64[ns]")
        return values, np.zeros(len(values), dtype=bool)
    else:
        strings = as_strings(arr)
        raw_present = pc.is_valid(strings).to_numpy(zero_copy_only=False)
        if kind in ("string", "category"):
            return strings.to_pandas(), np.zeros(len(strings), dtype=bool)
        if kind == "boolean":
            low = pd.Series(pc.utf8_lower(strings).to_pandas(), dtype="str")
            values = pd.Series(pd.NA, index=low.index, dtype="boolean")
            values[low.isin(TRUE)] = True
            values[low.isin(FALSE)] = False
            return values, raw_present & values.isna().to_numpy()
        if kind == "date":
            return parse_dates(strings, raw_present)
        try:  # fast path: every present cell parses
            num = pd.Series(strings.cast(pa.float64()).to_numpy(zero_copy_only=False))
        except pa.ArrowInvalid:
            num = pd.to_numeric(pd.Series(strings.to_pandas(), dtype="str"), errors="coerce").astype("float64")
    values = num.to_numpy(dtype="float64", na_value=np.nan)
    finite = np.isfinite(values)
    if kind == "integer":
        finite &= np.abs(values) < 2.0 ** 63
        whole = finite & (np.floor(np.where(finite, values, 0)) == np.where(finite, values, 0))
        bad = raw_present & ~whole
        out = pd.array(np.where(whole, values, 0).astype("int64"), dtype="Int64")
        out[~whole] = pd.NA
        return pd.Series(out), bad
    bad = raw_present & ~finite
    return pd.Series(np.where(finite, values, np.nan)), bad


def parse_dates(strings: pa.ChunkedArray, present: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    try:  # fast path: strict ISO dates
        values = pd.Series(strings.cast(pa.date32()).cast(pa.timestamp("ns")).to_pandas(), dtype="datetime64[ns]")
    except pa.ArrowInvalid:
        s = pd.Series(strings.to_pandas(), dtype="str")
        parts = s.str.extract(DATE_RE)
        iso = parts[0] + "-" + parts[1].str.zfill(2) + "-" + parts[2].str.zfill(2)
        values = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")
    values = values.reset_index(drop=True)
    return values, present & values.isna().to_numpy()
