"""The data dictionary: a folder with `dictionary.yaml` and `codes/*.csv`.

It is the single source of truth for validation and for categorical levels:
every hospital builds its design matrix with the levels listed here, not the
levels it happens to observe, so all hospitals produce the same columns.
A user's own dictionary is a folder in the same format (`--dictionary DIR`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from fedcost.config import load_mapping
from fedcost.errors import DataError
from fedcost.paths import default_dictionary_dir

FIELD_TYPES = ("string", "integer", "number", "date", "category", "boolean")
RULE_KINDS = ("unique", "one_value", "sum", "date_order", "date_diff", "implies")
# Rules that span a whole file: checked across chunks by the validator, not per chunk by pandera.
FILE_RULE_KINDS = ("unique", "one_value")


@dataclass(frozen=True)
class Field:
    """One column of a record."""

    name: str
    type: str
    required: bool = True
    unit: str | None = None
    min: Any = None
    max: Any = None
    pattern: str | None = None
    codes: str | None = None
    description: dict = field(default_factory=dict)

    def describe(self, lang: str = "en") -> str:
        return self.description.get(lang) or self.description.get("en") or ""


@dataclass
class Dictionary:
    """A loaded data dictionary (fields, code lists, consistency rules)."""

    path: Path | None
    name: str
    version: str
    fields: dict[str, Field]
    code_lists: dict[str, pd.DataFrame]
    rules: list[dict]
    title: dict = field(default_factory=dict)

    # -- loading -----------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None) -> "Dictionary":
        """Load a dictionary folder (default: the project's `data_dictionary/`)."""
        folder = Path(path) if path is not None else default_dictionary_dir()
        spec_file = folder / "dictionary.yaml"
        if not folder.is_dir():
            raise DataError(f"{folder}: no such dictionary folder")
        if not spec_file.is_file():
            raise DataError(f"{folder}: not a data dictionary (dictionary.yaml is missing)")
        spec = load_mapping(spec_file, "data dictionary")
        code_lists = {}
        codes_dir = folder / "codes"
        if codes_dir.is_dir():
            for csv in sorted(codes_dir.glob("*.csv")):
                try:
                    table = pd.read_csv(csv, dtype={"code": str}, keep_default_na=False)
                except Exception as exc:  # noqa: BLE001 - any parse failure is a data error
                    raise DataError(f"{csv}: cannot read code list: {exc}") from None
                if "code" not in table.columns:
                    raise DataError(f"{csv}: a code list needs a 'code' column")
                code_lists[csv.stem] = table
        return cls.from_spec(spec, code_lists, path=folder)

    @classmethod
    def from_spec(cls, spec: dict, code_lists: dict[str, pd.DataFrame], path: Path | None = None) -> "Dictionary":
        where = path / "dictionary.yaml" if path else "dictionary"
        if not isinstance(spec, dict) or not isinstance(spec.get("fields"), list) or not spec["fields"]:
            raise DataError(f"{where}: needs a non-empty 'fields' list")
        fields: dict[str, Field] = {}
        for i, raw in enumerate(spec["fields"]):
            if not isinstance(raw, dict) or "name" not in raw or "type" not in raw:
                raise DataError(f"{where}: field #{i + 1} needs 'name' and 'type'")
            if raw["type"] not in FIELD_TYPES:
                raise DataError(f"{where}: field {raw['name']}: type must be one of {', '.join(FIELD_TYPES)}")
            if raw["name"] in fields:
                raise DataError(f"{where}: field {raw['name']} is defined twice")
            if raw["type"] == "category":
                if not raw.get("codes"):
                    raise DataError(f"{where}: field {raw['name']}: a category needs 'codes' (a file in codes/)")
                if raw["codes"] not in code_lists:
                    raise DataError(f"{where}: field {raw['name']}: code list codes/{raw['codes']}.csv is missing")
            known = {k: raw[k] for k in Field.__dataclass_fields__ if k in raw}
            known["description"] = raw.get("description") or {}
            fields[raw["name"]] = Field(**known)
        rules = spec.get("rules") or []
        for rule in rules:
            if rule.get("kind") not in RULE_KINDS:
                raise DataError(f"{where}: rule {rule.get('name')}: kind must be one of {', '.join(RULE_KINDS)}")
            for key in ("columns", "parts", "total", "start", "end", "equals", "if_present", "then_present"):
                cols = rule.get(key)
                for col in [cols] if isinstance(cols, str) else (cols or []):
                    if col not in fields:
                        raise DataError(f"{where}: rule {rule.get('name')}: unknown field {col}")
        return cls(
            path=path,
            name=str(spec.get("name", "dictionary")),
            version=str(spec.get("version", "0")),
            fields=fields,
            code_lists=code_lists,
            rules=rules,
            title=spec.get("title") or {},
        )

    # -- queries -------------------------------------------------------------
    def levels(self, column: str) -> list[str]:
        """Categorical levels of a column, sorted: the first is the reference level.

        Codes that are all numbers sort as numbers (2 before 10), as statsmodels
        sorts an integer-coded column, so reference levels and names agree.
        """
        f = self.fields.get(column)
        if f is None or f.type != "category":
            raise KeyError(f"{column} is not a category field of dictionary {self.name}")
        codes = list(self.code_lists[f.codes]["code"].astype(str))
        try:
            return sorted(codes, key=float)
        except ValueError:
            return sorted(codes)

    def code_table(self, column: str) -> pd.DataFrame:
        """The code list of a category column (code, names, extra attributes such as DRG weight)."""
        return self.code_lists[self.fields[column].codes]

    def label(self, column: str, code: str, lang: str = "en") -> str:
        """Human name of a code in the given language, falling back to the code."""
        table = self.code_table(column)
        row = table[table["code"].astype(str) == str(code)]
        col = f"name_{lang}"
        if row.empty or col not in table.columns:
            return str(code)
        return str(row.iloc[0][col])

    @property
    def categorical_columns(self) -> list[str]:
        return [n for n, f in self.fields.items() if f.type == "category"]

    @property
    def required_columns(self) -> list[str]:
        return [n for n, f in self.fields.items() if f.required]

    @property
    def fingerprint(self) -> str:
        """SHA-256 over the dictionary's content: results record which dictionary made them."""
        if getattr(self, "_fingerprint", None):
            return self._fingerprint
        h = hashlib.sha256()
        h.update(json.dumps(self.to_spec(), sort_keys=True, ensure_ascii=False, default=str).encode())
        for name in sorted(self.code_lists):
            h.update(name.encode())
            h.update(self.code_lists[name].to_csv(index=False).encode())
        self._fingerprint = h.hexdigest()
        return self._fingerprint

    # -- saving ----------------------------------------------------------------
    def to_spec(self) -> dict:
        out_fields = []
        for f in self.fields.values():
            d = {"name": f.name, "type": f.type, "required": f.required}
            for key in ("unit", "min", "max", "pattern", "codes"):
                if getattr(f, key) is not None:
                    d[key] = getattr(f, key)
            d["description"] = dict(f.description)
            out_fields.append(d)
        return {"name": self.name, "version": self.version, "title": dict(self.title),
                "fields": out_fields, "rules": list(self.rules)}

    def save(self, folder: str | Path) -> Path:
        """Write the dictionary as a folder that `Dictionary.load` reads back."""
        folder = Path(folder)
        (folder / "codes").mkdir(parents=True, exist_ok=True)
        (folder / "dictionary.yaml").write_text(
            yaml.safe_dump(self.to_spec(), sort_keys=False, allow_unicode=True), encoding="utf-8")
        for name, table in self.code_lists.items():
            table.to_csv(folder / "codes" / f"{name}.csv", index=False)
        return folder
