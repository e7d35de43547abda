"""Validate a hospital's file against the data dictionary, in chunks, with pandera.

Why: every later step (design matrices with the dictionary's levels, federated
sums, reports) assumes clean, typed records; a hospital must learn *which
cell* is wrong, in its own spreadsheet's row numbers, before anything leaves
the premises. So:

1. `fedcost.data.readers` streams the file as strings (or typed Parquet) in chunks;
   rows with the wrong number of fields are reported by row.
2. Each dictionary field is typed cell by cell (`io.parse_values`): a value
   that is not a number/date is a problem for that cell, not a crash.
3. A pandera schema built FROM the dictionary checks required values, ranges,
   code lists and patterns per column, and the dictionary's rules (sum,
   date_order, date_diff, implies) as dataframe-level checks; it runs with
   `lazy=True` so every failure is collected and mapped to PATH:ROW:COLUMN.
4. `unique` rules span chunks: a 64-bit hash and first row of every key is
   kept (16 bytes a record, never whole rows). `one_value` rules too: every
   record must carry the value of the file's first record (a file is one
   hospital, so a row naming another hospital is an error of that row).

Problems are kept up to `max_errors` and counted beyond it; the quality
summary (`fedcost.data.quality`) is gathered in the same pass.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pyarrow
import pyarrow.compute as pc

from fedcost.data.dictionary import FILE_RULE_KINDS, Dictionary
from fedcost.data.file_rules import OneValueTracker, UniqueTracker
from fedcost.data.schema import PANDAS_DTYPES, build_schema, evaluate_rule, message, rule_column, rule_fields
from fedcost.errors import DataError
from fedcost.data.parsing import parse_values
from fedcost.data.readers import DEFAULT_CHUNKSIZE, TableReader
from fedcost.data.quality import QualitySummary


@dataclass(frozen=True)
class Problem:
    """One problem; `row` None and/or `column` None for file-level problems."""

    path: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{'-' if self.row is None else self.row}:{self.column or '-'}: {self.message}"


@dataclass
class ValidationReport:
    """The outcome of `validate_file`: `problems` holds the first `max_errors`,
    `n_problems_total` counts them all."""

    path: str
    ok: bool
    problems: list[Problem]
    n_problems_total: int
    n_rows: int
    quality: QualitySummary | None
    warnings: list[str] = field(default_factory=list)
    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None

    def lines(self) -> list[str]:
        """Problems one per line, and a last line counting those not shown."""
        out = [str(p) for p in self.problems]
        rest = self.n_problems_total - len(self.problems)
        if rest > 0:
            out.append(f"... and {rest} more problem{'s' if rest != 1 else ''}")
        return out


# -- the validator ------------------------------------------------------------------
class _Problems:
    """Keeps the first `cap` problems in order and counts all of them."""

    def __init__(self, path: str, dictionary: Dictionary, cap: int | None):
        self.path, self.d, self.cap = path, dictionary, cap
        self.kept: list[Problem] = []
        self.total = 0

    def room(self) -> int:
        return 10**18 if self.cap is None else max(0, self.cap - len(self.kept))

    def add(self, row, column, message) -> None:
        self.total += 1
        if self.room():
            self.kept.append(Problem(self.path, row, column, message))

    def add_frame(self, frame: pd.DataFrame, typed: pd.DataFrame | None) -> None:
        """Row problems of a chunk (row, pos, column, kind, value), sorted, messages built
        only for those kept."""
        if frame.empty:
            return
        frame = frame.sort_values(["row", "pos"], kind="stable")
        self.total += len(frame)
        for rec in frame.head(self.room()).itertuples(index=False):
            msg = message(self.d, rec.kind, rec.column, rec.value, typed, rec.row)
            self.kept.append(Problem(self.path, int(rec.row) or None, rec.column, msg))


def _short(name: str, width: int = 40) -> str:
    return name if len(name) <= width else name[: width - 3] + "..."


def _header_problems(reader: TableReader, d: Dictionary, probs: _Problems, warnings: list[str]) -> list[str]:
    """File-level problems about columns; returns the dictionary fields present."""
    present = [n for n in d.fields if n in reader.columns]
    unknown = [c for c in reader.columns if c not in d.fields]
    for name, pos in reader.duplicates.items():
        probs.add(None, name or "-", f"column name appears {len(pos)} times (columns "
                  f"{', '.join(map(str, pos))}); only the first is checked")
    if not present:
        probs.add(None, None, f"none of the dictionary's columns were found (header: "
                  f"{', '.join(_short(c) for c in reader.columns[:6])}{' ...' if len(reader.columns) > 6 else ''}); "
                  f"wrong delimiter, wrong file, or wrong --dictionary ({d.name} {d.version})?")
        return present
    for name in d.required_columns:
        if name not in reader.columns:
            close = difflib.get_close_matches(name, unknown, n=1, cutoff=0.75) or \
                [c for c in unknown if c.lower() == name.lower()]
            hint = f" (is {close[0]!r} meant to be {name!r}?)" if close else ""
            probs.add(None, name, f"required column is missing{hint}")
    for i, name in enumerate(reader.columns, start=1):
        if name not in d.fields and name not in reader.duplicates:
            label = _short(name) or f"(unnamed column {i})"
            warnings.append(f"{reader.path}:-:{label}: warning: column not in the dictionary; ignored")
    return present


def _reference_date(d: Dictionary) -> str | None:
    """The date timeliness is measured on: the end of a date-order/diff rule, else the last date."""
    for kind in ("date_order", "date_diff"):
        for r in d.rules:
            if r["kind"] == kind:
                return r["end"]
    dates = [n for n, f in d.fields.items() if f.type == "date"]
    return dates[-1] if dates else None


def _ts(value) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value)


def _drop_blank(table, rows: np.ndarray):
    """Rows whose every cell is empty (blank lines) are skipped, not reported."""
    if table.num_columns == 0:
        return table, rows
    blank = None
    for col in table.columns:
        null = pc.is_null(col)
        blank = null if blank is None else pc.and_(blank, null)
    mask = blank.to_numpy(zero_copy_only=False) if isinstance(blank, pyarrow.ChunkedArray) else np.asarray(blank)
    if not mask.any():
        return table, rows
    return table.filter(pyarrow.array(~mask)), rows[~mask]


def _frame(rows, pos, column, kind, values) -> pd.DataFrame:
    return pd.DataFrame({"row": np.asarray(rows, dtype=np.int64), "pos": pos, "column": column,
                         "kind": kind, "value": pd.Series(list(values), dtype=object)})


def _type_chunk(table, rows, present, internal, d: Dictionary, pos_of):
    """Typed frame (index = row numbers) and the cells that did not parse."""
    typed, frames, bad = {}, [], {}
    for name in present:
        col = table.column(internal[name])
        values, mask = parse_values(col, d.fields[name].type)
        values.index = rows
        typed[name] = values
        if mask.any():
            idx = np.flatnonzero(mask)
            raw = pc.take(col, pyarrow.array(idx)).to_pylist()
            frames.append(_frame(rows[idx], pos_of[name], name, "parse", raw))
            bad[name] = rows[idx]
    return pd.DataFrame(typed, index=pd.Index(rows, name="row")), frames, bad


def _pandera_frames(schema, typed, d: Dictionary, pos_of, bad_parse: dict) -> tuple[list, dict, dict]:
    """pandera's failure cases as problem frames, plus invalid-cell counts per field and
    failed-row counts per rule (for the quality summary)."""
    try:
        schema.validate(typed, lazy=True)
        return [], {}, {}
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
    except pa.errors.SchemaError as exc:  # not lazily collectable: report it for the file
        return [_frame([0], -1, None, "text", [f"schema check failed: {exc}"])], {}, {}
    fc = fc.rename(columns={"index": "row", "failure_case": "value", "check": "kind"})
    fc = fc[["row", "column", "kind", "value"]]
    frames, invalid, failed = [], {}, {}
    is_rule = fc["kind"].astype("str").str.startswith("rule:")
    rules = fc[is_rule].drop_duplicates(["row", "kind"])
    by_name = {r["name"]: r for r in d.rules}
    for kind, grp in rules.groupby("kind", sort=False):
        col = rule_column(by_name[kind[5:]])
        failed[kind[5:]] = len(grp)
        frames.append(_frame(grp["row"], pos_of.get(col, -1), col, kind, [None] * len(grp)))
    cols = fc[~is_rule]
    for (column, kind), grp in cols.groupby(["column", "kind"], sort=False):
        rows = grp["row"].to_numpy(dtype="float64", na_value=np.nan)
        if kind == "not_nullable" and column in bad_parse:  # already reported as unparseable
            keep = ~np.isin(rows, bad_parse[column])
            grp, rows = grp[keep], rows[keep]
        if grp.empty:
            continue
        if kind != "not_nullable":
            invalid[column] = invalid.get(column, 0) + len(grp)
        frames.append(_frame(np.nan_to_num(rows, nan=0), pos_of.get(column, -1), column, kind, grp["value"]))
    return frames, invalid, failed


def _run(path, dictionary: Dictionary, encoding: str | None, max_errors: int | None,
         chunksize: int, keep: bool) -> tuple[ValidationReport, list[pd.DataFrame]]:
    reader = TableReader(path, encoding)
    spath, d = str(path), dictionary
    warnings = [f"{spath}:-:-: warning: {w}" for w in reader.warnings]
    probs = _Problems(spath, d, max_errors)
    present = _header_problems(reader, d, probs, warnings)
    internal = {n: reader.names[reader.columns.index(n)] for n in present}
    schema = build_schema(d, tuple(present))
    pos_of = {n: i for i, n in enumerate(reader.columns)}
    date_field = _reference_date(d)
    if date_field not in present:
        date_field = None
    quality = QualitySummary(fields=list(d.fields), required=d.required_columns,
                             rules=[r["name"] for r in d.rules if set(rule_fields(r)) <= set(present)],
                             date_field=date_field,
                             date_min=_ts(d.fields[date_field].min) if date_field else None,
                             date_max=_ts(d.fields[date_field].max) if date_field else None)
    uniques = [(r, UniqueTracker()) for r in d.rules if r["kind"] == "unique" and set(r["columns"]) <= set(present)]
    one_values = [(r, OneValueTracker()) for r in d.rules
                  if r["kind"] == "one_value" and set(r["columns"]) <= set(present)]
    width = len(reader.columns)
    kept, n_rows, blank, typed = [], 0, 0, None
    try:
        for batch in reader.batches(chunksize, [internal[n] for n in present] if present else None):
            frames = [_frame([r for r, _ in batch.ragged], -1, None, "text",
                             [f"row has {k} fields but the header has {width} (a stray delimiter or "
                              f"quote?); row skipped" for _, k in batch.ragged])]
            n_rows += len(batch.ragged)
            if present and batch.table is not None and batch.table.num_rows:
                table, rows = _drop_blank(batch.table, batch.rows)
                blank += batch.table.num_rows - table.num_rows
                n_rows += table.num_rows
                typed, parse_frames, bad = _type_chunk(table, rows, present, internal, d, pos_of)
                pframes, invalid, failed = _pandera_frames(schema, typed, d, pos_of, bad)
                frames += parse_frames + pframes
                for rule, tracker in uniques:
                    dpos, first, checked = tracker.check(typed[list(rule["columns"])])
                    col = rule_column(rule)
                    keys = typed[col].iloc[dpos].astype("str").tolist()
                    frames.append(_frame(rows[dpos], pos_of[col], col, "dup",
                                         [(k, int(f), rule["name"]) for k, f in zip(keys, first)]))
                    failed[rule["name"]] = len(dpos)
                    quality.add_counts(rule_checked={rule["name"]: checked})
                for rule, tracker in one_values:
                    col = rule_column(rule)
                    dpos, found, checked = tracker.check(typed[col], rows)
                    frames.append(_frame(rows[dpos], pos_of[col], col, "other_value",
                                         [(v, tracker.value, tracker.row, rule["name"]) for v in found]))
                    failed[rule["name"]] = len(dpos)
                    quality.add_counts(rule_checked={rule["name"]: checked})
                _add_quality(quality, typed, d, bad, invalid, failed, schema)
            elif batch.table is not None:
                n_rows += batch.table.num_rows
            frames = [f for f in frames if not f.empty]
            if frames:
                probs.add_frame(pd.concat(frames, ignore_index=True), typed)
            if keep and probs.total == 0 and typed is not None and len(typed):
                kept.append(typed)
    except DataError as exc:  # a read failure mid-file: keep what was found so far
        probs.add(None, None, str(exc).removeprefix(f"{reader.path}: "))
    if n_rows == 0 and present and probs.total == 0:
        probs.add(None, None, "no data rows (the file has only a header)")
    if blank:
        warnings.append(f"{spath}:-:-: warning: {blank} empty row(s) skipped")
    report = ValidationReport(spath, probs.total == 0, probs.kept, probs.total, n_rows, quality, warnings,
                              reader.format, reader.encoding, reader.delimiter)
    return report, kept


def _add_quality(q: QualitySummary, typed: pd.DataFrame, d: Dictionary, bad: dict, invalid: dict,
                 failed: dict, schema) -> None:
    q.add_rows(len(typed))
    present = {n: int(typed[n].notna().sum()) + len(bad.get(n, ())) for n in typed.columns}
    inv = {n: invalid.get(n, 0) + len(bad.get(n, ())) for n in typed.columns}
    checked = {}
    for rule in d.rules:
        if rule["kind"] not in FILE_RULE_KINDS and rule["name"] in q.rules:
            checked[rule["name"]] = int(evaluate_rule(rule, typed)[1].sum())
    q.add_counts(present=present, invalid=inv, rule_checked=checked,
                 rule_failed={k: v for k, v in failed.items()})
    if q.date_field:
        f = d.fields[q.date_field]
        s = typed[q.date_field]
        ok = s.notna()
        if f.min is not None:
            ok &= s >= pd.Timestamp(f.min)
        if f.max is not None:
            ok &= s <= pd.Timestamp(f.max)
        q.add_dates(s, ok.to_numpy())


def validate_file(path: str | os.PathLike, dictionary: Dictionary | str | os.PathLike | None = None,
                  encoding: str | None = None, max_errors: int | None = 50,
                  chunksize: int = DEFAULT_CHUNKSIZE) -> ValidationReport:
    """Validate a CSV or Parquet file against a dictionary (default: the project's), reading
    `chunksize` rows at a time. Keeps the first `max_errors` problems (None or 0: all) and
    counts the rest. Raises UsageError (missing file, a folder) or DataError (not a table,
    undecodable) when the file cannot be read at all; everything else is a Problem."""
    d = _dictionary(dictionary)
    return _run(path, d, encoding, max_errors or None, chunksize, keep=False)[0]


def load_valid(path: str | os.PathLike, dictionary: Dictionary | str | os.PathLike | None = None,
               encoding: str | None = None) -> pd.DataFrame:
    """The file as a typed DataFrame if it is valid, else DataError listing the first problems.

    Every dictionary field is a column, in dictionary order (optional fields missing from
    the file are all-missing; columns not in the dictionary are dropped): categories as
    pd.Categorical with ALL the dictionary's levels in sorted order (so every hospital
    builds the same design columns), dates datetime64[ns], integers int64 (Int64 when
    values are missing), numbers float64, strings str."""
    d = _dictionary(dictionary)
    report, chunks = _run(path, d, encoding, 20, DEFAULT_CHUNKSIZE, keep=True)
    if not report.ok:
        raise DataError(f"{path}: not valid against dictionary {d.name} {d.version} "
                        f"({report.n_problems_total} problem(s); run `fedcost validate` for all):\n"
                        + "\n".join(report.lines()))
    df = pd.concat(chunks) if len(chunks) > 1 else (chunks[0] if chunks else pd.DataFrame())
    return typed_frame(df, d)


def typed_frame(df: pd.DataFrame, d: Dictionary) -> pd.DataFrame:
    """Final dtypes of a validated frame (see `load_valid`)."""
    out = {}
    for name, f in d.fields.items():
        s = df[name] if name in df.columns else _missing_column(f.type, df.index)
        if f.type == "category":
            s = pd.Series(pd.Categorical(s, categories=d.levels(name)), index=df.index)
        elif f.type == "integer" and not s.isna().any():
            s = s.astype("int64")
        elif f.type == "boolean" and not s.isna().any():
            s = s.astype("bool")
        out[name] = s
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def _missing_column(kind: str, index: pd.Index) -> pd.Series:
    """An all-missing column of a field type (an optional field absent from the file)."""
    value = {"number": np.nan, "date": pd.NaT}.get(kind, pd.NA)
    return pd.Series(value, index=index, dtype=PANDAS_DTYPES[kind])


def _dictionary(dictionary) -> Dictionary:
    if isinstance(dictionary, Dictionary):
        return dictionary
    return Dictionary.load(dictionary)
