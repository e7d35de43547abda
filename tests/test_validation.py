"""Validation: a table of bad files through the real CLI, the Python API, and memory on large files.

Every bad file is a valid hand-made base file with one thing broken, so the
expected ROW and COLUMN are known exactly (header = row 1, first record = row 2).
"""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from fedcost.data.dictionary import Dictionary
from fedcost.errors import DataError, UsageError
from fedcost.data.validation import load_valid, validate_file

D = Dictionary.load()
COLUMNS = list(D.fields)
PARTS = ["cost_drugs", "cost_consumables", "cost_exams", "cost_procedures", "cost_nursing_bed",
         "cost_labour", "cost_other"]


def base_records(n: int = 8) -> list[dict]:
    """n valid records, built by hand from the default dictionary."""
    regions, levels, drgs = D.levels("region"), D.levels("hospital_level"), D.levels("drg_code")
    out = []
    for i in range(n):
        adm = date(2024, 1, 1) + timedelta(days=7 * i)
        los = 2 + i % 5
        rec = {"record_id": f"R{i:04d}", "hospital_id": "H01", "region": regions[i % len(regions)],
               "hospital_level": levels[i % len(levels)], "admission_date": adm.isoformat(),
               "discharge_date": (adm + timedelta(days=los)).isoformat(), "los": str(los),
               "age": str(30 + i), "sex": "F" if i % 2 else "M", "principal_diagnosis": "I63.9",
               "drg_code": drgs[i % len(drgs)], "comorbidity_score": str(i % 4), "admission_type": "elective",
               "payer_type": "uebmi", "discharge_status": "home", "readmission_30d": "0"}
        costs = [1000.5 + i, 500, 300.25, 200, 100, 50, 10]
        rec.update({p: str(c) for p, c in zip(PARTS, costs)})
        rec["cost_total"] = f"{sum(costs):.2f}"
        rec.update({"strategy": "", "qaly": "", "clinical_response": ""})
        if i == 0:
            rec.update({"strategy": "combination", "qaly": "1.25", "clinical_response": "1"})
        out.append(rec)
    return out


def csv_text(records: list[dict], columns: list[str] = COLUMNS, delimiter: str = ",") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(columns)
    for r in records:
        w.writerow([r.get(c, "") for c in columns])
    return buf.getvalue()


def mutate(row: int, **values) -> list[dict]:
    """Base records with spreadsheet row `row` (2 = first record) changed."""
    recs = base_records()
    recs[row - 2].update(values)
    return recs


def write(path: Path, content) -> Path:
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def _lines_replace(text: str, row: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[row - 1] = new
    return "".join(lines)


def _parquet(records, path, **overrides):
    df = pd.DataFrame(records)
    for col, conv in overrides.items():
        df[col] = conv(df[col])
    df.to_parquet(path, index=False)
    return path


BASE = csv_text(base_records())
BAD_FILES = {
    # name: (writer(tmp_dir) -> path, expected ROW, expected COLUMN, expected text in the message)
    "text_in_number": (lambda d: write(d / "a.csv", csv_text(mutate(3, los="three"))), "3", "los", "not a whole number"),
    "absurd_value": (lambda d: write(d / "a.csv", csv_text(mutate(4, age="200"))), "4", "age", "above the maximum 115"),
    "negative_cost": (lambda d: write(d / "a.csv", csv_text(mutate(5, cost_other="-10", cost_total="2100.75"))),
                      "5", "cost_other", "below the minimum 0"),
    "unknown_code": (lambda d: write(d / "a.csv", csv_text(mutate(2, region="mars"))), "2", "region", "not a code of region"),
    "bad_date": (lambda d: write(d / "a.csv", csv_text(mutate(6, admission_date="2024-02-30"))),
                 "6", "admission_date", "not a date"),
    "duplicate_id": (lambda d: write(d / "a.csv", csv_text(mutate(7, record_id="R0001"))), "7", "record_id",
                     "first seen in row 3"),
    "foreign_hospital_id": (lambda d: write(d / "a.csv", csv_text(mutate(5, hospital_id="ZZZ-999"))), "5",
                            "hospital_id", "'ZZZ-999' but this file's first record (row 2) has 'H01'"),
    "required_missing": (lambda d: write(d / "a.csv", csv_text(mutate(3, sex=""))), "3", "sex", "required value is missing"),
    "sum_mismatch": (lambda d: write(d / "a.csv", csv_text(mutate(4, cost_total="99.00"))), "4", "cost_total",
                     "components_sum_to_total"),
    "discharge_before_admission": (lambda d: write(d / "a.csv", csv_text(mutate(5, discharge_date="2023-12-01"))),
                                   "5", "discharge_date", "discharge_after_admission"),
    "los_mismatch": (lambda d: write(d / "a.csv", csv_text(mutate(6, los="9"))), "6", "los", "los_matches_dates"),
    "qaly_without_strategy": (lambda d: write(d / "a.csv", csv_text(mutate(2, strategy=""))), "2", "strategy",
                              "qaly_needs_strategy"),
    "nan_text": (lambda d: write(d / "a.csv", csv_text(mutate(8, cost_drugs="NaN"))), "8", "cost_drugs",
                 "not a finite number"),
    "inf_text": (lambda d: write(d / "a.csv", csv_text(mutate(9, cost_exams="inf"))), "9", "cost_exams",
                 "not a finite number"),
    "pattern": (lambda d: write(d / "a.csv", csv_text(mutate(3, principal_diagnosis="stroke"))), "3",
                "principal_diagnosis", "does not match the pattern"),
    "too_many_fields": (lambda d: write(d / "a.csv", _lines_replace(BASE, 4, BASE.splitlines()[3] + ",extra\n")),
                        "4", "-", "28 fields but the header has 27"),
    "too_few_fields": (lambda d: write(d / "a.csv", _lines_replace(BASE, 5, "R9,H01,east\n")), "5", "-",
                       "3 fields but the header has 27"),
    "missing_required_column": (lambda d: write(d / "a.csv", csv_text(base_records(), [c for c in COLUMNS if c != "age"])),
                                "-", "age", "required column is missing"),
    "duplicated_column": (lambda d: write(d / "a.csv", BASE.replace("hospital_id,", "los,", 1)), "-", "los",
                          "appears 2 times"),
    "zero_bytes": (lambda d: write(d / "a.csv", b""), "-", "-", "empty"),
    "header_only": (lambda d: write(d / "a.csv", BASE.splitlines()[0] + "\n"), "-", "-", "no data rows"),
    "binary_junk": (lambda d: write(d / "a.csv", bytes(range(256)) * 20), "-", "-", "binary"),
    "xlsx_renamed": (lambda d: write(d / "a.csv", b"PK\x03\x04" + b"\x00" * 100), "-", "-", "Excel"),
    "semicolon_with_error": (lambda d: write(d / "a.csv", csv_text(mutate(3, age="x"), delimiter=";")), "3", "age",
                             "not a whole number"),
    "csv_named_parquet": (lambda d: write(d / "a.parquet", csv_text(mutate(5, sex="X"))), "5", "sex", "not a code"),
    "parquet_out_of_range": (lambda d: _parquet(mutate(6, los="400", discharge_date="2025-02-07"), d / "b.csv",
                                                los=lambda s: s.astype(int)), "6", "los", "above the maximum"),
    "parquet_text_in_number": (lambda d: _parquet(mutate(7, age="old"), d / "c.parquet"), "7", "age",
                               "not a whole number"),
    "corrupt_parquet": (lambda d: write(d / "a.parquet", b"PAR1" + b"\x01" * 50), "-", "-", "Parquet"),
    "gbk_with_error": (lambda d: write(d / "a.csv", csv_text(mutate(4, region="东部")).encode("gbk")), "4", "region",
                       "'东部' is not a code"),
    "undecodable": (lambda d: write(d / "a.csv", BASE.encode() + b"R\xff\xfe\x81\x20,1\n"), "-", "-", "--encoding"),
}


def run_cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fedcost.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONIOENCODING": "utf-8"})


def run_main(*args: str) -> subprocess.CompletedProcess:
    """The CLI's entry point in this process (its exit code, stdout and stderr): what a user's shell sees,
    without paying Python's start-up per file (test_base_file_is_valid and the usage tests run the real
    process)."""
    import contextlib
    import io

    from fedcost.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def bad_results(tmp_path_factory):
    """The CLI on every bad file."""
    jobs = {}
    for name, (make, *_expected) in BAD_FILES.items():
        folder = tmp_path_factory.mktemp(name)
        jobs[name] = make(folder)
    return jobs, {name: run_main("validate", str(path)) for name, path in jobs.items()}


def test_base_file_is_valid(tmp_path):
    path = write(tmp_path / "base.csv", BASE)
    r = run_cli("validate", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "completeness" in r.stdout and "timeliness" in r.stdout and "Traceback" not in r.stderr


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_file(name, bad_results):
    jobs, results = bad_results
    _, row, column, text = BAD_FILES[name]
    r = results[name]
    assert r.returncode == 1, (name, r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stdout + r.stderr
    expected = f"{jobs[name]}:{row}:{column}: "
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith(expected)]
    assert lines, f"{name}: no line starting {expected!r} in:\n{r.stdout}\n{r.stderr}"
    assert any(text in ln for ln in lines), (name, lines)


def test_usage_errors_exit_2(tmp_path):
    assert run_cli("validate", str(tmp_path / "nope.csv")).returncode == 2
    assert run_cli("validate", str(tmp_path)).returncode == 2
    path = write(tmp_path / "base.csv", BASE)
    r = run_cli("validate", str(path), "--max-errors", "-1")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert run_cli("validate", str(path), "--dictionary", str(tmp_path / "nodict")).returncode == 2
    assert run_cli("validate", str(path), "--encoding", "klingon").returncode == 2


def test_help_documents_rows_and_exit_codes():
    out = run_cli("validate", "--help").stdout
    assert "header is row 1" in out and "exit codes" in out and "--max-errors" in out


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    path = write(tmp_path / "base.csv", BASE)
    path.chmod(0)
    r = run_cli("validate", str(path))
    assert r.returncode == 1 and "permission denied" in r.stdout + r.stderr


def test_max_errors_caps_and_counts(tmp_path):
    recs = base_records(40)
    for r in recs:
        r["age"] = "old"
    path = write(tmp_path / "many.csv", csv_text(recs))
    report = validate_file(path, D, max_errors=5)
    assert not report.ok and len(report.problems) == 5 and report.n_problems_total == 40
    assert report.lines()[-1] == "... and 35 more problems"
    assert [p.row for p in report.problems] == [2, 3, 4, 5, 6]


def test_duplicates_across_chunks_and_row_numbers(tmp_path):
    recs = base_records(30)
    recs[25]["record_id"] = recs[2]["record_id"]  # row 27 repeats row 4
    recs[17]["age"] = "x"  # row 19
    path = write(tmp_path / "dup.csv", csv_text(recs))
    report = validate_file(path, D, chunksize=7)
    got = {(p.row, p.column) for p in report.problems}
    assert got == {(27, "record_id"), (19, "age")}
    assert "first seen in row 4" in [p.message for p in report.problems if p.row == 27][0]


def test_another_hospital_across_chunks_is_named_by_row(tmp_path):
    recs = base_records(30)
    recs[20]["hospital_id"] = "ZZZ-999"  # row 22, in the fourth chunk of 7
    report = validate_file(write(tmp_path / "h.csv", csv_text(recs)), D, chunksize=7)
    assert [(p.row, p.column) for p in report.problems] == [(22, "hospital_id")]
    assert "[rule one_hospital_per_file]" in report.problems[0].message
    assert not report.ok


def test_a_users_dictionary_can_state_one_value(tmp_path):
    from fedcost.data.dictionary import Dictionary

    d = Dictionary.from_spec({"name": "site", "version": "1", "fields": [
        {"name": "site", "type": "string", "required": True}, {"name": "x", "type": "number", "required": True}],
        "rules": [{"name": "one_site", "kind": "one_value", "columns": ["site"]}]}, {})
    path = write(tmp_path / "s.csv", "site,x\nA,1\nA,2\nB,3\n")
    report = validate_file(path, d)
    assert [(p.row, p.column) for p in report.problems] == [(4, "site")]
    assert validate_file(write(tmp_path / "ok.csv", "site,x\nA,1\nA,2\n"), d).ok


def test_ragged_rows_keep_later_row_numbers_right(tmp_path):
    recs = base_records(12)
    recs[9]["age"] = "abc"  # row 11, after the ragged row
    lines = csv_text(recs).splitlines(keepends=True)
    lines[2] = lines[2].rstrip("\n") + ",x\n"  # row 3 has one field too many
    report = validate_file(write(tmp_path / "r.csv", "".join(lines)), D, chunksize=4)
    assert {(p.row, p.column) for p in report.problems} == {(3, None), (11, "age")}


def test_blank_lines_are_skipped_but_counted_in_row_numbers(tmp_path):
    recs = base_records()
    recs[4]["age"] = "bad"
    lines = csv_text(recs).splitlines(keepends=True)
    lines.insert(2, "\n")  # a blank spreadsheet row 3: record 5 (was row 6) is now row 7
    report = validate_file(write(tmp_path / "b.csv", "".join(lines)), D)
    assert [(p.row, p.column) for p in report.problems] == [(7, "age")]
    assert any("empty row" in w for w in report.warnings)


def test_extra_column_warns_but_passes(tmp_path):
    recs = base_records()
    for r in recs:
        r["备注"] = "中文备注"
    path = write(tmp_path / "x.csv", csv_text(recs, COLUMNS + ["备注"]))
    report = validate_file(path, D)
    assert report.ok and any("备注" in w for w in report.warnings)


def test_gbk_file_with_chinese_text_validates(tmp_path):
    recs = base_records()
    for r in recs:
        r["科室"] = "神经内科"
    path = tmp_path / "gbk.csv"
    path.write_bytes(csv_text(recs, COLUMNS + ["科室"]).encode("gbk"))
    r = run_cli("validate", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "gb18030" in r.stdout


def test_gbk_chinese_string_field_with_custom_dictionary(tmp_path):
    folder = tmp_path / "dict"
    (folder / "codes").mkdir(parents=True)
    (folder / "dictionary.yaml").write_text(
        "name: ward\nversion: '1'\nfields:\n"
        "  - {name: id, type: string, required: true, pattern: '^[0-9]+$'}\n"
        "  - {name: ward, type: string, required: true, description: {en: Ward, zh: 科室}}\n"
        "  - {name: unit, type: category, required: true, codes: unit}\n"
        "rules:\n  - {name: id_unique, kind: unique, columns: [id]}\n", encoding="utf-8")
    (folder / "codes" / "unit.csv").write_text("code,name_en,name_zh\n内科,Medicine,内科\n外科,Surgery,外科\n",
                                              encoding="utf-8")
    path = tmp_path / "w.csv"
    path.write_bytes("id,ward,unit\n1,神经内科,内科\n2,骨科,外科\n".encode("gbk"))
    r = run_cli("validate", str(path), "--dictionary", str(folder))
    assert r.returncode == 0, r.stdout + r.stderr
    df = load_valid(path, Dictionary.load(folder))
    assert df["ward"].tolist() == ["神经内科", "骨科"]
    assert list(df["unit"].cat.categories) == ["内科", "外科"]


def test_utf8_bom_file(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert validate_file(path, D).ok


def test_load_valid_types(tmp_path):
    df = load_valid(write(tmp_path / "base.csv", BASE), D)
    assert len(df) == 8 and list(df.columns) == COLUMNS
    assert isinstance(df["drg_code"].dtype, pd.CategoricalDtype)
    assert list(df["drg_code"].cat.categories) == D.levels("drg_code")  # all levels, even unobserved
    assert str(df["los"].dtype) == "int64" and str(df["clinical_response"].dtype) == "Int64"
    assert str(df["cost_total"].dtype) == "float64" and str(df["qaly"].dtype) == "float64"
    assert pd.api.types.is_datetime64_dtype(df["admission_date"])
    assert df["record_id"].tolist()[:2] == ["R0000", "R0001"]


def test_load_valid_adds_absent_optional_fields(tmp_path):
    recs = base_records()[1:]  # no cohort record: the optional columns can go
    cols = [c for c in COLUMNS if c not in ("strategy", "qaly", "clinical_response")]
    df = load_valid(write(tmp_path / "req.csv", csv_text(recs, cols)), D)
    assert list(df.columns) == COLUMNS and df["qaly"].isna().all()
    assert str(df["qaly"].dtype) == "float64" and str(df["clinical_response"].dtype) == "Int64"
    assert isinstance(df["strategy"].dtype, pd.CategoricalDtype) and list(df["strategy"].cat.categories) == D.levels("strategy")


def test_load_valid_same_from_parquet(tmp_path):
    csv_df = load_valid(write(tmp_path / "base.csv", BASE), D)
    pq_path = tmp_path / "base.parquet"
    csv_df.to_parquet(pq_path, index=False)
    pq_df = load_valid(pq_path, D)
    pd.testing.assert_frame_equal(csv_df, pq_df, check_dtype=False)
    assert isinstance(pq_df["sex"].dtype, pd.CategoricalDtype)


def test_load_valid_raises_with_locations(tmp_path):
    path = write(tmp_path / "bad.csv", csv_text(mutate(3, age="abc")))
    with pytest.raises(DataError, match=rf"{path}:3:age: 'abc' is not a whole number"):
        load_valid(path, D)


def test_validate_file_usage_errors(tmp_path):
    with pytest.raises(UsageError):
        validate_file(tmp_path / "missing.csv", D)


def _write_big(path: Path, n: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    rng = np.random.default_rng(1)
    adm = np.datetime64("2024-01-01") + rng.integers(0, 500, n).astype("timedelta64[D]")
    los = rng.integers(1, 30, n)
    cols = {"record_id": pa.array(np.char.add("R", np.arange(n).astype(str))), "hospital_id": ["H1"] * n,
            "region": ["east"] * n, "hospital_level": ["tertiary"] * n, "admission_date": adm,
            "discharge_date": adm + los.astype("timedelta64[D]"), "los": los, "age": rng.integers(0, 100, n),
            "sex": ["F"] * n, "principal_diagnosis": ["I63.9"] * n, "drg_code": ["BR21"] * n,
            "comorbidity_score": rng.integers(0, 5, n), "admission_type": ["elective"] * n,
            "payer_type": ["uebmi"] * n, "discharge_status": ["home"] * n, "readmission_30d": np.zeros(n, int)}
    parts = np.round(rng.gamma(2, 500, (n, 7)), 2)
    for i, p in enumerate(PARTS):
        cols[p] = parts[:, i]
    cols["cost_total"] = np.round(parts.sum(axis=1), 2)
    pacsv.write_csv(pa.table(cols), path)


def _peak_rss_kb(path: Path) -> tuple[int, int]:
    proc = subprocess.Popen([sys.executable, "-m", "fedcost.cli", "validate", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss


@pytest.mark.slow
def test_large_file_bounded_memory(tmp_path):
    n = 400_000  # the smaller file is already larger than pyarrow's read-ahead (32 blocks of 2 MB)
    small, large = tmp_path / "n.csv", tmp_path / "4n.csv"
    _write_big(small, n)
    _write_big(large, 4 * n)
    rc_small, rss_small = _peak_rss_kb(small)
    rc_large, rss_large = _peak_rss_kb(large)
    assert rc_small == 0 and rc_large == 0
    # 4x the rows: memory must grow far less than 4x (ids cost 16 bytes a row, rows are chunked)
    assert rss_large < 1.5 * rss_small, (rss_small, rss_large)
