"""Tidy result tables of a study plan: what notebooks and reports read.

`write_tables(study, plan, out_dir)` writes, atomically (a temporary folder
moved into place), one Parquet and one CSV file per table, ``results.json``
(every released result with the run metadata) and ``manifest.json`` (each
table with a one-line description, its files and columns).
`read_tables(out_dir)` returns {table name: DataFrame}.

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
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from fedcost import __version__
from fedcost.analyses import common as cm
from fedcost.files import json_safe, replace_folder

DESCRIPTIONS = {
    "kpi": "Headline indicators (metric, value, unit) drawn from the other tables",
    "status": "Each analysis: released, withheld by the disclosure rules, or failed, with rounds used",
    "glm_coefficients": "Cost model coefficients (log scale for log links) with SE, z, p and 95% CI",
    "models": "Fitted cost models: formula, family, n, hospitals, dispersion, deviance, convergence",
    "funnel": "Per hospital (pseudonymised) observed/expected cost ratio with 95% CI and funnel limits",
    "funnel_curve": "Funnel-plot control limits (95%, 99.8%, over-dispersion adjusted) against precision",
    "hospital_costs": "Per hospital (pseudonymised): per-case cost, case-mix index, cost coefficient and band flags",
    "drg_weights": "DRG relative weights from trimmed mean costs (small groups suppressed)",
    "trends": "Per-case cost and growth by group and period, with historical mean and cost shares",
    "alerts": "Early-warning alerts: growth (yellow/red), historical mean, cost shares, SPC signals",
    "spc": "XmR control chart points: value, centre line, limits, signals",
    "payment_gap": "DRG payment standard against mean cost: gap, overspend rate and ratio (pooled)",
    "cea_summary": "Cost-effectiveness: per strategy arm mean cost and QALYs with spread",
    "cea_incremental": "Incremental cost and QALYs, ICER, dominance, INMB at the willingness to pay",
    "ceac": "Cost-effectiveness acceptability curve over willingness-to-pay values",
    "ce_plane": "Probabilistic sensitivity analysis draws of incremental cost and QALYs",
}


def _frame(columns: dict, **constant) -> pd.DataFrame:
    df = pd.DataFrame(columns)
    for k, v in reversed(list(constant.items())):
        df.insert(0, k, v)
    return df


def _label(labels: list, value):
    if isinstance(value, str) and value.startswith("site:") and labels:
        i = int(value[5:])
        return labels[i] if i < len(labels) and labels[i] else value
    return value


def build_tables(results: dict, plan: dict, statuses: dict | None = None, site_labels=None
                 ) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Tidy tables from released results {name: result} of the plan's analyses {name: Analysis}."""
    tables: dict[str, list[pd.DataFrame]] = {}
    descr = dict(DESCRIPTIONS)

    def add(name, df):
        tables.setdefault(name, []).append(df)

    kpi: list[dict] = []

    def k(metric, value, unit, analysis, description=""):
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return
        kpi.append({"metric": metric, "value": float(value), "unit": unit, "analysis": analysis,
                    "description": description})

    for name, analysis in plan.items():
        r = results.get(name)
        if r is None:
            continue
        kind = analysis.kind
        if kind == "descriptive":
            tname = name if name.startswith("descriptive") else f"descriptive_{name}"
            add(tname, pd.DataFrame(r["table"]))
            by = r["by"] or ["all admissions"]
            descr[tname] = f"Descriptive cost table by {' x '.join(by)} (margins 'All'; small cells suppressed)"
            if not r["by"]:
                t = pd.DataFrame(r["table"]).iloc[-1]
                k("admissions", t["n"], "cases", name, "records in the federation")
                k("hospitals", t["hospitals"], "hospitals", name, "hospitals contributing")
                k("per_case_cost", t["cost_mean"], "yuan", name, "mean total cost per admission")
                for col, unit, d in (("cost_median", "yuan", "median cost per admission"),
                                     ("cost_p90", "yuan", "90th percentile of cost"),
                                     ("los_mean", "days", "mean length of stay"),
                                     ("share_drugs", "share", "drug share of total cost"),
                                     ("share_consumables", "share", "consumables share of total cost"),
                                     ("share_exams", "share", "examinations share of total cost")):
                    if col in t:
                        k(col, t[col], unit, name, d)
        elif kind == "glm" or kind == "benchmark":
            model = r if kind == "glm" else r["model"]
            coef = pd.Series(model["coef"])
            se = pd.Series(model["se"])[coef.index]
            z = coef / se
            add("glm_coefficients", _frame({"term": coef.index, "coef": coef.values, "se": se.values, "z": z.values,
                                            "p_value": 2 * sps.norm.sf(np.abs(z.values)),
                                            "ci_lower": (coef - 1.959963984540054 * se).values,
                                            "ci_upper": (coef + 1.959963984540054 * se).values,
                                            "exp_coef": np.exp(coef.values)}, analysis=name))
            add("models", pd.DataFrame([{"analysis": name, "formula": model["formula"], "family": model["family"],
                                         "link": model["link"], "n": model["n"], "hospitals": model["hospitals"],
                                         "dispersion": model["dispersion"], "deviance": model["deviance"],
                                         "iterations": model.get("iterations"), "converged": model["converged"]}]))
            if kind == "benchmark":
                h = pd.DataFrame(r["hospitals_table"])
                h["hospital"] = [_label(site_labels, v) for v in h["hospital"]]
                fcols = ["hospital", "n", "observed_mean", "expected_mean", "oe", "se", "oe_lower95", "oe_upper95",
                         "precision", "z", "z_adjusted", "limit95_lower", "limit95_upper", "limit998_lower",
                         "limit998_upper", "funnel_flag"]
                add("funnel", _frame(h[fcols].to_dict("list"), analysis=name))
                add("funnel_curve", _frame(r["funnel_curve"], analysis=name))
                ccols = ["hospital", "n", "per_case_cost", "cmi", "cost_per_weighted_case", "cost_coefficient",
                         "cost_coefficient_flag", "adjusted_coefficient", "adjusted_coefficient_flag"]
                add("hospital_costs", _frame(h[ccols].to_dict("list"), analysis=name))
                add("drg_weights", _frame(r["drg_weights"], analysis=name))
                cc = r["cost_coefficient"]
                k("cost_cv_across_hospitals", cc["cv_across_hospitals"], "ratio", name,
                  "coefficient of variation of hospitals' per-case cost")
                k("hospitals_outside_band", cc["outside_band"], "hospitals", name,
                  f"hospitals with cost coefficient outside {cc['band'][0]}-{cc['band'][1]}")
                k("funnel_outliers", int((h["funnel_flag"] != "within").sum()), "hospitals", name,
                  "hospitals outside the 95% funnel limits (over-dispersion adjusted)")
                k("overdispersion_phi", r["funnel"]["phi_hat"], "ratio", name, "winsorised over-dispersion estimate")
        elif kind == "warning":
            for part, tname in (("trend", "trends"), ("alerts", "alerts"), ("spc", "spc")):
                add(tname, _frame(r[part], analysis=name))
            a = pd.DataFrame(r["alerts"])
            if len(a):
                k(f"red_alerts_{name}", int((a["level"] == "red").sum()), "alerts", name, "red growth alerts")
                k(f"yellow_alerts_{name}", int((a["level"] == "yellow").sum()), "alerts", name, "yellow growth alerts")
            t = pd.DataFrame(r["trend"])
            if not r["group"] and len(t):
                last = t.dropna(subset=["growth"]).tail(1)
                if len(last):
                    k("latest_growth", last["growth"].iloc[0], "share", name,
                      f"per-case cost growth in {last['period'].iloc[0]} over the previous period")
        elif kind == "payment":
            t = pd.DataFrame(r["table"])
            add("payment_gap", _frame(t.to_dict("list"), analysis=name))
            tot = t.iloc[-1]
            k("overspend_rate", tot["overspend_rate"], "share", name, "share of cases costing more than the standard")
            k("overspend_ratio", tot["overspend_ratio"], "share", name, "excess cost / payments")
            k("payment_gap_per_case", tot["gap"], "yuan", name, "mean standard minus mean cost per case")
            k("payment_surplus", tot["surplus"], "yuan", name, "payments minus costs, all covered cases")
        elif kind == "cea":
            add("cea_summary", _frame(r["arms"], analysis=name))
            add("cea_incremental", pd.DataFrame([{"analysis": name, **r["incremental"]}]))
            add("ceac", _frame(r["ceac"], analysis=name))
            add("ce_plane", _frame(r["ce_plane"], analysis=name))
            inc = r["incremental"]
            k("icer", inc["icer"], "yuan per QALY", name, f"{inc['intervention']} vs {inc['comparator']}: {inc['decision']}")
            k("inmb", inc["inmb"], "yuan", name, f"incremental net monetary benefit at {inc['wtp']:,.0f} yuan/QALY")
            k("prob_cost_effective", inc["prob_cost_effective_psa"], "probability", name,
              "share of PSA draws with positive INMB at the willingness to pay")
    out = {name: pd.concat(dfs, ignore_index=True) if len(dfs) > 1 else dfs[0] for name, dfs in tables.items()}
    out["kpi"] = pd.DataFrame(kpi, columns=["metric", "value", "unit", "analysis", "description"])
    if statuses is not None:
        out["status"] = pd.DataFrame([{"analysis": n, "kind": plan[n].kind, **s} for n, s in statuses.items()],
                                     columns=["analysis", "kind", "status", "rounds", "reason"])
    return out, {n: descr.get(n, "") for n in out}


def _study_parts(study, plan):
    results, statuses = {}, {}
    for name in plan:
        a = study.output["analyses"].get(name, {})
        statuses[name] = {"status": a.get("status", "missing"), "rounds": a.get("rounds"),
                          "reason": a.get("reason", "")}
        if a.get("status") == "released":
            results[name] = a["result"]
    return results, statuses


def write_tables(study, plan: dict, out_dir: str | Path, policy=None, plan_path=None, extra: dict | None = None) -> Path:
    """Write the tidy tables, results.json and manifest.json of a finished study (atomically)."""
    from fedcost.policy import Policy

    results, statuses = _study_parts(study, plan)
    tables, descr = build_tables(results, plan, statuses, study.output.get("sites"))
    policy = policy if isinstance(policy, Policy) or policy is None else Policy.load(policy)
    meta = study.metadata()
    run = {
        **meta,
        "rounds": {n: s["rounds"] for n, s in statuses.items()},
        "total_rounds": study.output.get("messages"),
        "max_analysis_rounds": study.output.get("rounds"),
        "hospitals": study.output.get("hospitals"),
        "seconds": study.output.get("seconds"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "fedcost_version": __version__,
        "policy": ({"path": str(policy.path) if policy.path else None, "version": policy.raw.get("version"),
                    "disclosure": policy.disclosure, "alerts": policy.section("alerts"),
                    "benchmark": policy.section("benchmark"),
                    "cost_effectiveness": policy.section("cost_effectiveness")} if policy else None),
    }
    doc = {"run": run, "plan": extra or {}, "specs": {n: a.spec() for n, a in plan.items()},
           "analyses": {n: {**statuses[n], "kind": plan[n].kind, "result": results.get(n)} for n in plan}}
    return _write_dir(out_dir, tables, descr, doc)


def _write_dir(out_dir, tables: dict, descr: dict, doc: dict) -> Path:
    out_dir = Path(out_dir).resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        manifest = {"created": doc["run"].get("created"), "fedcost_version": __version__,
                    "results": "results.json", "tables": {}}
        for name, df in tables.items():
            df = _counts_as_integers(df.reset_index(drop=True))
            df.to_csv(tmp / f"{name}.csv", index=False)
            _to_parquet(df, tmp / f"{name}.parquet")
            manifest["tables"][name] = {"description": descr.get(name, ""), "csv": f"{name}.csv",
                                        "parquet": f"{name}.parquet", "rows": int(len(df)),
                                        "columns": [str(c) for c in df.columns]}
        (tmp / "results.json").write_text(json.dumps(json_safe(doc), indent=2, ensure_ascii=False), encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
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
    """{table: DataFrame} of a results folder written by `write_tables` (Parquet by default, or 'csv')."""
    out_dir = Path(out_dir)
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    out = {}
    for name, info in manifest["tables"].items():
        if fmt == "csv":
            out[name] = pd.read_csv(out_dir / info["csv"], keep_default_na=True, dtype={"period": str, "group": str})
        else:
            out[name] = pd.read_parquet(out_dir / info["parquet"])
    return out


def read_results(out_dir: str | Path) -> dict:
    return json.loads((Path(out_dir) / "results.json").read_text(encoding="utf-8"))
