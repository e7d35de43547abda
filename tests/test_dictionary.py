"""The default data dictionary loads, is self-consistent, and round-trips through save/load."""
from __future__ import annotations

import pytest

from fedcost.data.dictionary import Dictionary
from fedcost.errors import DataError
from fedcost.data.schema import build_schema


def test_default_dictionary_loads():
    d = Dictionary.load()
    assert d.version and d.name == "fedcost-inpatient-cost"
    assert {"record_id", "cost_total", "drg_code", "discharge_date"} <= set(d.fields)
    assert d.levels("sex") == sorted(d.levels("sex"))
    assert len(d.levels("drg_code")) == len(d.code_table("drg_code")) and "weight" in d.code_table("drg_code")
    assert {r["kind"] for r in d.rules} == {"unique", "one_value", "sum", "date_order", "date_diff", "implies"}
    for f in d.fields.values():
        assert f.description.get("en") and f.description.get("zh"), f.name


def test_roundtrip_keeps_fingerprint(tmp_path):
    d = Dictionary.load()
    d.save(tmp_path / "copy")
    again = Dictionary.load(tmp_path / "copy")
    assert again.fingerprint == d.fingerprint and again.levels("drg_code") == d.levels("drg_code")


def test_schema_is_built_from_the_dictionary():
    d = Dictionary.load()
    schema = build_schema(d)
    assert set(schema.columns) == set(d.fields)
    assert {c.name for c in schema.checks} == {r["name"] for r in d.rules if r["kind"] not in ("unique", "one_value")}
    assert not schema.columns["record_id"].nullable and schema.columns["qaly"].nullable


def test_bad_dictionary_folder(tmp_path):
    with pytest.raises(DataError, match="no such dictionary folder"):
        Dictionary.load(tmp_path / "nope")
