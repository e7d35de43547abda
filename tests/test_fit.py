"""`fedcost fit` and `fedcost keys` as a user runs them."""
import json
import subprocess
import sys

import pytest

from oracle import CONTRACT, contract_error, statsmodels_fit

FEDCOST = [sys.executable, "-m", "fedcost.cli"]


def run(*args, **kw):
    return subprocess.run([*FEDCOST, *map(str, args)], capture_output=True, text=True, timeout=600, **kw)


def test_fit_writes_result_json(hospital_paths, pooled, tmp_path):
    out = tmp_path / "result.json"
    formula = "cost_total ~ age + los + C(hospital_level)"
    p = run("fit", "--data", *hospital_paths, "--formula", formula, "--family", "gamma", "--engine", "local",
            "--out", out)
    assert p.returncode == 0, p.stderr
    res = json.loads(out.read_text())
    ref = statsmodels_fit(formula, "gamma", pooled)
    assert contract_error(res["coef"], res["se"], ref) < CONTRACT
    assert "Generalized Linear Model Results" in p.stdout and "C(hospital_level)[T.tertiary]" in p.stdout


@pytest.mark.parametrize("args, code, message", [
    (["--formula", "cost_total ~ nonexistent", "--family", "gamma"], 2, "nonexistent, not a field"),
    (["--formula", "cost_total ~ np.log(age) + C(sex) + I(los ** 2)", "--family", "gaussian", "--link", "probit"],
     2, "does not support link"),
    (["--formula", "cost_total ~ age", "--family", "tweedie"], 2, "invalid choice"),
    (["--formula", "cost_total ~ age +", "--family", "gamma"], 2, "formula"),
])
def test_fit_errors_are_messages_not_tracebacks(hospital_paths, tmp_path, args, code, message):
    p = run("fit", "--data", *hospital_paths, *args, "--engine", "local", "--out", tmp_path / "r.json")
    assert p.returncode == code, (p.returncode, p.stderr)
    assert message in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "r.json").exists()


def test_fit_refuses_the_reported_injection_and_runs_nothing(hospital_paths, tmp_path):
    formula = 'cost_total ~ age + I(__import__("os").system("touch pwned") * 0 + los)'
    p = run("fit", "--data", *hospital_paths, "--formula", formula, "--family", "gamma", "--engine", "local",
            "--out", tmp_path / "r.json", cwd=tmp_path)
    assert p.returncode == 2 and "is not allowed" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "r.json").exists()


def test_fit_missing_file_is_usage_error(tmp_path):
    p = run("fit", "--data", tmp_path / "nope.csv", "--formula", "cost_total ~ age", "--family", "gamma",
            "--engine", "local", "--out", tmp_path / "r.json")
    assert p.returncode == 2 and "no such file" in p.stderr


def test_keys_init_and_fingerprint(tmp_path):
    p = run("keys", "init", "--out", tmp_path / "k")
    assert p.returncode == 0, p.stderr
    fp = p.stdout.strip().splitlines()[-1].split(": ", 1)[1]
    assert run("keys", "fingerprint", tmp_path / "k" / "hospital_secret.ctx").stdout.strip() == fp
    assert run("keys", "fingerprint", tmp_path / "k" / "coordinator_public.ctx").stdout.strip() == fp
    again = run("keys", "init", "--out", tmp_path / "k")
    assert again.returncode == 1 and "already exist" in again.stderr
