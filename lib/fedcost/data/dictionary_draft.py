"""Draft a data dictionary from a user's own table (`fedcost dictionary init`).

Why: a study with its own schema (another country, a public data set) needs
a dictionary before it can validate or federate anything; writing one by hand
is slow and error-prone, so we infer a first draft that the user then edits
(descriptions, units, tighter ranges, rules). The draft always validates the
file it came from.

Inference, per column (cells trimmed, empty = missing):
- integer: every value a whole number (and none with a leading zero such as
  "007", which is a code); number: every value numeric; date: every value a
  date (YYYY-MM-DD or YYYY/MM/DD).
- category: otherwise, if at most 50 distinct values and fewer distinct
  values than half the non-missing cells; its codes go to codes/<name>.csv.
- string: anything else.
- min/max (integer, number): the observed range widened by 10% of its width
  on each side (integers rounded outward), never below 0 when all values are
  >= 0; dates: from 1 January of the first year to 31 December of the last.
- required: the column has no missing values.
- a unique rule for a string/integer column whose name ends in "id" and
  whose values are all distinct.
- a one_value rule for a column that names the site (hospital_id, site_id,
  ...) and holds one value: a file is one hospital.
"""
from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa

from fedcost.data.dictionary import Dictionary
from fedcost.errors import DataError, UsageError
from fedcost.data.parsing import parse_values
from fedcost.data.readers import read_table
from fedcost.files import replace_folder

MAX_LEVELS = 50
WIDEN = 0.10
TODO_EN = "TODO: describe"
TODO_ZH = "TODO: describe（请填写中文说明）"


def _to_arrow(s: pd.Series) -> pa.Array:
    """A column as pyarrow: text columns as strings (missing = null), typed columns as they are."""
    if s.dtype == object or str(s.dtype) in ("str", "string"):
        return pa.array([None if pd.isna(v) else str(v) for v in s], type=pa.string())
    return pa.array(s)


def _kind(s: pd.Series) -> str:
    present = s.dropna()
    if present.empty:
        return "string"
    if pd.api.types.is_bool_dtype(s.dtype):
        return "category"
    arr = _to_arrow(s)
    for kind in ("integer", "number", "date"):
        _, bad = parse_values(arr, kind)
        if not bad.any():
            if kind == "integer" and present.astype(str).str.strip().str.match(r"^-?0\d").any():
                break  # leading zeros: a code, not a count
            return kind
    n_levels = parse_values(arr, "string")[0].nunique()
    if n_levels <= MAX_LEVELS and n_levels < 0.5 * len(present):
        return "category"
    return "string"


def _widen(lo: float, hi: float, integer: bool) -> tuple:
    pad = (hi - lo) * WIDEN
    new_lo, new_hi = lo - pad, hi + pad
    if lo >= 0:
        new_lo = max(0.0, new_lo)
    if integer:
        return int(math.floor(new_lo)), int(math.ceil(new_hi))
    return min(lo, math.floor(new_lo * 1e6) / 1e6), max(hi, math.ceil(new_hi * 1e6) / 1e6)


def _code_file_name(column: str, taken: set) -> str:
    base = re.sub(r"[^A-Za-z0-9_]+", "_", column).strip("_").lower() or "codes"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def draft_dictionary(df: pd.DataFrame, name: str, source: str = "") -> Dictionary:
    """A Dictionary inferred from a table (see the module docstring for the rules)."""
    if df.shape[1] == 0:
        raise DataError(f"{source or 'table'}: no columns to describe")
    fields, code_lists, rules, taken = [], {}, [], set()
    todo = {"en": TODO_EN, "zh": TODO_ZH}
    for col in df.columns:
        s = df[col]
        kind = _kind(s)
        values, _ = parse_values(_to_arrow(s), "string" if kind == "category" else kind)
        spec = {"name": str(col), "type": kind, "required": bool(values.notna().all()) and len(values) > 0,
                "description": dict(todo)}
        present = values.dropna()
        if kind in ("integer", "number") and len(present):
            spec["min"], spec["max"] = _widen(float(present.min()), float(present.max()), kind == "integer")
        elif kind == "date" and len(present):
            spec["min"] = f"{present.min().year}-01-01"
            spec["max"] = f"{present.max().year}-12-31"
        elif kind == "category":
            codes = sorted(present.astype(str).unique())
            file = _code_file_name(str(col), taken)
            code_lists[file] = pd.DataFrame({"code": codes, "name_en": codes, "name_zh": codes})
            spec["codes"] = file
        if kind in ("string", "integer") and str(col).lower().endswith("id") and len(present) \
                and present.astype(str).is_unique:
            rules.append({"name": f"{col}_unique", "kind": "unique", "columns": [str(col)],
                          "description": {"en": f"{col} is unique", "zh": f"{col} 唯一"}})
        if str(col).lower() in ONE_VALUE_NAMES and len(present) and present.astype(str).nunique() == 1:
            rules.append({"name": f"one_{col}_per_file", "kind": "one_value", "columns": [str(col)],
                          "description": {"en": f"A file holds one {col}", "zh": f"每个文件只含一个 {col}"}})
        fields.append(spec)
    spec = {"name": name, "version": "0.1.0",
            "title": {"en": f"Draft dictionary for {source or name}", "zh": f"{source or name} 的数据字典草稿"},
            "fields": fields, "rules": rules}
    return Dictionary.from_spec(spec, code_lists)


# Columns that name the site a file comes from: one value per file (a row naming another site is an error).
ONE_VALUE_NAMES = ("hospital_id", "hospital", "site_id", "site", "centre_id", "center_id")


HEADER = """\
# Draft data dictionary made by `fedcost dictionary init` from {source}.
# Edit before use: descriptions (en, zh), units, tighter ranges, rules.
# Inferred: types from the values; min/max = observed range widened by 10% of
# its width each side (not below 0 if all values were >= 0; integers rounded
# outward); dates = whole years observed; category = <= 50 distinct values and
# fewer than half the non-missing cells (codes in codes/*.csv); required = no
# missing values in the source file.
"""


def write_draft(source: str | os.PathLike, out: str | os.PathLike, name: str | None = None,
                encoding: str | None = None, force: bool = False) -> Dictionary:
    """Infer a dictionary from `source` and write it to folder `out`: into a temporary folder
    first, then renamed into place, so a failure leaves no half-written dictionary. Refuses a
    non-empty `out` unless `force`."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(f"{out}: folder is not empty; pass --force to replace it")
    df = read_table(source, encoding=encoding)
    if len(df) == 0:
        raise DataError(f"{source}: no data rows to infer a dictionary from")
    d = draft_dictionary(df, name or Path(source).stem, Path(source).name)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        d.save(tmp)
        yaml_file = tmp / "dictionary.yaml"
        yaml_file.write_text(HEADER.format(source=Path(source).name) + yaml_file.read_text(encoding="utf-8"),
                             encoding="utf-8")
        Dictionary.load(tmp)  # what we wrote reads back
        replace_folder(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    d.path = out
    return d
