"""The data-quality summary printed by `fedcost validate` and kept in a ValidationReport.

Why: the domain asks hospitals for accuracy, completeness, consistency and
timeliness of their cost data (key fields at least 99% accurate), so the
validator measures them while it reads, chunk by chunk, in bounded memory.
This module only accumulates counts and formats them; what counts as valid is
decided in `fedcost.data.validation`.

Definitions (all shares of what could be checked; ragged rows are excluded):
- completeness: non-missing cells / rows, per field; overall over the
  dictionary's *required* fields (optional fields are shown, not scored).
- validity: present cells that parse and pass the field's checks (type,
  min/max, code list, pattern) / present cells, per field and overall.
- consistency: rule checks that pass / rule checks made, per rule (a record
  is checked by a rule when the rule's fields are present) and overall.
- timeliness: records whose reference date (the end date of the dictionary's
  date-order rule, e.g. discharge_date; else its last date field) is a valid
  date within the dictionary's min/max and not after the run date, over all
  records; plus the lag: days from the latest such date to the run date, a
  measure of how fresh the extract is.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


def _pct(num: float, den: float) -> float | None:
    return None if den == 0 else 100.0 * num / den


def _fmt(p: float | None) -> str:
    return "   n/a" if p is None else f"{p:6.2f}%"


@dataclass
class QualitySummary:
    """Counts gathered over all chunks; `as_dict()` gives the percentages."""

    fields: list[str]
    required: list[str]
    rules: list[str]
    date_field: str | None = None
    date_min: pd.Timestamp | None = None
    date_max: pd.Timestamp | None = None
    today: dt.date = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).date())
    n_rows: int = 0
    present: dict = field(default_factory=dict)
    invalid: dict = field(default_factory=dict)
    rule_checked: dict = field(default_factory=dict)
    rule_failed: dict = field(default_factory=dict)
    timely: int = 0
    latest: pd.Timestamp | None = None
    earliest: pd.Timestamp | None = None

    def add_rows(self, n: int) -> None:
        self.n_rows += n

    def add_counts(self, present: dict | None = None, invalid: dict | None = None,
                   rule_checked: dict | None = None, rule_failed: dict | None = None) -> None:
        for target, src in ((self.present, present), (self.invalid, invalid),
                            (self.rule_checked, rule_checked), (self.rule_failed, rule_failed)):
            for k, v in (src or {}).items():
                target[k] = target.get(k, 0) + int(v)

    def add_dates(self, dates: pd.Series, valid: np.ndarray) -> None:
        """Reference dates of a chunk and whether each passed its field checks."""
        if self.date_field is None:
            return
        d = dates[valid & dates.notna().to_numpy()]
        today = pd.Timestamp(self.today)
        ok = d <= today
        if self.date_min is not None:
            ok &= d >= self.date_min
        if self.date_max is not None:
            ok &= d <= self.date_max
        self.timely += int(ok.sum())
        d = d[ok]
        if len(d):
            self.latest = d.max() if self.latest is None else max(self.latest, d.max())
            self.earliest = d.min() if self.earliest is None else min(self.earliest, d.min())

    # -- results ---------------------------------------------------------------
    def as_dict(self) -> dict:
        n = self.n_rows
        per_field = {}
        for f in self.fields:
            pres, bad = self.present.get(f, 0), self.invalid.get(f, 0)
            per_field[f] = {"completeness": _pct(pres, n), "validity": _pct(pres - bad, pres),
                            "required": f in self.required, "present": pres, "invalid": bad}
        req_present = sum(self.present.get(f, 0) for f in self.required)
        all_present = sum(self.present.get(f, 0) for f in self.fields)
        all_bad = sum(self.invalid.get(f, 0) for f in self.fields)
        per_rule = {r: {"checked": self.rule_checked.get(r, 0), "failed": self.rule_failed.get(r, 0),
                        "consistency": _pct(self.rule_checked.get(r, 0) - self.rule_failed.get(r, 0),
                                            self.rule_checked.get(r, 0))} for r in self.rules}
        checked = sum(v["checked"] for v in per_rule.values())
        failed = sum(v["failed"] for v in per_rule.values())
        lag = None if self.latest is None else (pd.Timestamp(self.today) - self.latest).days
        return {
            "n_rows": n,
            "completeness": _pct(req_present, n * len(self.required)),
            "validity": _pct(all_present - all_bad, all_present),
            "consistency": _pct(checked - failed, checked),
            "timeliness": _pct(self.timely, n) if self.date_field else None,
            "timeliness_field": self.date_field,
            "as_of": self.today.isoformat(),
            "latest_date": None if self.latest is None else self.latest.date().isoformat(),
            "earliest_date": None if self.earliest is None else self.earliest.date().isoformat(),
            "lag_days": lag,
            "fields": per_field,
            "rules": per_rule,
        }

    def format(self) -> str:
        """A terminal table: the four headline shares, then per field and per rule."""
        d = self.as_dict()
        lines = [f"Data quality ({d['n_rows']:,} records):",
                 f"  completeness {_fmt(d['completeness'])}  non-missing cells of required fields",
                 f"  validity     {_fmt(d['validity'])}  present cells that pass type/range/code/pattern checks",
                 f"  consistency  {_fmt(d['consistency'])}  cross-field rule checks passed"]
        if d["timeliness_field"]:
            span = (f"; dates {d['earliest_date']} to {d['latest_date']}, lag {d['lag_days']} days"
                    if d["latest_date"] else "")
            lines.append(f"  timeliness   {_fmt(d['timeliness'])}  {d['timeliness_field']} within the dictionary's "
                         f"range and not after {d['as_of']}{span}")
        width = max([len(f) for f in self.fields] + [5])
        lines.append(f"  {'field':<{width}}  complete    valid")
        for f, v in d["fields"].items():
            opt = "" if v["required"] else "  (optional)"
            lines.append(f"  {f:<{width}}  {_fmt(v['completeness'])}  {_fmt(v['validity'])}{opt}")
        if d["rules"]:
            rw = max(len(r) for r in d["rules"])
            lines.append(f"  {'rule':<{rw}}   checked   passed")
            for r, v in d["rules"].items():
                lines.append(f"  {r:<{rw}}  {v['checked']:8d}  {_fmt(v['consistency'])}")
        return "\n".join(lines)
