"""Policy inputs (disclosure rules, alert thresholds, payment standards, willingness to pay).

Kept apart from the data dictionary because policymakers change them. The
disclosure minimums can be raised freely; lowering one below the default
needs `allow_below_defaults: true` in the policy file, stated on purpose.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fedcost.config import load_mapping
from fedcost.errors import DataError
from fedcost.paths import default_policy_file

# What a benchmark releases per hospital, in groups a hospital's policy may withhold (its own values only):
# oe: observed/expected cost and its funnel position; cmi: case-mix index and cost per weighted case;
# per_case_cost: per-case cost and the cost difference coefficient.
PER_HOSPITAL = ("oe", "cmi", "per_case_cost")

DISCLOSURE_DEFAULTS = {"min_hospitals": 3, "min_cell_records": 5, "max_parameter_fraction": 0.2,
                       "name_hospitals": False}


@dataclass
class Policy:
    """A loaded policy file; `raw` holds every section as written."""

    path: Path | None
    raw: dict

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Policy":
        file = Path(path) if path is not None else default_policy_file()
        raw = load_mapping(file, "policy")
        policy = cls(path=file, raw=raw)
        policy.disclosure  # validate now, not at release time
        return policy

    @classmethod
    def default(cls) -> "Policy":
        return cls.load(None)

    @property
    def disclosure(self) -> dict:
        d = copy.deepcopy(DISCLOSURE_DEFAULTS)
        d.update(self.raw.get("disclosure") or {})
        if not self.raw.get("allow_below_defaults"):
            for key in ("min_hospitals", "min_cell_records"):
                if d[key] < DISCLOSURE_DEFAULTS[key]:
                    raise DataError(
                        f"{self.path}: disclosure.{key}={d[key]} is below the default "
                        f"{DISCLOSURE_DEFAULTS[key]}; set allow_below_defaults: true to do this on purpose")
            if d["max_parameter_fraction"] > DISCLOSURE_DEFAULTS["max_parameter_fraction"]:
                raise DataError(
                    f"{self.path}: disclosure.max_parameter_fraction={d['max_parameter_fraction']} is looser "
                    f"than the default {DISCLOSURE_DEFAULTS['max_parameter_fraction']}; "
                    "set allow_below_defaults: true to do this on purpose")
        return d

    def section(self, name: str) -> dict:
        return dict(self.raw.get(name) or {})

    def payment_standards(self) -> pd.DataFrame:
        """Per-group payment standards (columns drg_code, payment_standard, ...)."""
        name = self.raw.get("payment_standards")
        if not name:
            raise DataError(f"{self.path}: no payment_standards file named")
        file = Path(name) if Path(name).is_absolute() else (self.path.parent if self.path else Path()) / name
        try:
            return pd.read_csv(file, dtype={"drg_code": str})
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"{file}: cannot read payment standards: {exc}") from None
