"""The pandera schema built from the data dictionary, and the message for each kind of failure.

Columns get their checks (range, code list, pattern, required) and the
dictionary's cross-field rules become dataframe-level checks; what fails is
reported by `fedcost.data.validation` with the message built here, naming the
rule and the value, in the hospital's own spreadsheet terms.
"""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from fedcost.data.dictionary import FILE_RULE_KINDS, Dictionary
from fedcost.errors import DataError


PANDAS_DTYPES = {"integer": "Int64", "number": "float64", "date": "datetime64[ns]",
                 "string": "str", "category": "str", "boolean": "boolean"}


# -- the pandera schema, built from the dictionary ---------------------------------
def rule_column(rule: dict) -> str:
    """The column a rule's failure is reported under (the value most likely wrong)."""
    kind = rule["kind"]
    return {"unique": lambda: rule["columns"][0], "one_value": lambda: rule["columns"][0], "sum": lambda: rule["total"],
            "date_order": lambda: rule["end"], "date_diff": lambda: rule["equals"],
            "implies": lambda: rule["then_present"]}[kind]()


def rule_fields(rule: dict) -> list[str]:
    out = []
    for key in ("columns", "parts", "total", "start", "end", "equals", "if_present", "then_present"):
        v = rule.get(key)
        out += [v] if isinstance(v, str) else list(v or [])
    return out


def evaluate_rule(rule: dict, df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(ok, checked) per row for a cross-field rule; rows whose fields are missing are not
    checked (their missing values are reported by the column checks)."""
    kind = rule["kind"]
    if kind == "sum":
        parts = df[list(rule["parts"])]
        total = df[rule["total"]]
        checked = parts.notna().all(axis=1) & total.notna()
        diff = (parts.sum(axis=1) - total).abs()
        ok = ~checked | (diff <= float(rule.get("tolerance", 0)) + 1e-9)
    elif kind == "date_order":
        start, end = df[rule["start"]], df[rule["end"]]
        checked = start.notna() & end.notna()
        ok = ~checked | (end >= start)
    elif kind == "date_diff":
        start, end, equals = df[rule["start"]], df[rule["end"]], df[rule["equals"]]
        days = (end - start).dt.days
        checked = start.notna() & end.notna() & equals.notna() & (days >= 0)
        expected = days.clip(lower=rule.get("minimum", days.min()))
        ok = ~checked | (equals.astype("float64") == expected.astype("float64"))
    elif kind == "implies":
        checked = df[rule["if_present"]].notna()
        ok = ~checked | df[rule["then_present"]].notna()
    else:
        raise DataError(f"rule {rule.get('name')}: kind {kind} has no dataframe check")
    return ok.fillna(True).astype(bool), checked.fillna(False).astype(bool)


def column_checks(dictionary: Dictionary, name: str) -> list[pa.Check]:
    f = dictionary.fields[name]
    checks = []
    if f.type in ("integer", "number", "date"):
        conv = pd.Timestamp if f.type == "date" else float
        if f.min is not None:
            checks.append(pa.Check.ge(conv(f.min), error="min"))
        if f.max is not None:
            checks.append(pa.Check.le(conv(f.max), error="max"))
    if f.type == "category":
        checks.append(pa.Check.isin(dictionary.levels(name), error="codes"))
    if f.type == "string" and f.pattern:
        checks.append(pa.Check.str_matches(f"(?:{f.pattern})$", error="pattern"))
    return checks


def build_schema(dictionary: Dictionary, columns: tuple[str, ...] | None = None) -> pa.DataFrameSchema:
    """The pandera schema of a dictionary, restricted to the fields present in a file
    (`columns`; default all). Rules whose fields are all present become dataframe checks;
    `unique` and `one_value` rules are checked across chunks by the validator instead."""
    present = [n for n in dictionary.fields if columns is None or n in columns]
    cols = {n: pa.Column(PANDAS_DTYPES[dictionary.fields[n].type], nullable=not dictionary.fields[n].required,
                         checks=column_checks(dictionary, n), required=True) for n in present}
    checks = []
    for rule in dictionary.rules:
        if rule["kind"] in FILE_RULE_KINDS or not set(rule_fields(rule)) <= set(present):
            continue
        checks.append(pa.Check(lambda df, _r=rule: evaluate_rule(_r, df)[0],
                               name=rule["name"], error=f"rule:{rule['name']}"))
    return pa.DataFrameSchema(cols, checks=checks, strict=False, coerce=False)


# -- messages -----------------------------------------------------------------------
def show(value) -> str:
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


def codes_hint(dictionary: Dictionary, name: str) -> str:
    levels = dictionary.levels(name)
    shown = ", ".join(levels[:8]) + (f", ... ({len(levels)} codes in codes/{dictionary.fields[name].codes}.csv)"
                                     if len(levels) > 8 else "")
    return shown


def message(d: Dictionary, kind: str, column: str, value, typed: pd.DataFrame | None, row: int | None) -> str:
    f = d.fields.get(column)
    unit = f" {f.unit}" if f is not None and f.unit else ""
    if kind == "parse":
        what = {"integer": "a whole number", "number": "a finite number",
                "date": "a date (expected YYYY-MM-DD)", "boolean": "a boolean (true/false, 1/0)"}[f.type]
        return f"{show(value)} is not {what}"
    if kind == "not_nullable":
        return "required value is missing"
    if kind == "min":
        return f"{show(value)}{unit} is below the minimum {show(f.min)}{unit}"
    if kind == "max":
        return f"{show(value)}{unit} is above the maximum {show(f.max)}{unit}"
    if kind == "codes":
        return f"{show(value)} is not a code of {f.codes} (known: {codes_hint(d, column)})"
    if kind == "pattern":
        return f"{show(value)} does not match the pattern {f.pattern}"
    if kind == "text":
        return value
    if kind == "dup":
        key, first, rule = value
        return f"duplicate {column} {key!r} (first seen in row {first}) [rule {rule}]"
    if kind == "other_value":
        found, expected, first, rule = value
        return (f"{column} is {found!r} but this file's first record (row {first}) has {expected!r}: "
                f"every record of a file must have the same {column} [rule {rule}]")
    if kind.startswith("rule:"):
        rule = next(r for r in d.rules if r["name"] == kind[5:])
        return rule_message(rule, typed.loc[row]) + f" [rule {rule['name']}]"
    return f"{show(value)} fails check {kind}"


def rule_message(rule: dict, rec: pd.Series) -> str:
    kind = rule["kind"]
    if kind == "sum":
        parts = float(sum(rec[p] for p in rule["parts"]))
        return (f"components {' + '.join(rule['parts'])} sum to {parts:.2f} but {rule['total']} is "
                f"{float(rec[rule['total']]):.2f} (tolerance {rule.get('tolerance', 0)})")
    if kind == "date_order":
        return (f"{rule['end']} {show(rec[rule['end']])} is before {rule['start']} "
                f"{show(rec[rule['start']])}")
    if kind == "date_diff":
        days = (rec[rule["end"]] - rec[rule["start"]]).days
        expected = max(days, rule.get("minimum", days))
        return (f"{rule['equals']} is {show(rec[rule['equals']])} but {rule['end']} - {rule['start']} gives "
                f"{days} day(s), so {rule['equals']} should be {expected}")
    if kind == "implies":
        return f"{rule['if_present']} is given but {rule['then_present']} is missing"
    return rule.get("description", {}).get("en", rule["name"])
