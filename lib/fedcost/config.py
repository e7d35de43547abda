"""The one reader of configuration files (data dictionary, policy, study plan, report parameters).

One rule for every such file, so that a user meets the same exit codes
everywhere: a file that is not there is a usage error (exit 2: the command
named the wrong path); a file that is there but cannot be parsed, or is not a
mapping, is bad input (exit 1). Every message names the file.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

from fedcost.errors import DataError, UsageError


def load_mapping(path: str | Path, what: str) -> dict:
    """The mapping in a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file; ``what`` names it in messages."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{file}: no such {what} file")
    toml = file.suffix.lower() == ".toml"
    try:
        text = file.read_text(encoding="utf-8")
        raw = tomllib.loads(text) if toml else yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        raise DataError(f"{file}: the {what} file is not UTF-8 text: {exc}") from None
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"{file}: not valid {'TOML' if toml else 'YAML'}: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise DataError(f"{file}: the {what} file must be a mapping of name: value")
    return raw
