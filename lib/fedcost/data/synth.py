"""Synthetic inpatient cost records for a federation of hospitals, with a known truth.

`generate(n_hospitals, rows, seed)` returns one DataFrame per hospital (every
column of the default data dictionary) and a `truth` dict; `write(...)` puts
them on disk as `H01.csv ...` (or `.parquet`) plus `truth.json`.

The generating model (all of it in `truth`):

* Hospitals get a region and a level (with 3 or more hospitals at least one
  tertiary and one secondary), an efficiency effect ``u_h`` and a yearly cost
  trend ``slope_h``. A few hospitals grow fast enough to cross the 10 % (red)
  and 8 % (yellow) per-case growth alerts; most stay below 8 %.
* The DRG mix depends on the level (heavy surgery in tertiary hospitals, light
  medical groups in primary ones); age, sex, diagnosis (ICD-10), LOS,
  comorbidity, admission type, payer and discharge status depend on the DRG.
* Total cost is Gamma with a log link::

      log mu = Intercept + drg[g] + level[l] + u_h + age*age + los*los
               + comorbidity_score*comorbidity_score + slope_h*year_c
               + combination*combination

  with ``year_c = discharge year - 2023`` and ``combination = 1`` for the
  combination arm of the therapy cohort; Gamma shape ``truth['shape']``.
  ``truth['formula']`` is a statsmodels formula whose coefficients
  ``truth['coef']`` (statsmodels names) are exactly the generating ones; fit it
  on the data after `add_derived_columns` (which adds ``year_c`` and
  ``combination``). ``truth['casemix_formula']`` uses dictionary columns only
  (``cost_total ~ age + los + comorbidity_score + C(drg_code) +
  C(hospital_level)``, what a federated fit can use as is); it omits the
  hospital effects, trends and the combination arm, so ``truth['casemix_coef']``
  holds its pseudo-true values (the fit's limit on these records), not the
  structural ones in ``truth['parameters']``.
* Cost components come from hospital- and DRG-specific shares, in whole cents,
  and ``cost_total`` is their exact sum.
* A combination-therapy cohort (8-12 % of each hospital's records, DRGs RE11 and
  RU11) has ``strategy``, ``qaly`` and ``clinical_response``; the combination
  arm costs more and gains more QALYs (true increments in ``truth['cohort']``).

Everything is drawn from ``numpy.random.Generator`` streams spawned from the
seed, so the same seed gives byte-identical files.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from fedcost.data.dictionary import Dictionary
from fedcost.data.synth_model import (
    B_AGE, B_COM, B_LOS, BASE_COST, BASE_YEAR, CODES_USED, COHORT_DRGS, COLUMNS, FORMATS, MAX_HOSPITALS, MAX_ROWS,
    PROFILES, REGIONS, generic_profile,
)
from fedcost.data.synth_records import mean_comorbidity, one_hospital
from fedcost.data.synth_truth import truth_document
from fedcost.errors import DataError, UsageError


# ----------------------------------------------------------------------------------------
def _check_args(n_hospitals, rows, seed) -> tuple[int, int, int]:
    for name, value, lo, hi in (("n_hospitals", n_hospitals, 1, MAX_HOSPITALS), ("rows", rows, 1, MAX_ROWS),
                                ("seed", seed, 0, 2**63 - 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise UsageError(f"{name} must be an integer, got {value!r}")
        if not lo <= int(value) <= hi:
            raise UsageError(f"{name} must be between {lo} and {hi}, got {value}")
    return int(n_hospitals), int(rows), int(seed)


def _drg_table(dictionary: Dictionary) -> tuple[list[str], np.ndarray, list[dict]]:
    """DRG codes (sorted), weights and profiles from the dictionary's drg_code code list."""
    field = dictionary.fields.get("drg_code")
    if field is None or field.type != "category":
        raise DataError(f"dictionary {dictionary.name}: synth needs a category field drg_code")
    table = dictionary.code_table("drg_code")
    if "weight" not in table.columns:
        raise DataError(f"dictionary {dictionary.name}: the drg_code code list needs a 'weight' column")
    weights = pd.to_numeric(table["weight"], errors="coerce")
    if weights.isna().any() or (weights <= 0).any():
        raise DataError(f"dictionary {dictionary.name}: every DRG weight must be a positive number")
    mdc = table["mdc"] if "mdc" in table.columns else table["code"].astype(str).str[:1]
    info = sorted(zip(table["code"].astype(str), weights.astype(float), mdc.astype(str)))
    codes = [c for c, _, _ in info]
    w = np.array([x for _, x, _ in info])
    profiles = [PROFILES.get(c) or generic_profile(c, x, m) for c, x, m in info]
    return codes, w, profiles


def _check_dictionary(dictionary: Dictionary) -> list[str]:
    """The output columns (the dictionary's order); errors if it asks for what synth cannot make."""
    missing = [n for n in dictionary.required_columns if n not in COLUMNS]
    if missing:
        raise DataError(f"dictionary {dictionary.name}: synth cannot generate required field(s) "
                        f"{', '.join(missing)}; it generates {', '.join(COLUMNS)}")
    for col, used in CODES_USED.items():
        f = dictionary.fields.get(col)
        if f is None or f.type != "category":
            continue
        unknown = used - set(dictionary.levels(col))
        if unknown:
            raise DataError(f"dictionary {dictionary.name}: code list of {col} lacks {', '.join(sorted(unknown))}")
    return [n for n in dictionary.fields if n in COLUMNS]


def _hospital_ids(n: int) -> list[str]:
    width = max(2, len(str(n)))
    return [f"H{i:0{width}d}" for i in range(1, n + 1)]


def _hospitals(n: int, rows: int, rng: np.random.Generator) -> list[dict]:
    """Region, level, size, efficiency, trend and cost structure of each hospital."""
    ids = _hospital_ids(n)
    # levels: tertiary 30 %, secondary 45 %, primary 25 %; with n >= 3 at least one tertiary and secondary
    levels = list(rng.choice(["tertiary", "secondary", "primary"], size=n, p=[0.30, 0.45, 0.25]))
    if n >= 3:
        if "tertiary" not in levels:
            levels[int(rng.integers(n))] = "tertiary"
        if "secondary" not in levels:
            spare = [i for i, lv in enumerate(levels) if lv != "tertiary" or levels.count("tertiary") > 1]
            levels[spare[int(rng.integers(len(spare)))]] = "secondary"
    # regions: with n >= 3 every region appears
    regions = list(rng.choice(REGIONS, size=n, p=[0.35, 0.40, 0.25]))
    if n >= 3:
        pos = rng.permutation(n)[:3]
        for p, r in zip(pos, rng.permutation(REGIONS)):
            regions[p] = str(r)
    # sizes: rows on average, +-30 %
    factor = rng.uniform(0.7, 1.3, size=n)
    if n > 1:
        factor = np.clip(factor / factor.mean(), 0.7, 1.3)
    sizes = np.maximum(1, np.rint(rows * factor)).astype(int)
    # efficiency (log scale, 0 = average)
    u = np.round(np.clip(rng.normal(0.0, 0.10, size=n), -0.25, 0.25), 4)
    # per-case growth targets: a few red (> 10 %), one yellow (8-10 %) from 4 hospitals, the rest < 8 %
    growth = rng.uniform(0.0, 0.05, size=n)
    order = rng.permutation(n)
    n_red = 0 if n == 1 else max(1, int(round(0.15 * n)))
    n_yellow = 1 if n >= 4 else 0
    growth[order[:n_red]] = rng.uniform(0.13, 0.16, size=n_red)
    growth[order[n_red:n_red + n_yellow]] = rng.uniform(0.085, 0.092, size=n_yellow)
    slope = np.round(np.log1p(growth), 6)
    drug_share = np.round(rng.uniform(0.20, 0.40, size=n), 4)
    out = []
    for i in range(n):
        out.append(dict(hospital_id=ids[i], region=str(regions[i]), hospital_level=str(levels[i]),
                        rows=int(sizes[i]), efficiency=float(u[i]), slope=float(slope[i]),
                        drug_share=float(drug_share[i]),
                        cohort_fraction=float(np.round(rng.uniform(0.08, 0.12), 4))))
    return out


def _truth_scalars(rng: np.random.Generator) -> dict:
    return dict(shape=float(np.round(rng.uniform(4.5, 7.5), 2)),
                combination_cost_ratio=float(np.round(rng.uniform(1.25, 1.40), 4)),
                combination_qaly=float(np.round(rng.uniform(0.15, 0.30), 4)),
                response_standard=float(np.round(rng.uniform(0.40, 0.50), 3)),
                response_combination_gain=float(np.round(rng.uniform(0.12, 0.20), 3)))


def _drg_effects(codes, weights, profiles) -> tuple[float, np.ndarray]:
    """Intercept and DRG effects so that a typical case of each group costs about BASE_COST x weight."""
    raw = np.array([math.log(w) - B_LOS * p["los"] - B_AGE * p["age"][0] - B_COM * mean_comorbidity(p["age"][0])
                    for w, p in zip(weights, profiles)])
    intercept = round(math.log(BASE_COST) + raw[0], 6)
    return intercept, np.round(raw - raw[0], 6)


def generate(n_hospitals: int, rows: int, seed: int, dictionary: Dictionary | str | Path | None = None
             ) -> tuple[dict[str, pd.DataFrame], dict]:
    """Synthetic hospitals: ``({hospital_id: DataFrame}, truth)``.

    ``rows`` is the mean number of records per hospital (each hospital gets
    70-130 % of it, fixed by the seed). ``dictionary`` (a `Dictionary` or a
    folder; default: the project's) supplies the DRG list and weights and the
    column order; it must list the codes synth uses.
    """
    n_hospitals, rows, seed = _check_args(n_hospitals, rows, seed)
    if not isinstance(dictionary, Dictionary):
        dictionary = Dictionary.load(dictionary)
    columns = _check_dictionary(dictionary)
    codes, weights, profiles = _drg_table(dictionary)
    intercept, drg_eff = _drg_effects(codes, weights, profiles)
    cohort_drgs = [c for c in COHORT_DRGS if c in codes]
    ss = np.random.SeedSequence(seed)
    s_setup, s_hosp = ss.spawn(2)
    rng = np.random.default_rng(s_setup)
    hospitals = _hospitals(n_hospitals, rows, rng)
    scal = _truth_scalars(rng)
    coef_comb = round(math.log(scal["combination_cost_ratio"]), 6)
    payer_codes = ["uebmi", "urrbmi", "self_pay", "commercial"]
    ctx = dict(codes=codes, weights=weights, profiles=profiles, drg_effects=drg_eff, cohort_drgs=cohort_drgs,
               complicated=np.array([c.endswith("21") and p["kind"] == "M" for c, p in zip(codes, profiles)]),
               truth_scalars=scal, coef={"Intercept": intercept, "combination": coef_comb},
               payer_codes=payer_codes,
               payer={"east": np.array([0.50, 0.38, 0.07, 0.05]), "central": np.array([0.38, 0.50, 0.09, 0.03]),
                      "west": np.array([0.30, 0.58, 0.10, 0.02])})
    frames, stats = {}, {}
    for h, s in zip(hospitals, s_hosp.spawn(n_hospitals)):
        df, st = one_hospital(h, ctx, np.random.default_rng(s))
        frames[h["hospital_id"]] = df[columns]
        stats[h["hospital_id"]] = st
    truth = truth_document(n_hospitals, rows, seed, dictionary, codes, weights, intercept, drg_eff, coef_comb, scal,
                   hospitals, stats, cohort_drgs)
    return frames, truth


def add_derived_columns(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with the columns truth['formula'] uses: ``year_c`` and ``combination``."""
    out = df.copy()
    out["year_c"] = pd.to_datetime(out["discharge_date"]).dt.year.astype("int64") - BASE_YEAR
    if "strategy" in out.columns:
        out["combination"] = (out["strategy"].astype(object) == "combination").astype("int64")
    return out


# --- writing ------------------------------------------------------------------------------
def _write_frame(df: pd.DataFrame, path: Path, fmt: str) -> None:
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    if fmt == "csv":
        # Arrow's writer is ~10x faster than DataFrame.to_csv; values never hold a comma or quote
        import pyarrow.csv as pacsv

        with open(path, "wb") as fh:
            fh.write((",".join(df.columns) + "\n").encode("utf-8"))
            try:
                pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False, quoting_style="none"))
            except pa.ArrowInvalid:  # a value needs quoting (a --dictionary's odd code): let pandas quote it
                fh.seek(0)
                fh.truncate()
                df.to_csv(fh, index=False, encoding="utf-8", lineterminator="\n", na_rep="")
        return
    import pyarrow.parquet as pq

    for name in ("admission_date", "discharge_date"):
        if name in table.column_names:
            i = table.column_names.index(name)
            dates = pa.array(pd.to_datetime(df[name]).dt.date, type=pa.date32())
            table = table.set_column(i, name, dates)
    pq.write_table(table, path)


def _previous_outputs(out_dir: Path) -> list[Path]:
    """Files an earlier synth run listed in its truth.json (so --force can remove stale hospitals)."""
    tj = out_dir / "truth.json"
    try:
        names = json.loads(tj.read_text(encoding="utf-8")).get("files") or []
    except (OSError, ValueError, AttributeError):
        return []
    return [out_dir / n for n in names if isinstance(n, str) and "/" not in n and "\\" not in n]


def write(out_dir: str | Path, n_hospitals: int, rows: int, seed: int, fmt: str = "csv", *,
          force: bool = False, dictionary: Dictionary | str | Path | None = None) -> list[Path]:
    """Generate and write ``H01.<fmt> ...`` and ``truth.json`` into ``out_dir``; return their paths.

    Refuses a non-empty ``out_dir`` unless ``force`` (then it overwrites the
    files it writes and removes the hospital files an earlier synth run listed
    in its truth.json; other files are left alone). Files are written to a
    temporary folder first and moved in only when all are complete.
    """
    if fmt not in FORMATS:
        raise UsageError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise UsageError(f"{out_dir}: folder is not empty (use --force to overwrite synth output there)")
    frames, truth = generate(n_hospitals, rows, seed, dictionary=dictionary)
    names = [f"{hid}.{fmt}" for hid in frames] + ["truth.json"]
    truth["files"] = names[:-1]
    truth["format"] = fmt
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{out_dir}: cannot create folder: {exc.strerror or exc}") from None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".fedcost-synth-", dir=out_dir))
    except OSError as exc:
        raise UsageError(f"{out_dir}: cannot write there: {exc.strerror or exc}") from None
    try:
        for hid, df in frames.items():
            _write_frame(df, tmp / f"{hid}.{fmt}", fmt)
        (tmp / "truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        stale = [p for p in _previous_outputs(out_dir) if p.name not in names and p.is_file()] if force else []
        for name in names:
            os.replace(tmp / name, out_dir / name)
        for p in stale:
            p.unlink()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return [out_dir / n for n in names]
