"""`fedcost validate PATH`: check a hospital's file against the data dictionary.

Why a command: a hospital runs it on premises before joining a federation;
it must say exactly which cell of which row is wrong, in the row numbers the
hospital sees in its spreadsheet, and never crash on a bad file.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from fedcost.errors import UsageError

EPILOG = """\
output:
  valid    a data-quality summary (completeness, validity, consistency,
           timeliness; per field and per rule) on stdout
  invalid  one problem per line on stdout:  PATH:ROW:COLUMN: message
           ROW is the spreadsheet row: the header is row 1, the first record
           row 2 (Parquet files are numbered the same way); '-' when the
           problem is not about one row. COLUMN is the column name, or '-' for
           a problem of the whole file or row. After --max-errors lines a last
           line counts the rest: '... and N more problems'.
  warnings (unknown columns, a non-comma delimiter, a guessed encoding,
           skipped empty rows) go to stderr and do not make a file invalid.

files: CSV (UTF-8, UTF-8 with BOM, GB18030/GBK detected; comma, semicolon,
tab or pipe separated) or Parquet (recognised by content, not by name).
Cells are trimmed; an empty cell is a missing value ('NA' or 'NULL' are not).

exit codes:
  0  the file is valid
  1  the file is invalid or unreadable (problems listed)
  2  usage error (no such file, a folder, a bad option)
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "validate", help="check a data file against the data dictionary",
        description="Validate a hospital's CSV or Parquet file against the data dictionary "
                    "(types, ranges, code lists, patterns, required values, cross-field rules, "
                    "unique record ids), reading it in chunks.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", metavar="PATH", help="the CSV or Parquet file")
    p.add_argument("--dictionary", metavar="DIR", default=None,
                   help="data dictionary folder (default: the project's data_dictionary/ or $FEDCOST_DICTIONARY)")
    p.add_argument("--encoding", metavar="ENC", default=None,
                   help="text encoding of a CSV (default: detect UTF-8 / UTF-8 BOM / GB18030)")
    p.add_argument("--max-errors", metavar="N", type=_count, default=50,
                   help="list at most N problems, then count the rest (default 50; 0 lists all)")
    p.add_argument("--chunksize", metavar="ROWS", type=_positive, default=100_000,
                   help="rows read at a time (default 100000); memory grows with it, not with the file")
    p.set_defaults(func=run)


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return n


def _positive(text: str) -> int:
    n = _count(text)
    if n == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def exit_if_command(code: int) -> int:
    """Leave at once when running as the `fedcost` command, output flushed.

    Why: pyarrow's reader threads can abort the interpreter while it shuts down
    ("terminate called without an active exception", exit 134; apache/arrow#34314),
    seen here about once in a hundred runs. Skipping finalization avoids it. Called
    in-process (tests, notebooks) this returns the code instead."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if os.path.basename(sys.argv[0] or "") == "fedcost" or (spec is not None and spec.name == "fedcost.cli.__main__"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def run(args) -> int:
    return exit_if_command(_run(args))


def _run(args) -> int:
    from fedcost.data.dictionary import Dictionary
    from fedcost.errors import DataError
    from fedcost.data.validation import validate_file

    if args.dictionary is not None and not Path(args.dictionary).is_dir():
        raise UsageError(f"--dictionary {args.dictionary}: no such folder")
    dictionary = Dictionary.load(args.dictionary)
    try:
        report = validate_file(args.path, dictionary, encoding=args.encoding,
                               max_errors=args.max_errors or None, chunksize=args.chunksize)
    except DataError as exc:  # the file cannot be read at all: still one PATH:ROW:COLUMN line
        text = str(exc)
        prefix = f"{args.path}: "
        print(f"{args.path}:-:-: {text[len(prefix):] if text.startswith(prefix) else text}")
        return 1
    for w in report.warnings:
        print(w, file=sys.stderr)
    if not report.ok:
        for line in report.lines():
            print(line)
        print(f"fedcost validate: {args.path}: INVALID: {report.n_problems_total} problem(s) in "
              f"{report.n_rows} row(s) (dictionary {dictionary.name} {dictionary.version})", file=sys.stderr)
        return 1
    enc = f", {report.encoding}" if report.encoding else ""
    delim = {",": "", ";": ", ';'-separated", "\t": ", tab-separated", "|": ", '|'-separated"}.get(report.delimiter or ",", "")
    print(f"{args.path}: valid: {report.n_rows} row(s) ({report.format}{enc}{delim}); "
          f"dictionary {dictionary.name} {dictionary.version}")
    print(report.quality.format())
    return 0
