"""fedcost.data.synth and `fedcost synth`: files, reproducibility, validity, and a truth that a GLM recovers."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fedcost.data import synth
from fedcost.data.dictionary import Dictionary
from fedcost.errors import DataError, UsageError

DICT = Dictionary.load()


@pytest.fixture(scope="module")
def synth_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "out"
    synth.write(out, 3, 3000, 11)
    return out


@pytest.fixture(scope="module")
def frames_small():
    return synth.generate(4, 3000, 11)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"record_id": str, "principal_diagnosis": str}, keep_default_na=False,
                       na_values=[""])


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    # `python -m fedcost.cli` needs fedcost/cli/__main__.py; fall back to calling main() if it is absent
    try:
        import importlib.util
        has_main = importlib.util.find_spec("fedcost.cli.__main__") is not None
    except ImportError:
        has_main = False
    head = ["-m", "fedcost.cli"] if has_main else ["-c", "import sys; from fedcost.cli import main; sys.exit(main())"]
    return subprocess.run([sys.executable, *head, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


# --- files ---------------------------------------------------------------------------------
def test_files_and_truth_written(synth_out):
    names = sorted(p.name for p in synth_out.iterdir())
    assert names == ["H01.csv", "H02.csv", "H03.csv", "truth.json"]
    truth = json.loads((synth_out / "truth.json").read_text(encoding="utf-8"))
    for key in ("formula", "coef", "shape", "parameters", "hospitals", "cohort", "readmission", "derived_columns"):
        assert key in truth
    for key in ("Intercept", "age", "los", "comorbidity_score", "year_trend"):
        assert isinstance(truth["parameters"][key], float)
    assert 4 <= truth["shape"] <= 8
    assert set(truth["hospitals"]) == {"H01", "H02", "H03"}
    for h, info in truth["hospitals"].items():
        assert {"efficiency", "trend", "hospital_level", "region", "rows"} <= set(info)
        df = _read(synth_out / f"{h}.csv")
        assert len(df) == info["rows"]
        assert 0.7 * 3000 <= len(df) <= 1.3 * 3000
        assert (df["hospital_id"] == h).all()
    assert truth["files"] == ["H01.csv", "H02.csv", "H03.csv"]
    raw = (synth_out / "H01.csv").read_bytes()
    assert raw.decode("utf-8").splitlines()[0] == ",".join(DICT.fields)   # no index column
    assert b"\r\n" not in raw


def test_reproducible_and_seed_dependent(tmp_path, synth_out):
    again = tmp_path / "again"
    synth.write(again, 3, 3000, 11)
    for name in ("H01.csv", "H02.csv", "H03.csv", "truth.json"):
        assert (again / name).read_bytes() == (synth_out / name).read_bytes(), name
    other = tmp_path / "other"
    synth.write(other, 3, 3000, 12)
    assert (other / "H01.csv").read_bytes() != (synth_out / "H01.csv").read_bytes()
    assert (other / "truth.json").read_bytes() != (synth_out / "truth.json").read_bytes()


def test_parquet(tmp_path):
    paths = synth.write(tmp_path / "pq", 3, 500, 3, fmt="parquet")
    assert [p.name for p in paths] == ["H01.parquet", "H02.parquet", "H03.parquet", "truth.json"]
    frames, _ = synth.generate(3, 500, 3)
    back = pd.read_parquet(paths[0])
    assert list(back.columns) == list(DICT.fields)
    assert len(back) == len(frames["H01"])
    assert str(back["discharge_date"].iloc[0])[:10] == frames["H01"]["discharge_date"].iloc[0]
    np.testing.assert_array_equal(back["cost_total"].to_numpy(), frames["H01"]["cost_total"].to_numpy())
    again = synth.write(tmp_path / "pq2", 3, 500, 3, fmt="parquet")
    assert again[1].read_bytes() == paths[1].read_bytes()


def test_refuses_non_empty_dir_unless_force(tmp_path):
    out = tmp_path / "o"
    synth.write(out, 4, 200, 1)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        synth.write(out, 3, 200, 2)
    synth.write(out, 3, 200, 2, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["H01.csv", "H02.csv", "H03.csv", "notes.txt", "truth.json"]
    assert json.loads((out / "truth.json").read_text())["seed"] == 2


def test_failed_run_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def broken(df, path, fmt):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        path.write_text("partial")

    monkeypatch.setattr(synth, "_write_frame", broken)
    out = tmp_path / "new"
    with pytest.raises(OSError):
        synth.write(out, 3, 100, 1)
    assert not out.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("x")
    calls.clear()
    with pytest.raises(OSError):
        synth.write(existing, 3, 100, 1, force=True)
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]


def test_bad_arguments():
    for args in ((0, 10, 1), (3, 0, 1), (3, 10, -1), (3, 10.5, 1), ("3", 10, 1)):
        with pytest.raises(UsageError):
            synth.generate(*args)
    with pytest.raises(UsageError, match="format"):
        synth.write("/nonexistent/never", 3, 10, 1, fmt="xlsx")


# --- validity against the dictionary ---------------------------------------------------------
def test_valid_with_validation_module(synth_out, tmp_path):
    from fedcost.data.validation import load_valid, validate_file

    parquet = synth.write(tmp_path / "pq", 3, 1000, 11, fmt="parquet")[:-1]
    for path in [*sorted(synth_out.glob("H*.csv")), *parquet]:
        report = validate_file(path, DICT, max_errors=None)
        assert report.ok, (path, report.lines()[:10])
        assert report.n_rows > 0
    df = load_valid(synth_out / "H01.csv", DICT)
    assert len(df) == json.loads((synth_out / "truth.json").read_text())["hospitals"]["H01"]["rows"]


def _check_fields(df: pd.DataFrame) -> None:
    """Every field of the default dictionary, checked directly with pandas."""
    assert list(df.columns) == list(DICT.fields)
    for name, f in DICT.fields.items():
        col = df[name]
        if f.required:
            assert col.notna().all(), name
        present = col.dropna()
        if f.type == "category":
            assert set(present.astype(str)) <= set(DICT.levels(name)), name
        elif f.type == "integer":
            values = pd.to_numeric(present)
            assert (values == np.floor(values)).all(), name
        elif f.type == "number":
            values = pd.to_numeric(present)
        elif f.type == "date":
            assert present.astype(str).str.fullmatch(r"\d{4}-\d{2}-\d{2}").all(), name
            values = pd.to_datetime(present, format="%Y-%m-%d")
        if f.pattern:
            assert present.astype(str).str.fullmatch(f.pattern).all(), name
        if f.type in ("integer", "number"):
            if f.min is not None:
                assert (values >= f.min).all(), name
            if f.max is not None:
                assert (values <= f.max).all(), name
        if f.type == "date":
            assert (values >= pd.Timestamp(f.min)).all() and (values <= pd.Timestamp(f.max)).all(), name


def _check_rules(df: pd.DataFrame) -> None:
    """Each rule of the default dictionary, written out by hand."""
    kinds = {r["name"] for r in DICT.rules}
    assert kinds == {"record_id_unique", "one_hospital_per_file", "components_sum_to_total",
                     "discharge_after_admission", "los_matches_dates", "qaly_needs_strategy"}
    # record_id unique
    assert df["record_id"].is_unique
    # one hospital per file
    assert df["hospital_id"].nunique() == 1
    # components sum to total within 1 yuan - in fact exactly, to the cent
    parts = ["cost_drugs", "cost_consumables", "cost_exams", "cost_procedures", "cost_nursing_bed",
             "cost_labour", "cost_other"]
    cents = (df[parts] * 100).round().astype("int64")
    assert ((df[parts] * 100 - cents).abs() < 1e-6).all().all()          # whole cents
    assert (cents.sum(axis=1) == (df["cost_total"] * 100).round().astype("int64")).all()
    assert ((df[parts].sum(axis=1) - df["cost_total"]).abs() <= 1.0).all()
    assert (df[parts] >= 0).all().all()
    # discharge not before admission; los == max(1, days)
    adm = pd.to_datetime(df["admission_date"])
    dis = pd.to_datetime(df["discharge_date"])
    days = (dis - adm).dt.days
    assert (days >= 0).all()
    assert (df["los"] == days.clip(lower=1)).all()
    # qaly implies strategy (and the cohort columns go together)
    assert df.loc[df["qaly"].notna(), "strategy"].notna().all()
    assert (df["strategy"].notna() == df["qaly"].notna()).all()
    assert (df["strategy"].notna() == df["clinical_response"].notna()).all()


def test_valid_by_direct_checks(synth_out):
    for path in sorted(synth_out.glob("H*.csv")):
        df = _read(path)
        _check_fields(df)
        _check_rules(df)


def test_parquet_valid_by_direct_checks(tmp_path):
    paths = synth.write(tmp_path / "pq", 3, 400, 8, fmt="parquet")
    for path in paths[:-1]:
        df = pd.read_parquet(path)
        for name in ("admission_date", "discharge_date"):
            df[name] = pd.to_datetime(df[name]).dt.strftime("%Y-%m-%d")
        _check_fields(df)
        _check_rules(df)


def test_content_is_plausible(frames_small):
    frames, truth = frames_small
    df = pd.concat(frames.values(), ignore_index=True)
    # levels and regions
    levels = {h["hospital_level"] for h in truth["hospitals"].values()}
    assert {"tertiary", "secondary"} <= levels
    assert {h["region"] for h in truth["hospitals"].values()} == {"east", "central", "west"}
    for h, g in df.groupby("hospital_id"):
        assert g["hospital_level"].nunique() == 1 and g["region"].nunique() == 1
        if g["hospital_level"].iloc[0] == "primary":
            assert not g["drg_code"].isin(["FC11", "IB21", "IC21", "EB11"]).any()
        share = g["cost_drugs"].sum() / g["cost_total"].sum()
        assert 0.15 < share < 0.45
    heavy = df["drg_code"].isin(["FC11", "IB21", "IC21", "EB11"])
    assert (df.loc[heavy, "hospital_level"] == "tertiary").mean() > 0.6
    # age and sex by group
    births = df["drg_code"].isin(["OC11", "OB21"])
    assert births.any() and (df.loc[births, "sex"] == "F").all()
    assert df.loc[births, "age"].between(18, 45).all()
    assert (df.loc[df["drg_code"].isin(["NA21", "JA21"]), "sex"] == "F").all()
    assert (df.loc[df["drg_code"] == "PU11", "age"] == 0).all()
    assert (df.loc[~df["drg_code"].eq("PU11"), "age"] >= 18).all()
    assert df.loc[df["drg_code"] == "BR21", "principal_diagnosis"].str.startswith("I6").all()
    assert df.loc[df["drg_code"] == "OC11", "principal_diagnosis"].str.startswith("O").all()
    # dates, LOS, outcomes
    dis = pd.to_datetime(df["discharge_date"])
    assert dis.min() >= pd.Timestamp("2022-01-01") and dis.max() <= pd.Timestamp("2024-12-31")
    assert set(dis.dt.year) == {2022, 2023, 2024} and dis.dt.quarter.nunique() == 4
    by_drg = df.groupby("drg_code")["los"].mean()
    assert by_drg["FC11"] > by_drg["GU21"]
    assert 0.05 <= df["readmission_30d"].mean() <= 0.10
    assert (df["discharge_status"] == "death").mean() < 0.03
    assert df["comorbidity_score"].groupby(df["age"] >= 70).mean()[True] > \
        df["comorbidity_score"].groupby(df["age"] >= 70).mean()[False]


# --- the truth ---------------------------------------------------------------------------------
def test_gamma_glm_recovers_truth():
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    from scipy import stats

    frames, truth = synth.generate(3, 5000, 2024)
    df = synth.add_derived_columns(pd.concat(frames.values(), ignore_index=True))
    res = smf.glm(truth["formula"], df, family=sm.families.Gamma(sm.families.links.Log())).fit()
    assert res.converged
    assert set(res.params.index) == set(truth["coef"])
    # jointly (contrasts share their reference level, so they move together) ...
    names = list(res.params.index)
    diff = res.params.to_numpy() - np.array([truth["coef"][n] for n in names])
    wald = diff @ np.linalg.solve(res.cov_params().to_numpy(), diff)
    assert stats.chi2.sf(wald, len(names)) > 0.001
    # ... and one by one
    z = {name: (res.params[name] - value) / res.bse[name] for name, value in truth["coef"].items()}
    bad = {k: round(v, 2) for k, v in z.items() if abs(v) >= 4}
    assert not bad, bad
    assert np.mean(np.abs(list(z.values()))) < 1.5          # SEs are not absurdly wide either
    assert res.bse["age"] < 0.001 and res.bse["los"] < 0.002
    # shape = 1 / dispersion
    assert abs(1 / res.scale - truth["shape"]) / truth["shape"] < 0.1
    # the regional year trend is the mean of the hospitals' slopes
    names = [f"C(hospital_id)[{h}]:year_c" for h in truth["hospitals"]]
    w = np.array([1 / len(names) if n in names else 0.0 for n in res.params.index])
    est = w @ res.params.to_numpy()
    se = np.sqrt(w @ res.cov_params().to_numpy() @ w)
    assert abs(est - truth["parameters"]["year_trend"]) < 4 * se
    # each hospital's efficiency + level effect, relative to H01
    h1 = truth["hospitals"]["H01"]
    for h, info in truth["hospitals"].items():
        if h != "H01":
            assert info["log_cost_effect"] - h1["log_cost_effect"] == pytest.approx(
                truth["coef"][f"C(hospital_id)[T.{h}]"], abs=1e-9)


def test_casemix_glm_recovers_pseudo_truth():
    """The dictionary-only formula (no derived columns) a federated fit would use."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from scipy import stats

    frames, truth = synth.generate(3, 5000, 2024)
    df = pd.concat(frames.values(), ignore_index=True)
    assert truth["casemix_formula"] == "cost_total ~ age + los + comorbidity_score + C(drg_code) + C(hospital_level)"
    res = smf.glm(truth["casemix_formula"], df, family=sm.families.Gamma(sm.families.links.Log())).fit()
    names = list(res.params.index)
    assert set(names) == set(truth["casemix_coef"])
    diff = res.params.to_numpy() - np.array([truth["casemix_coef"][n] for n in names])
    assert np.all(np.abs(diff) < 4 * res.bse.to_numpy())
    wald = diff @ np.linalg.solve(res.cov_params().to_numpy(), diff)
    assert stats.chi2.sf(wald, len(names)) > 0.001
    for name in ("age", "los", "comorbidity_score"):      # close to the structural values too
        assert truth["casemix_coef"][name] == pytest.approx(truth["parameters"][name], rel=0.1)


def test_readmission_logit_recovers_truth():
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    frames, truth = synth.generate(3, 8000, 99)
    df = pd.concat(frames.values(), ignore_index=True)
    df = df[df["discharge_status"] != "death"]
    r = truth["readmission"]
    res = smf.glm(r["formula"], df, family=sm.families.Binomial()).fit()
    for name, value in r["coef"].items():
        assert abs(res.params[name] - value) < 4 * res.bse[name], name


def _yoy(df: pd.DataFrame) -> pd.DataFrame:
    year = pd.to_datetime(df["discharge_date"]).dt.year
    per_case = df.groupby([df["hospital_id"], year])["cost_total"].mean().unstack()
    return per_case.pct_change(axis=1).iloc[:, 1:]


def test_growth_alerts():
    frames, truth = synth.generate(3, 20000, 5)
    growth = _yoy(pd.concat(frames.values(), ignore_index=True))
    assert (growth > 0.10).any(axis=1).any()            # someone crosses the red line
    assert (growth < 0.08).all(axis=1).any()            # someone stays below yellow
    for h, info in truth["hospitals"].items():          # the data agree with the truth's labels
        if info["alert"] == "red":
            assert (growth.loc[h] > 0.10).all()
        if info["alert"] == "none":
            assert (growth.loc[h] < 0.08).all()
    labels = [synth.generate(n, 50, s)[1] for n, s in ((2, 1), (3, 2), (5, 3), (8, 4))]
    for t in labels:
        alerts = [h["alert"] for h in t["hospitals"].values()]
        assert "red" in alerts and "none" in alerts


def test_cohort(frames_small):
    frames, truth = frames_small
    df = pd.concat(frames.values(), ignore_index=True)
    cohort = df[df["strategy"].notna()]
    assert set(cohort["drg_code"]) <= {"RE11", "RU11"}
    for h, g in df.groupby("hospital_id"):
        assert 0.07 <= g["strategy"].notna().mean() <= 0.13
    arms = cohort.groupby("strategy").agg(cost=("cost_total", "mean"), qaly=("qaly", "mean"),
                                          response=("clinical_response", "mean"))
    assert arms.loc["combination", "cost"] > arms.loc["standard", "cost"]
    assert arms.loc["combination", "qaly"] > arms.loc["standard", "qaly"]
    assert arms.loc["combination", "response"] > arms.loc["standard", "response"]
    c = truth["cohort"]
    assert 1.25 <= c["cost_ratio"] <= 1.40 and 0.15 <= c["incremental_qaly"] <= 0.30
    d_qaly = arms.loc["combination", "qaly"] - arms.loc["standard", "qaly"]
    assert abs(d_qaly - c["incremental_qaly"]) < 0.1
    d_cost = arms.loc["combination", "cost"] - arms.loc["standard", "cost"]
    assert c["incremental_cost"] > 0 and abs(d_cost - c["incremental_cost"]) < 0.5 * c["incremental_cost"]
    assert cohort["clinical_response"].isin([0, 1]).all()


def test_generate_write_agree(tmp_path):
    frames, truth = synth.generate(2, 300, 4)
    paths = synth.write(tmp_path / "w", 2, 300, 4)
    for path in paths[:-1]:
        pd.testing.assert_frame_equal(_read(path), frames[path.stem], check_dtype=False)
    written = json.loads(paths[-1].read_text())
    assert written["coef"] == truth["coef"] and written["hospitals"] == truth["hospitals"]


def test_custom_dictionary(tmp_path):
    d = Dictionary.load()
    drg = d.code_lists["drg"]
    d.code_lists["drg"] = pd.concat([drg, pd.DataFrame([{"code": "ZZ99", "name_en": "Test group", "name_zh": "测试",
                                                          "weight": 1.0, "mdc": "Z"}])], ignore_index=True)
    folder = d.save(tmp_path / "dict")
    frames, truth = synth.generate(3, 3000, 1, dictionary=folder)
    df = pd.concat(frames.values())
    assert "ZZ99" in set(df["drg_code"])
    assert "C(drg_code)[T.ZZ99]" in truth["coef"]
    d.code_lists["sex"] = d.code_lists["sex"][d.code_lists["sex"]["code"] != "F"]
    bad = d.save(tmp_path / "bad")
    with pytest.raises(DataError, match="sex"):
        synth.generate(3, 100, 1, dictionary=bad)


# --- command line ---------------------------------------------------------------------------------
def test_cli_writes_and_reports(tmp_path):
    out = tmp_path / "cli"
    r = _cli("synth", "--hospitals", "3", "--rows", "200", "--seed", "11", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "H01.csv" in r.stdout and "truth.json" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ["H01.csv", "H02.csv", "H03.csv", "truth.json"]
    frames, _ = synth.generate(3, 200, 11)
    pd.testing.assert_frame_equal(_read(out / "H02.csv"), frames["H02"], check_dtype=False)
    r = _cli("synth", "--hospitals", "3", "--rows", "200", "--seed", "11", "--out", str(out))
    assert r.returncode == 2 and "not empty" in r.stderr and "Traceback" not in r.stderr
    r = _cli("synth", "--hospitals", "3", "--rows", "200", "--out", str(out), "--force", "--format", "parquet")
    assert r.returncode == 0, r.stderr
    assert (out / "H03.parquet").is_file()


@pytest.mark.parametrize("args, message", [
    (["--hospitals", "0"], "--hospitals"),
    (["--hospitals", "three"], "invalid int"),
    (["--rows", "-5"], "--rows"),
    (["--hospitals", "1000"], "--hospitals"),
    (["--seed", "-1"], "--seed"),
    (["--format", "xlsx"], "invalid choice"),
    (["--dictionary", "/nonexistent/dict"], "dictionary"),
    ([], "--out"),
])
def test_cli_bad_arguments(tmp_path, args, message):
    full = ["synth", *args] if not args == [] else ["synth"]
    if args:
        full += ["--out", str(tmp_path / "x")]
    r = _cli(*full)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "x").exists()


def test_cli_help():
    r = _cli("synth", "--help")
    assert r.returncode == 0
    assert "--force" in r.stdout and "truth.json" in r.stdout
    assert re.search(r"--format \{csv,parquet\}", r.stdout)
