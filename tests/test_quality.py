"""The data-quality summary: definitions checked on small hand-made tables."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from fedcost.data.dictionary import Dictionary
from fedcost.data.quality import QualitySummary
from fedcost.data.validation import validate_file


def _dictionary(tmp_path):
    folder = tmp_path / "d"
    (folder / "codes").mkdir(parents=True)
    (folder / "dictionary.yaml").write_text(
        "name: q\nversion: '1'\nfields:\n"
        "  - {name: id, type: string, required: true}\n"
        "  - {name: start, type: date, required: true, min: '2000-01-01', max: '2035-12-31'}\n"
        "  - {name: end, type: date, required: true, min: '2000-01-01', max: '2035-12-31'}\n"
        "  - {name: n, type: integer, required: true, min: 0, max: 10}\n"
        "  - {name: note, type: string, required: false}\n"
        "rules:\n  - {name: order, kind: date_order, start: start, end: end}\n", encoding="utf-8")
    return Dictionary.load(folder)


def test_summary_of_a_valid_file(tmp_path):
    d = _dictionary(tmp_path)
    path = tmp_path / "v.csv"
    path.write_text("id,start,end,n,note\na,2024-01-01,2024-01-05,1,x\nb,2024-02-01,2024-02-03,2,\n"
                    "c,2030-01-01,2030-01-02,3,\nd,2024-03-01,2024-03-01,4,y\n", encoding="utf-8")
    report = validate_file(path, d)
    assert report.ok
    q = report.quality
    q.today = dt.date(2026, 11, 23)
    s = q.as_dict()
    assert s["completeness"] == 100.0  # required fields only
    assert s["fields"]["note"]["completeness"] == 50.0 and not s["fields"]["note"]["required"]
    assert s["validity"] == 100.0 and s["consistency"] == 100.0
    assert s["timeliness"] == 75.0  # the 2030 discharge is in the future
    assert s["timeliness_field"] == "end" and s["latest_date"] == "2024-03-01"
    assert s["lag_days"] == (dt.date(2026, 11, 23) - dt.date(2024, 3, 1)).days
    text = q.format()
    assert "timeliness" in text and "note" in text


def test_summary_counts_invalid_cells_and_failed_rules(tmp_path):
    d = _dictionary(tmp_path)
    path = tmp_path / "b.csv"
    path.write_text("id,start,end,n,note\na,2024-01-05,2024-01-01,1,\nb,2024-02-01,2024-02-03,x,\n"
                    "c,2024-01-01,2024-01-02,99,\nd,2024-03-01,2024-03-02,,\n", encoding="utf-8")
    s = validate_file(path, d).quality.as_dict()
    assert s["fields"]["n"]["completeness"] == 75.0  # 3 of 4 present ('x' is present but invalid)
    assert round(s["fields"]["n"]["validity"], 2) == round(100 / 3, 2)  # 'x' and 99 fail
    assert s["rules"]["order"] == {"checked": 4, "failed": 1, "consistency": 75.0}


def test_accumulator_directly():
    q = QualitySummary(fields=["a"], required=["a"], rules=["r"], date_field="a",
                       date_max=pd.Timestamp("2030-01-01"), today=dt.date(2025, 1, 1))
    q.add_rows(4)
    q.add_counts(present={"a": 3}, invalid={"a": 1}, rule_checked={"r": 4}, rule_failed={"r": 2})
    dates = pd.Series(pd.to_datetime(["2024-01-01", "2026-01-01", None, "2024-06-01"]))
    q.add_dates(dates, np.array([True, True, False, True]))
    s = q.as_dict()
    assert s["completeness"] == 75.0 and round(s["validity"], 4) == round(200 / 3, 4)
    assert s["consistency"] == 50.0 and s["timeliness"] == 50.0 and s["lag_days"] == 214
