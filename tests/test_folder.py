"""The results folder: one Parquet and one CSV per table, results.json and manifest.json, written atomically."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from fedcost import __version__
from fedcost.results.folder import read_results, read_tables, write_folder

DOC = {"run": {"created": "2024-05-01T10:00:00Z", "engine": "local"}, "analyses": {"m": {"dispersion": math.nan}}}


def _tables() -> dict[str, pd.DataFrame]:
    status = pd.DataFrame({"analysis": ["a", "b"], "status": ["released", "withheld"], "rounds": [3.0, np.nan]},
                          index=[7, 9])  # the index is not written
    mixed = pd.DataFrame({"analysis": ["d"] * 3, "n": [12.0, None, 7.0],
                          "value": pd.Series([1, 2.5, None], dtype=object),       # numbers held as objects
                          "flag": pd.Series([True, None, False], dtype=object),   # booleans with a gap
                          "group": pd.Series(["2023", 2024, None], dtype=object)})  # text and a number
    return {"status": status, "descriptive_x": mixed}


@pytest.fixture
def written(tmp_path):
    out = write_folder(tmp_path / "results", _tables(), {"status": "one row per analysis"}, DOC)
    return out


def test_the_manifest_lists_each_table_with_its_files(written):
    manifest = json.loads((written / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["created"] == "2024-05-01T10:00:00Z" and manifest["fedcost_version"] == __version__
    assert manifest["results"] == "results.json"
    assert manifest["tables"]["status"] == {"description": "one row per analysis", "csv": "status.csv",
                                            "parquet": "status.parquet", "rows": 2,
                                            "columns": ["analysis", "status", "rounds"]}
    assert manifest["tables"]["descriptive_x"]["description"] == ""
    assert sorted(p.name for p in written.iterdir()) == [
        "descriptive_x.csv", "descriptive_x.parquet", "manifest.json", "results.json", "status.csv",
        "status.parquet"]
    assert read_results(written) == {"run": DOC["run"], "analyses": {"m": {"dispersion": None}}}  # NaN -> null


def test_counts_are_nullable_integers_and_object_columns_get_one_type(written):
    pq = read_tables(written)
    assert str(pq["status"]["rounds"].dtype) == "Int64"
    assert pq["status"]["rounds"].tolist()[0] == 3 and pd.isna(pq["status"]["rounds"][1])
    d = pq["descriptive_x"]
    assert str(d["n"].dtype) == "Int64" and d["n"].tolist()[0] == 12 and pd.isna(d["n"][1])
    assert d["value"].dtype == "float64" and d["value"].tolist()[:2] == [1.0, 2.5] and np.isnan(d["value"][2])
    assert str(d["flag"].dtype) == "boolean" and d["flag"].tolist() == [True, pd.NA, False]
    assert d["group"].tolist()[:2] == ["2023", "2024"] and pd.isna(d["group"][2])  # text; missing stays missing
    assert list(pq["status"].index) == [0, 1]


def test_csv_and_parquet_hold_the_same_values(written):
    pq, csv = read_tables(written), read_tables(written, fmt="csv")
    assert set(pq) == set(csv) == {"status", "descriptive_x"}
    pd.testing.assert_frame_equal(pq["status"], csv["status"], check_dtype=False)
    assert csv["descriptive_x"]["group"].tolist()[:2] == ["2023", "2024"]  # read back as text, not numbers
    assert csv["descriptive_x"]["n"].tolist()[0] == 12


def test_a_rewrite_replaces_the_folder_and_a_failed_write_leaves_it(written):
    write_folder(written, {"kpi": pd.DataFrame({"metric": ["cost"], "value": [1.5]})}, {}, DOC)
    assert sorted(p.name for p in written.iterdir()) == ["kpi.csv", "kpi.parquet", "manifest.json", "results.json"]
    before = {p.name: p.read_bytes() for p in written.iterdir()}
    with pytest.raises(KeyError):
        write_folder(written, _tables(), {}, {"no": "run section"})  # fails inside the write
    assert {p.name: p.read_bytes() for p in written.iterdir()} == before
    assert sorted(p.name for p in written.parent.iterdir()) == ["results"]  # no temporary folder left behind
