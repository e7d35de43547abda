"""A new user's path on real public data the project has never seen.

The RAND Health Insurance Experiment and the Scotland referendum data ship
with statsmodels (no download). Split into three "hospitals", a dictionary
drafted by `fedcost dictionary init`, and a federated fit through the CLI must
equal statsmodels on the pooled rows.
"""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from oracle import CONTRACT, contract_error, statsmodels_fit

FEDCOST = [sys.executable, "-m", "fedcost.cli"]


def cli(*args):
    p = subprocess.run([*FEDCOST, *map(str, args)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    return p


def split_three(df: pd.DataFrame, folder) -> list:
    paths = []
    for i in range(3):
        path = folder / f"site{i + 1}.csv"
        df.iloc[i::3].to_csv(path, index=False)
        paths.append(path)
    return paths


@pytest.mark.parametrize("dataset, formula, family", [
    ("randhie", "mdvis ~ lncoins + C(idp) + lpi + fmde + physlm + disea + C(hlthg) + C(hlthf) + C(hlthp)",
     "poisson"),
    ("scotland", "YES ~ COUTAX + UNEMPF + MOR + ACT + GDP", "gamma"),
    ("scotland", "YES ~ COUTAX + UNEMPF + MOR + ACT + GDP", "gaussian"),  # badly scaled: a refinement round
])
def test_public_data_with_drafted_dictionary(tmp_path, dataset, formula, family):
    """Scotland has 32 council areas for 6 parameters: the largest leverage is 0.386 (statsmodels), so the
    model fits an area from about 2.6 records and the default floor of 5 (leverage 1/4.5 = 0.222) withholds
    it; a policy that lowers the floor to 3 on purpose (leverage 1/2.5 = 0.4) releases it."""
    df = getattr(sm.datasets, dataset).load_pandas().data
    whole = tmp_path / "all.csv"
    df.to_csv(whole, index=False)
    paths = split_three(df, tmp_path)
    cli("dictionary", "init", "--from", whole, "--out", tmp_path / "dict")
    for p in paths:
        cli("validate", p, "--dictionary", tmp_path / "dict")
    out = tmp_path / "result.json"
    fit = [*FEDCOST, "fit", "--data", *paths, "--formula", formula, "--family", family, "--dictionary",
           tmp_path / "dict", "--engine", "local", "--out", out, "--quiet"]
    if dataset == "scotland":
        refused = subprocess.run(list(map(str, fit)), capture_output=True, text=True, timeout=600)
        assert refused.returncode == 1 and "withheld" in refused.stderr and not out.exists(), refused.stderr
        policy = tmp_path / "policy.yaml"
        policy.write_text("allow_below_defaults: true\ndisclosure:\n  min_cell_records: 3\n")
        fit += ["--policy", policy]
    cli(*fit[len(FEDCOST):])
    res = json.loads(out.read_text())
    ref = statsmodels_fit(formula, family, pd.concat([pd.read_csv(p) for p in paths], ignore_index=True))
    assert contract_error(res["coef"], res["se"], ref) < CONTRACT
    assert res["n"] == len(df) and np.isclose(res["deviance"], ref.deviance, rtol=1e-8)


def test_integer_category_missing_at_one_hospital(tmp_path):
    """C(idp) on an integer field: one site never has idp == 1; levels come from the dictionary range."""
    df = sm.datasets.randhie.load_pandas().data
    whole = tmp_path / "all.csv"
    df.to_csv(whole, index=False)
    parts = [df[df.idp == 0].iloc[:3000], df.iloc[3000::2], df.iloc[3001::2]]
    paths = []
    for i, part in enumerate(parts):
        paths.append(tmp_path / f"site{i + 1}.csv")
        part.to_csv(paths[-1], index=False)
    cli("dictionary", "init", "--from", whole, "--out", tmp_path / "dict")
    formula = "mdvis ~ lncoins + C(idp) + C(hlthg) + disea"
    out = tmp_path / "result.json"
    cli("fit", "--data", *paths, "--formula", formula, "--family", "poisson", "--dictionary", tmp_path / "dict",
        "--engine", "local", "--out", out, "--quiet")
    res = json.loads(out.read_text())
    ref = statsmodels_fit(formula, "poisson", pd.concat(parts, ignore_index=True))
    assert contract_error(res["coef"], res["se"], ref) < CONTRACT
