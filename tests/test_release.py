"""A model's release check: terms that rest on too few records are refused, counted from pooled counts only.

The oracle is pandas' value counts on the pooled rows (conftest: 3 hospitals,
seed 7, 4,501 records; age 97 occurs 4 times, DRG FC11 14 times). The
leverage oracle is the hand fact that a saturated cell of k records gives each
of them leverage exactly 1/k.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fedcost.analyses.benchmark import BenchmarkAnalysis
from fedcost.contract import run_pooled, run_prepared
from fedcost.errors import DisclosureError
from fedcost.models.irls import GLMAnalysis
from fedcost.models.design import Design
from fedcost.models.release import check_own_rows, records_behind

RULES = {"min_hospitals": 3, "min_cell_records": 5, "max_parameter_fraction": 0.2, "name_hospitals": False}


@pytest.fixture(scope="module")
def frames(hospital_paths, dictionary):
    from fedcost.data.validation import load_valid

    return [load_valid(p, dictionary) for p in hospital_paths]


def _fit(frames, dictionary, formula, family="gamma"):
    a = GLMAnalysis(formula, family)
    return a, run_pooled({"m": a}, frames, dictionary)["results"]["m"]


def test_counts_match_pandas(frames, dictionary, pooled):
    _, raw = _fit(frames, dictionary, "cost_total ~ age + los + C(sex) + C(admission_type)")
    rb = raw["records_behind"]
    used = pooled.dropna(subset=["cost_total", "age", "los", "sex", "admission_type"])  # the model's rows
    n = len(used)
    assert raw["n"] == n
    assert rb["Intercept"] == n  # constant: every record
    assert rb["age"] == (used.age != 0).sum() < n  # continuous: its non-zero entries (93 newborns are 0)
    sex = used.sex.value_counts()
    assert rb["C(sex)[T.M]"] == min(sex["M"], sex["F"])  # indicator: the rarer of ones and zeros
    assert rb["C(admission_type)[T.transfer]"] == (used.admission_type == "transfer").sum()
    # the reference level, which every contrast compares with
    assert rb["C(admission_type) (reference level elective)"] == (used.admission_type == "elective").sum()


def test_rare_indicator_term_refused(frames, dictionary, pooled):
    assert (pooled.dropna(subset=["cost_total", "los"]).age == 97).sum() == 4
    a, raw = _fit(frames, dictionary, "cost_total ~ los + I(age == 97)")
    with pytest.raises(DisclosureError, match=r"I\(age == 97\).*\(4\)"):
        a.disclose(raw, RULES)
    # its complement identifies the same four patients
    a, raw = _fit(frames, dictionary, "cost_total ~ los + I(age != 97)")
    with pytest.raises(DisclosureError, match=r"\(4\)"):
        a.disclose(raw, RULES)
    # with a floor of 4 the same fit is released, and the hospitals' counts do not leave
    out = a.disclose(raw, {**RULES, "min_cell_records": 4})
    assert "records_behind" not in out and "beta_full" not in out and out["n"] == raw["n"]


def _without_most(frames, column, value, keep):
    """Frames in which only `keep` records (from the first hospital) have column == value."""
    out, left = [], keep
    for f in frames:
        hit = f.index[f[column] == value]
        drop = hit[left:] if left else hit
        left = max(0, left - len(hit))
        out.append(f.drop(index=drop))
    return out


def test_rare_level_refused_in_glm_and_benchmark(frames, dictionary):
    thin = _without_most(frames, "drg_code", "FC11", 3)
    assert sum((f.drg_code == "FC11").sum() for f in thin) == 3
    a, raw = _fit(thin, dictionary, "cost_total ~ age + C(drg_code)")
    with pytest.raises(DisclosureError, match=r"C\(drg_code\)\[T\.FC11\] \(3\)"):
        a.disclose(raw, RULES)
    b = BenchmarkAnalysis()
    braw = run_pooled({"b": b}, thin, dictionary)["results"]["b"]
    with pytest.raises(DisclosureError, match="FC11"):
        b.disclose(braw, RULES)
    # on the full data the same benchmark is released, without the counts
    b = BenchmarkAnalysis()
    full = run_pooled({"b": b}, frames, dictionary)["results"]["b"]
    assert "records_behind" not in b.disclose(full, RULES)["model"]


def test_moved_baseline_counts_its_own_records():
    # levels a (reference, absent), b (3 records), c (10); b becomes the baseline
    cols = ["Intercept", "C(g)[T.b]", "C(g)[T.c]"]
    out = records_behind([13, 3, 10], [0, 0, 0], 13, cols, [True, False, True], {"C(g)": (1, 3)}, {"C(g)": "b"})
    assert out == {"Intercept": 13, "C(g)[T.c]": 3, "C(g) (reference level b)": 3}
    assert pd.Series(out).min() == 3


def _cell_design(k: int, n: int = 40, value=lambda ind: ind) -> Design:
    """Intercept and one column that separates k records (a cell) from the other n - k."""
    ind = (np.arange(n) < k).astype(float)
    X = np.column_stack([np.ones(n), value(ind)])
    y = np.where(ind == 1, 2000.0, 1000.0) * np.exp(np.sin(np.arange(n)))  # positive costs, not constant
    return Design(X=X, y=y, weights=np.ones(n), offset=np.zeros(n), columns=["Intercept", "x"],
                  factor_slices={}, n_dropped_missing=0)


@pytest.mark.parametrize("value", [lambda ind: ind, lambda ind: ind * 5 + 1, lambda ind: np.exp(-30 * (1 - ind) ** 2)],
                         ids=["indicator", "affine", "spike"])
def test_leverage_refuses_a_cell_below_the_floor_whatever_its_values(value):
    # Gamma(log) has working weight 1, so the leverage of a cell record is exactly 1/k: 1/4 = 0.25 is at
    # least 1/(5 - 1/2) = 0.222 (refused); 1/5 = 0.20 is not (released). The count check sees only the
    # indicator: x*5+1 and the spike are not 0/1 and pass it with 40 non-zero records.
    a = GLMAnalysis("y ~ x", "gamma")
    for k, refused in ((4, True), (5, False)):
        d = _cell_design(k, value=value)
        a.columns_, a.factor_slices_ = d.columns, {}
        raw = run_prepared({"m": a}, {"m": [d]})["results"]["m"]
        if refused:
            with pytest.raises(DisclosureError, match=r"4 records of this hospital have leverage up to 0\.25"):
                a.check_own_rows(d, raw, RULES)
        else:
            a.check_own_rows(d, raw, RULES)
        assert check_own_rows(d, a.family, a.link, raw, 1) is None  # a floor of 1 protects nothing


def test_leverage_passes_the_demo_models_and_catches_a_rare_value(frames, dictionary, pooled):
    formula = "cost_total ~ age + los + comorbidity_score + C(drg_code) + C(sex) + C(admission_type)"
    a, raw = _fit(frames, dictionary, formula)
    for f in frames:
        a.check_own_rows(a.prepare(f, dictionary), raw, RULES)
    los = pooled.dropna(subset=["cost_total", "age"]).los.value_counts()
    rare = int(los[los == 2].index.min())  # a length of stay two patients share
    a, raw = _fit(frames, dictionary, f"cost_total ~ age + I(np.exp(-30 * (los - {rare}) ** 2))")
    assert min(raw["records_behind"].values()) >= 5  # the counts let it through
    with pytest.raises(DisclosureError, match="leverage"):
        for f in frames:
            a.check_own_rows(a.prepare(f, dictionary), raw, RULES)


def test_hospitals_withhold_a_spike_term_through_the_federation(hospital_paths, pooled, tmp_path):
    """End to end (real CKKS, one process): the reason leaves as a code, the leverage stays in the hospital's log."""
    from fedcost.federation import audit
    from fedcost.researcher import run_study

    los = pooled.dropna(subset=["cost_total", "age"]).los.value_counts()
    rare = int(los[los == 2].index.min())
    study = run_study({"m": GLMAnalysis(f"cost_total ~ age + I(np.exp(-30 * (los - {rare}) ** 2))", "gamma")},
                      hospital_paths, engine="local", workdir=tmp_path / "run")
    assert study.status("m") == "withheld" and "leverage" not in study.analyses["m"]["reason"]
    kept_home = [str(audit.read(p)) for p in (tmp_path / "run" / "hospitals").glob("*/audit.jsonl")]
    assert any("leverage" in text for text in kept_home)
