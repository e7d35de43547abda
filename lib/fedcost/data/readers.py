"""Reading hospital tables: CSV and Parquet, whole or in chunks of rows.

Why this module exists: hospitals export from many systems, so a file may be
UTF-8, UTF-8 with a BOM (Excel) or GB18030/GBK (Chinese Windows), separated by
commas, semicolons or tabs, misnamed (a CSV called `.parquet`), or not a table
at all. Everything here turns such files into either rows or a `DataError`
that names the file and says what to do; never a traceback.

Row numbers are the ones a user sees in a spreadsheet: the header is row 1,
the first record row 2 (Parquet files are numbered the same way). CSV cells
are read as strings first (empty cell = missing), so that a value that is not
a number is reported for its cell instead of failing the whole read; typing
happens in `parse_values`, driven by the data dictionary.

CSV is streamed with pyarrow (fast, bounded memory). pyarrow cannot say where
a row with the wrong number of fields sits, so when one turns up the file is
scanned once with the `csv` module to find those rows exactly, and reading
resumes with the row numbers corrected.
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fedcost.data.encodings import DELIM_NAMES, SNIFF_BYTES, check_encoding_name, detect_encoding, sniff_delimiter
from fedcost.errors import DataError, UsageError

DEFAULT_CHUNKSIZE = 100_000
_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx workbook?); export it as CSV (UTF-8) or Parquet",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office file (.xls); export it as CSV (UTF-8) or Parquet",
    b"\x1f\x8b": "gzip-compressed; decompress it first",
    b"%PDF": "a PDF document, not a table",
}


@dataclass
class Batch:
    """A slice of a table: `table` holds the rows, `rows` their spreadsheet row numbers,
    `ragged` the rows skipped before/in this slice for having the wrong number of fields
    as (row, number of fields)."""

    table: pa.Table
    rows: np.ndarray
    ragged: list[tuple[int, int]] = field(default_factory=list)


def check_path(path: str | os.PathLike) -> Path:
    """A readable regular file, or a UsageError (missing, a folder) / DataError (unreadable)."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{p}: no such file")
    if p.is_dir():
        raise UsageError(f"{p}: is a directory, not a data file (give the CSV or Parquet file inside it)")
    try:
        with open(p, "rb") as fh:
            fh.read(1)
    except PermissionError:
        raise DataError(f"{p}: permission denied: cannot read the file") from None
    except OSError as exc:
        raise DataError(f"{p}: cannot read the file: {exc.strerror or exc}") from None
    return p


def _unique_names(names: list[str]) -> tuple[list[str], dict[str, list[int]]]:
    """Internal unique column names and the repeated names with their 1-based positions."""
    seen: dict[str, list[int]] = {}
    out = []
    for i, name in enumerate(names):
        seen.setdefault(name, []).append(i + 1)
        k = len(seen[name])
        out.append(name if k == 1 else f"{name}#{k}")
    return out, {n: pos for n, pos in seen.items() if len(pos) > 1}


class TableReader:
    """An opened table: format, encoding, delimiter, header and warnings are known after
    construction (which raises DataError/UsageError for files that are not tables);
    `batches()` then streams the rows."""

    def __init__(self, path: str | os.PathLike, encoding: str | None = None):
        self.path = check_path(path)
        self.warnings: list[str] = []
        self.encoding: str | None = None
        self.delimiter: str | None = None
        self.ragged: list[tuple[int, int]] | None = None  # known ragged rows, once scanned
        with open(self.path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
        if not head:
            raise DataError(f"{self.path}: the file is empty (0 bytes)")
        if head[:4] == b"PAR1":
            self.format = "parquet"
            self._open_parquet()
        else:
            self.format = "csv"
            self._open_csv(head, encoding)
        self.names, self.duplicates = _unique_names(self.columns)

    # -- opening -------------------------------------------------------------
    def _open_parquet(self) -> None:
        try:
            self._pq = pq.ParquetFile(self.path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for corrupt files
            raise DataError(f"{self.path}: starts like Parquet but cannot be read as Parquet "
                            f"(truncated or corrupt?): {exc}") from None
        self.columns = [str(n) for n in self._pq.schema_arrow.names]
        self.n_rows_hint = self._pq.metadata.num_rows

    def _open_csv(self, head: bytes, encoding: str | None) -> None:
        for magic, what in _MAGIC.items():
            if head.startswith(magic):
                raise DataError(f"{self.path}: not a CSV or Parquet file: it is {what}")
        if encoding:
            self.encoding = check_encoding_name(encoding)
        else:
            if b"\x00" in head:
                raise DataError(f"{self.path}: not a CSV or Parquet file: it holds binary data (NUL bytes); "
                                "if it is UTF-16 text, pass --encoding utf-16")
            self.encoding, warns = detect_encoding(self.path)
            self.warnings += warns
        if self.path.suffix.lower() in (".parquet", ".pq"):
            self.warnings.append("the file is named like Parquet but holds text: read as CSV")
        header_line = self._first_line()
        if not header_line.strip():
            raise DataError(f"{self.path}: no header: the first line is empty (expected column names)")
        csv.field_size_limit(1 << 30)  # a long header is a problem to report, not a csv.Error
        try:
            self.delimiter = sniff_delimiter(header_line)
            names = next(csv.reader([header_line], delimiter=self.delimiter))
        except csv.Error as exc:
            raise DataError(f"{self.path}: cannot parse the header: {exc}") from None
        if self.delimiter != ",":
            self.warnings.append(f"fields are separated by {DELIM_NAMES[self.delimiter]}s, not commas: "
                                 "read that way")
        self.columns = [n.strip() for n in names]
        self.n_rows_hint = None

    def _first_line(self) -> str:
        try:
            with open(self.path, encoding=self.encoding, newline="") as fh:
                line = fh.readline(1 << 20)
        except UnicodeDecodeError:
            raise DataError(f"{self.path}: the header is not valid {self.encoding}; pass the right "
                            "--encoding") from None
        except UnicodeError as exc:
            raise DataError(f"{self.path}: cannot decode as {self.encoding}: {exc}") from None
        return line.rstrip("\r\n")

    # -- streaming -----------------------------------------------------------
    def batches(self, chunksize: int = DEFAULT_CHUNKSIZE, columns: list[str] | None = None) -> Iterator[Batch]:
        """Batches of at most `chunksize` rows (internal unique column names, see `names`)."""
        if chunksize < 1:
            raise UsageError("chunksize must be at least 1")
        source = self._parquet_batches(chunksize, columns) if self.format == "parquet" \
            else self._csv_batches(chunksize, columns)
        yield from _rebatch(source, chunksize)

    def _parquet_batches(self, chunksize: int, columns: list[str] | None) -> Iterator[Batch]:
        first = 2
        try:
            for rb in self._pq.iter_batches(batch_size=chunksize, columns=columns):
                table = pa.Table.from_batches([rb])
                table = table.rename_columns(self.names if columns is None else list(columns))
                yield Batch(table, np.arange(first, first + table.num_rows, dtype=np.int64))
                first += table.num_rows
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{self.path}: cannot read Parquet near row {first}: {exc}") from None

    def _csv_options(self, block_size: int, on_ragged, columns):
        read = pacsv.ReadOptions(column_names=self.names, skip_rows=1, block_size=block_size,
                                 encoding="utf8" if self.encoding in ("utf-8", "utf-8-sig") else self.encoding)
        parse = pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                   ignore_empty_lines=False, invalid_row_handler=on_ragged)
        conv = pacsv.ConvertOptions(column_types={n: pa.string() for n in self.names},
                                    strings_can_be_null=True, null_values=[""],
                                    include_columns=columns or [])
        return read, parse, conv

    def _block_size(self, chunksize: int) -> int:
        with open(self.path, "rb") as fh:
            sample = fh.read(1 << 20)
        per_row = max(16, len(sample) // max(1, sample.count(b"\n")))
        # pyarrow queues up to 32 blocks ahead of the reader: keep blocks small (chunks are regrouped)
        return int(min(max(per_row * chunksize, 1 << 16), 2 << 20))

    def _empty(self, columns: list[str] | None) -> pa.Table:
        return pa.table({n: pa.array([], pa.string()) for n in (columns or self.names)})

    def _csv_batches(self, chunksize: int, columns: list[str] | None) -> Iterator[Batch]:
        block = self._block_size(chunksize)
        done = 0  # good rows already yielded
        covered = 1  # ragged rows up to this spreadsheet row have been handed out
        while True:
            found = []
            known = self.ragged is not None
            bad = np.array(sorted(r - 1 for r, _ in self.ragged), dtype=np.int64) if self.ragged else None

            def on_ragged(row, _found=found, _known=known):
                if _known:
                    return "skip"
                _found.append(row)
                return "error"

            read, parse, conv = self._csv_options(block, on_ragged, columns)
            good = 0
            stream = None
            try:
                stream = pacsv.open_csv(self.path, read_options=read, parse_options=parse, convert_options=conv)
                for rb in stream:
                    n = rb.num_rows
                    if n == 0 or good + n <= done:
                        good += n
                        continue
                    skip = max(0, done - good)
                    table = pa.Table.from_batches([rb]).slice(skip)
                    rows = _record_numbers(np.arange(good + skip + 1, good + n + 1, dtype=np.int64), bad) + 1
                    mine = [r for r in self.ragged or [] if covered < r[0] <= rows[-1]]
                    covered = int(rows[-1])
                    yield Batch(table, rows, mine)
                    good += n
                    done = good
                rest = [r for r in self.ragged or [] if r[0] > covered]
                if rest:
                    yield Batch(self._empty(columns), np.empty(0, np.int64), rest)
                return
            except pa.ArrowInvalid as exc:
                if "Empty CSV file" in str(exc):
                    return
                if found and not known:
                    self.ragged = scan_ragged(self.path, self.encoding, self.delimiter, len(self.names))
                    if not self.ragged:  # pyarrow and csv disagree: say so instead of looping
                        raise DataError(f"{self.path}: cannot parse CSV: {_arrow_msg(exc)}") from None
                    continue
                raise DataError(f"{self.path}: cannot parse CSV after row {done + 1}: {_arrow_msg(exc)}") from None
            except UnicodeError as exc:
                raise DataError(f"{self.path}: cannot decode as {self.encoding} after row {done + 1}: {exc}; "
                                "pass the right --encoding") from None
            finally:  # release pyarrow's reader thread now, not at interpreter exit
                if stream is not None:
                    stream.close()


def _arrow_msg(exc: Exception) -> str:
    return re.sub(r"\s+", " ", str(exc)).strip()


def _record_numbers(good_index: np.ndarray, bad: np.ndarray | None) -> np.ndarray:
    """Record numbers (1-based, header excluded) of the good rows number `good_index`
    (1-based) when the records in sorted `bad` were skipped."""
    if bad is None or len(bad) == 0:
        return good_index
    offsets = bad - np.arange(len(bad))
    return good_index + np.searchsorted(offsets, good_index, side="right")


def scan_ragged(path: Path, encoding: str, delimiter: str, n_fields: int) -> list[tuple[int, int]]:
    """Rows (spreadsheet numbers) whose field count differs from the header's, with their count.
    Blank lines are not ragged (they read as empty rows)."""
    out = []
    csv.field_size_limit(1 << 30)
    try:
        with open(path, encoding=encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            next(reader, None)
            for i, row in enumerate(reader, start=2):
                if row and len(row) != n_fields:
                    out.append((i, len(row)))
    except csv.Error as exc:
        raise DataError(f"{path}: cannot parse CSV: {exc}") from None
    except UnicodeError as exc:
        raise DataError(f"{path}: cannot decode as {encoding}: {exc}") from None
    return out


def _rebatch(source: Iterator[Batch], chunksize: int) -> Iterator[Batch]:
    """Regroup batches into exactly `chunksize` rows (the last may be shorter), keeping each
    ragged row with the chunk it falls in, so that problems come out in row order."""
    tables, rows, ragged, n = [], [], [], 0
    for b in source:
        tables.append(b.table)
        rows.append(b.rows)
        ragged += b.ragged
        n += b.table.num_rows
        while n >= chunksize:
            table = pa.concat_tables(tables)
            allrows = np.concatenate(rows)
            last = int(allrows[chunksize - 1])
            mine = [r for r in ragged if r[0] <= last]
            ragged = [r for r in ragged if r[0] > last]
            yield Batch(table.slice(0, chunksize).combine_chunks(), allrows[:chunksize], mine)
            tables, rows = [table.slice(chunksize)], [allrows[chunksize:]]
            n -= chunksize
    if n or ragged:
        table = pa.concat_tables(tables) if tables else None
        yield Batch(table.combine_chunks() if table is not None else None,
                    np.concatenate(rows) if rows else np.empty(0, np.int64), ragged)


def _ragged_error(reader: TableReader, ragged: list[tuple[int, int]]) -> DataError:
    row, n = ragged[0]
    more = len(reader.ragged or ragged) - 1
    tail = f" (and {more} more such rows; `fedcost validate` lists them)" if more > 0 else ""
    return DataError(f"{reader.path}: row {row} has {n} fields but the header has {len(reader.names)}{tail}")


def iter_chunks(path: str | os.PathLike, chunksize: int = DEFAULT_CHUNKSIZE,
                encoding: str | None = None) -> Iterator[pd.DataFrame]:
    """DataFrames of at most `chunksize` rows: raw strings for CSV (empty cell = missing),
    typed columns for Parquet, columns named as in the file. The index holds spreadsheet
    row numbers (header = row 1) and `df.attrs["first_row"]` the first of them. Raises
    DataError at a row with the wrong number of fields (`fedcost.data.validation` reports all)."""
    reader = TableReader(path, encoding)
    for b in reader.batches(chunksize):
        if b.ragged:
            raise _ragged_error(reader, b.ragged)
        if b.table is None or b.table.num_rows == 0:
            continue
        df = to_pandas(b.table, b.rows)
        df.columns = reader.columns
        df.attrs["first_row"] = int(b.rows[0])
        yield df


def to_pandas(table: pa.Table, rows: np.ndarray | None = None) -> pd.DataFrame:
    """A pyarrow table as pandas with nullable integers kept integer and dates as datetime64."""
    df = table.to_pandas(date_as_object=False, types_mapper={pa.int64(): pd.Int64Dtype(),
                                                             pa.int32(): pd.Int64Dtype()}.get)
    if rows is not None:
        df.index = pd.Index(rows, name="row")
    return df


def read_table(path: str | os.PathLike, encoding: str | None = None,
               columns: list[str] | None = None) -> pd.DataFrame:
    """The whole file as one DataFrame (CSV: strings, empty = missing; Parquet: typed), with a
    plain 0-based index. `columns` picks columns by name. Raises DataError with a clear message
    (not a table, undecodable, repeated column names, rows with the wrong number of fields)."""
    reader = TableReader(path, encoding)
    if reader.duplicates:
        name, pos = next(iter(reader.duplicates.items()))
        raise DataError(f"{reader.path}: column {name!r} appears {len(pos)} times (columns {pos})")
    if columns is not None:
        missing = [c for c in columns if c not in reader.columns]
        if missing:
            raise DataError(f"{reader.path}: no column(s) {', '.join(missing)} (it has: {', '.join(reader.columns)})")
    frames = []
    for b in reader.batches(1_000_000, columns):
        if b.ragged:
            raise _ragged_error(reader, b.ragged)
        if b.table is not None and b.table.num_rows:
            frames.append(to_pandas(b.table))
    names = list(columns) if columns is not None else reader.columns
    if not frames:
        return pd.DataFrame({n: pd.Series([], dtype="str") for n in names})
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    df.columns = names
    return df


