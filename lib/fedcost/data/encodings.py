"""Which text encoding and delimiter a hospital's CSV export uses.

Exports come as UTF-8, UTF-8 with a BOM (Excel) or GB18030/GBK (Chinese
Windows), separated by commas, semicolons, tabs or pipes; a file that decodes
in none of them is named with the byte where it fails.
"""
from __future__ import annotations

import codecs
import csv
from pathlib import Path

from fedcost.errors import DataError, UsageError


DELIMITERS = (",", ";", "\t", "|")


DELIM_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


SNIFF_BYTES = 64 * 1024


CJK_HINTS = ("gb2312", "gbk", "gb18030", "hz", "cp936")


def check_encoding_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r} (try utf-8, utf-8-sig or gb18030)") from None


def decode_error_row(path: Path, offset: int) -> int:
    """Spreadsheet row of a byte offset (newlines before it + 1)."""
    with open(path, "rb") as fh:
        return fh.read(offset).count(b"\n") + 1


def decodes(path: Path, encoding: str) -> int | None:
    """Stream-decode the whole file; None if it decodes, else the offset of the first bad byte."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return offset + exc.start
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset
    return None


def charset_hint(sample: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
        best = from_bytes(sample).best()
        return best.encoding if best is not None else None
    except Exception:  # noqa: BLE001 - the hint is optional
        return None


def detect_encoding(path: Path) -> tuple[str, list[str]]:
    """Encoding of a CSV file and warnings: UTF-8 (BOM or not) first, then GB18030 (a superset
    of GBK and GB2312), with charset-normalizer as a hint. The whole file is decoded once
    (fast) so that a Chinese character on row 900,000 is not a surprise mid-read."""
    bad = decodes(path, "utf-8-sig")
    if bad is None:
        return "utf-8-sig", []
    with open(path, "rb") as fh:
        fh.seek(max(0, bad - SNIFF_BYTES // 2))
        sample = fh.read(SNIFF_BYTES)
    hint = charset_hint(sample)
    if decodes(path, "gb18030") is None:
        warnings = []
        if hint and not any(h in hint.lower().replace("_", "") for h in CJK_HINTS):
            warnings.append(f"decoded as GB18030 (not UTF-8); charset-normalizer suggests {hint}: "
                            f"if text looks wrong, pass --encoding {hint}")
        return "gb18030", warnings
    row = decode_error_row(path, bad)
    guess = f"; charset-normalizer guesses {hint}, so try --encoding {hint}" if hint else ""
    raise DataError(f"{path}: cannot decode the text: not UTF-8 (first bad byte on row {row}) and not "
                    f"GB18030/GBK either{guess}. Pass the file's encoding with --encoding ENC "
                    "(e.g. --encoding utf-16) or re-export it as UTF-8")


def sniff_delimiter(header_line: str) -> str:
    """The candidate that splits the header into the most fields (ties: comma)."""
    best, best_n = ",", 1
    for delim in DELIMITERS:
        n = len(next(csv.reader([header_line], delimiter=delim), []))
        if n > best_n:
            best, best_n = delim, n
    return best
