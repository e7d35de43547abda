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


# `make test` runs the suite on two workers (pytest-xdist, `-n 2 --dist loadfile`): a federation test
# waits on Flower's polls and process starts for about half its time (measured: test_deployment.py used
# 101 % of one core over 116 s), so the second core takes other tests meanwhile. A module's tests share a
# worker, so its module fixtures (a running federation, a rendered site) are built once. (`loadgroup`
# would be finer, but with pytest 9 xdist 3.8's group suffix does not reach the scheduler: measured, a
# module marked with one xdist_group ran on both workers.) Every test that starts Ray is in
# test_researcher_engines.py: two Ray heads on one machine contend for Ray's default ports.
# The longest modules first (seconds measured on 2 cores): the last module to start then is short.
LONGEST_FIRST = ["test_parties", "test_researcher_engines", "test_demo", "test_reports_end_to_end",
                 "test_researcher", "test_deployment", "test_validation", "test_notebooks", "test_run"]


def pytest_collection_modifyitems(config, items):
    rank = {m: i for i, m in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rsplit(".", 1)[-1], len(rank)))  # stable
