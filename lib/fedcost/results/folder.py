"""The results folder: one Parquet and one CSV file per table, ``results.json`` and ``manifest.json``.

Written atomically (a temporary folder moved into place): a failed write
leaves the previous folder as it was.

Tables (only those the plan's analyses produce are written); every table
from a kind that can appear more than once carries an ``analysis`` column:

==================  ===========================================================
kpi                 headline indicators: metric, value, unit, analysis, description
status              analysis, kind, status, rounds, reason
descriptive_<name>  one per descriptive analysis: grouping columns, n, hospitals,
                    cost_sum, cost_mean, cost_sd, los_mean, los_sd, share_*,
                    cost_median(+_accuracy), cost_p90(+_accuracy), suppressed, suppression
glm_coefficients    analysis, term, coef, se, z, p_value, ci_lower, ci_upper, exp_coef
models              analysis, formula, family, link, n, hospitals, dispersion,
                    deviance, iterations, converged
funnel              analysis, hospital, n, observed_mean, expected_mean, oe, se,
                    oe_lower95, oe_upper95, precision, z, z_adjusted, limit95_lower,
                    limit95_upper, limit998_lower, limit998_upper, funnel_flag
funnel_curve        analysis, precision, lower95, upper95, lower998, upper998
hospital_costs      analysis, hospital, n, per_case_cost, cmi, cost_per_weighted_case,
                    cost_coefficient, cost_coefficient_flag, adjusted_coefficient,
                    adjusted_coefficient_flag
drg_weights         analysis, <group>, n, hospitals, mean_cost, trim_lower, trim_upper,
                    trim_bound_accuracy, n_trimmed, trimmed_mean, relative_weight,
                    suppressed, suppression
trends              analysis, group_column, group, period, n, hospitals, per_case_cost,
                    growth, yoy_growth, historical_mean, historical_ratio, drug_share,
                    consumable_share, suppressed
alerts              analysis, group_column, group, period, indicator, value, threshold,
                    level, message
spc                 analysis, group_column, group, period, value, centre, moving_range,
                    mr_bar, lcl, ucl, beyond_limits, run_signal
payment_gap         analysis, <group>, n, hospitals, payment_standard, mean_cost, gap,
                    gap_ratio, overspend_cases, overspend_rate, overspend_amount,
                    payment_total, cost_total, overspend_ratio, surplus, suppressed, suppression
cea_summary         analysis, strategy, role, n, mean_cost, mean_effect, sd_cost, sd_effect,
                    cov_cost_effect, se_mean_cost, se_mean_effect, hospitals
cea_incremental     analysis, intervention, comparator, delta_cost, delta_effect,
                    se_delta_cost, se_delta_effect, cov_delta, icer, quadrant, decision,
                    wtp, wtp_basis, inmb, se_inmb, inmb_lower95, inmb_upper95,
                    prob_cost_effective_psa, prob_cost_effective_normal, n_draws, seed
ceac                analysis, wtp, probability_psa, probability_normal, inmb
ce_plane            analysis, draw, delta_cost, delta_effect
==================  ===========================================================
"""
from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from fedcost import __version__
from fedcost.files import json_safe, replace_folder

RESULTS, MANIFEST = "results.json", "manifest.json"


def write_folder(out_dir: str | Path, tables: dict[str, pd.DataFrame], descriptions: dict[str, str],
                 doc: dict) -> Path:
    """Write the tables, ``results.json`` (``doc``) and ``manifest.json`` into ``out_dir``, atomically."""
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        manifest = {"created": doc["run"].get("created"), "fedcost_version": __version__,
                    "results": RESULTS, "tables": {}}
        for name, df in tables.items():
            df = _counts_as_integers(df.reset_index(drop=True))
            df.to_csv(tmp / f"{name}.csv", index=False)
            _to_parquet(df, tmp / f"{name}.parquet")
            manifest["tables"][name] = {"description": descriptions.get(name, ""), "csv": f"{name}.csv",
                                        "parquet": f"{name}.parquet", "rows": int(len(df)),
                                        "columns": [str(c) for c in df.columns]}
        (tmp / RESULTS).write_text(json.dumps(json_safe(doc), indent=2, ensure_ascii=False), encoding="utf-8")
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        replace_folder(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


COUNT_COLUMNS = ("n", "hospitals", "n_trimmed", "overspend_cases", "rounds", "draw", "n_draws", "seed")


def _counts_as_integers(df: pd.DataFrame) -> pd.DataFrame:
    """Counts as nullable integers (suppressed cells leave them missing, not float)."""
    for c in COUNT_COLUMNS:
        if c in df.columns:
            df[c] = pd.to_numeric(df[c], errors="coerce").round().astype("Int64")
    return df


def _to_parquet(df: pd.DataFrame, path: Path) -> None:
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object:
            vals = [v for v in df[c] if v is not None and not (isinstance(v, float) and math.isnan(v))]
            if vals and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                            for v in vals):
                df[c] = pd.to_numeric(df[c], errors="coerce")
            elif vals and all(isinstance(v, (bool, np.bool_)) for v in vals):
                df[c] = df[c].astype("boolean")
            else:
                df[c] = df[c].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    df.to_parquet(path, index=False)


def read_tables(out_dir: str | Path, fmt: str = "parquet") -> dict[str, pd.DataFrame]:
    """{table: DataFrame} of a results folder (Parquet by default, or 'csv')."""
    out_dir = Path(out_dir)
    manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    out = {}
    for name, info in manifest["tables"].items():
        if fmt == "csv":
            out[name] = pd.read_csv(out_dir / info["csv"], keep_default_na=True, dtype={"period": str, "group": str})
        else:
            out[name] = pd.read_parquet(out_dir / info["parquet"])
    return out


def read_results(out_dir: str | Path) -> dict:
    return json.loads((Path(out_dir) / RESULTS).read_text(encoding="utf-8"))
