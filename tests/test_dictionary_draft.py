"""`dictionary init`: a draft inferred from a foreign table validates that table."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fedcost.data.dictionary import Dictionary
from fedcost.data.dictionary_draft import draft_dictionary, write_draft
from fedcost.errors import UsageError
from fedcost.data.validation import load_valid, validate_file


def foreign_table(n: int = 200, seed: int = 3) -> pd.DataFrame:
    """A public-data-like table: numeric outcome, a few categoricals, a date, some missing values."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "PatientKey": [f"P{i:05d}" for i in range(n)],
        "visit_date": (pd.Timestamp("2019-03-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"))
        .strftime("%Y-%m-%d"),
        "county": rng.choice(["Alameda", "Fresno", "Kern", "Marin"], n),
        "insurance": rng.choice(["Medicare", "Medicaid", "Private", None], n),
        "age_years": rng.integers(18, 95, n).astype(str),
        "length_of_stay": rng.integers(1, 40, n).astype(str),
        "charges_usd": np.round(rng.lognormal(9, 1, n), 2).astype(str),
        "zip": rng.choice(["02139", "94110", "60614"], n),
    })
    df.loc[rng.choice(n, 15, replace=False), "charges_usd"] = ""
    return df


def test_draft_infers_types_and_validates_its_source(tmp_path):
    src = tmp_path / "foreign.csv"
    foreign_table().to_csv(src, index=False)
    d = write_draft(src, tmp_path / "dict", name="foreign")
    types = {n: f.type for n, f in d.fields.items()}
    assert types == {"PatientKey": "string", "visit_date": "date", "county": "category", "insurance": "category",
                     "age_years": "integer", "length_of_stay": "integer", "charges_usd": "number",
                     "zip": "category"}
    assert not d.fields["charges_usd"].required and d.fields["county"].required
    assert d.fields["age_years"].min <= 18 and d.fields["age_years"].max >= 94
    assert d.fields["visit_date"].min.endswith("-01-01")
    assert d.fields["county"].description["en"] == "TODO: describe" and "TODO: describe" in d.fields["county"].description["zh"]
    again = Dictionary.load(tmp_path / "dict")
    assert again.levels("zip") == ["02139", "60614", "94110"]  # leading zeros kept: codes, not numbers
    report = validate_file(src, again)
    assert report.ok, report.lines()
    df = load_valid(src, again)
    assert isinstance(df["county"].dtype, pd.CategoricalDtype) and df["charges_usd"].isna().sum() == 15


def test_draft_from_parquet_validates(tmp_path):
    df = foreign_table()
    df["age_years"] = df["age_years"].astype(int)
    df["charges_usd"] = pd.to_numeric(df["charges_usd"])
    df["visit_date"] = pd.to_datetime(df["visit_date"])
    src = tmp_path / "foreign.parquet"
    df.to_parquet(src, index=False)
    d = write_draft(src, tmp_path / "dict")
    assert d.fields["visit_date"].type == "date" and d.fields["charges_usd"].type == "number"
    assert validate_file(src, Dictionary.load(tmp_path / "dict")).ok


def test_refuses_non_empty_folder_unless_forced(tmp_path):
    src = tmp_path / "f.csv"
    foreign_table(50).to_csv(src, index=False)
    out = tmp_path / "dict"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="--force"):
        write_draft(src, out)
    assert (out / "keep.txt").exists()
    write_draft(src, out, force=True)
    assert (out / "dictionary.yaml").exists() and not (out / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_cli_init_on_chinese_gbk_file(tmp_path):
    src = tmp_path / "gbk.csv"
    rows = ["编号,科室,费用,入院日期"] + [f"{i},{['内科', '外科'][i % 2]},{100 + i}.5,2024-01-{i % 28 + 1:02d}"
                                        for i in range(30)]
    src.write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    out = tmp_path / "d"
    cli = [sys.executable, "-m", "fedcost.cli"]
    r = subprocess.run(cli + ["dictionary", "init", "--from", str(src), "--out", str(out), "--name", "ward"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    d = Dictionary.load(out)
    assert d.fields["科室"].type == "category" and d.levels("科室") == sorted(["内科", "外科"])
    r = subprocess.run(cli + ["validate", str(src), "--dictionary", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(cli + ["dictionary", "init", "--from", str(src), "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--force" in r.stderr


def test_draft_dictionary_in_memory():
    df = pd.DataFrame({"a": ["1", "2", None], "b": ["x", "y", "z"]})
    d = draft_dictionary(df, "t")
    assert d.fields["a"].type == "integer" and not d.fields["a"].required
    assert d.fields["b"].type == "string"
