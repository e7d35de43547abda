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


# `make test` runs the suite on two workers (pytest-xdist, `-n 2 --dist loadgroup`): a federation test
# waits on Flower's polls and process starts for about half its time (measured: test_deployment.py used
# 101 % of one core over 116 s), so the second core takes other tests meanwhile.
# Each module is one group, so its module fixtures (a running federation, a rendered site) are built once.
# Modules that start Ray share one group: two Ray heads on one machine contend for Ray's default ports.
RAY_MODULES = {"test_simulation", "test_researcher_engines"}
# The longest groups first (seconds measured on 2 cores, one worker): the last group to start then is short.
LONGEST_FIRST = ["test_parties", "ray", "test_demo", "test_reports_end_to_end", "test_researcher",
                 "test_deployment", "test_validation", "test_notebooks", "test_run"]


def _group(item) -> str:
    module = item.module.__name__.rsplit(".", 1)[-1]
    return "ray" if module in RAY_MODULES else module


@pytest.hookimpl(tryfirst=True)  # before xdist's worker hook, which reads the groups into the test ids
def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    rank = {g: i for i, g in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item), len(rank)))  # stable: order within a module kept
