"""Shared fixtures: synthetic hospitals made once per test session."""
from __future__ import annotations

import pandas as pd
import pytest

from fedcost.data.dictionary import Dictionary


@pytest.fixture(scope="session")
def dictionary() -> Dictionary:
    return Dictionary.load()


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory):
    """Three synthetic hospitals of ~1,500 records (seed 7) as CSV files, with truth.json."""
    from fedcost.data.synth import write

    out = tmp_path_factory.mktemp("synth")
    write(out, 3, 1500, 7)
    return out


@pytest.fixture(scope="session")
def hospital_paths(synth_dir):
    return sorted(synth_dir.glob("H*.csv"))


@pytest.fixture(scope="session")
def pooled(hospital_paths) -> pd.DataFrame:
    """All hospitals' rows concatenated, as a pooled analysis (the oracle) would see them."""
    return pd.concat([pd.read_csv(p) for p in hospital_paths], ignore_index=True)
