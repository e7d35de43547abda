"""Bench a: the federated Gamma cost model against pooled statsmodels on the same rows, in one run.

For each case ROWS:HOSPITALS (default 1000000:3, 5000000:5 and, reported only,
1000000:8) it writes synthetic Parquet hospitals, then times

  pooled      statsmodels GLM Gamma(log) on the concatenated rows (the cost of
              centralising, without the transfer: a lower bound for it)
  in-process  fedcost's federated fit with real CKKS, no Flower (engine local)
  deployment  the same on the deployment engine, end to end: SuperLink and
              SuperNodes on 127.0.0.1, TLS and node auth on, workers reading
              their Parquet file, encryption included

and prints each time as a ratio of the pooled time, with the coefficient
agreement max_j |b_fed - b_pooled| / max(|b_pooled|, se) (the contract: 1e-6).
Targets (BENCHMARKS.md): deployment <= 1.0x pooled at 1M rows, <= 0.5x at 5M;
in-process <= 0.25x at 1M.

    .venv/bin/python bench/fit_vs_pooled.py [--case 1000000:3 ...] [--engines local deployment] [--quick]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FORMULA = "cost_total ~ age + los + comorbidity_score + C(drg_code) + C(hospital_level)"
TARGETS = {("deployment", 1_000_000): 1.0, ("deployment", 5_000_000): 0.5, ("local", 1_000_000): 0.25}


def pooled_in_child(paths, folder: Path):
    """``pooled_fit`` in a child process whose address space is capped at 90 % of the available memory.

    statsmodels' formula GLM needed more than 24 GiB at 5M rows x 46 parameters (the kernel's OOM killer
    took the whole bench): in a child a MemoryError is reported as the centralised fit not fitting here.
    Returns (seconds, params, bse, iterations, rows) or None.
    """
    import psutil

    out = folder / "pooled.json"
    limit = int(0.9 * psutil.virtual_memory().available)
    code = (f"import json, resource, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit})); import fit_vs_pooled as b; "
            f"t, res, n = b.pooled_fit({[str(p) for p in paths]!r}); "
            f"json.dump({{'t': t, 'params': res.params.to_dict(), 'bse': res.bse.to_dict(), "
            f"'it': int(res.fit_history['iteration']), 'n': n}}, open({str(out)!r}, 'w'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        why = "out of memory" if "MemoryError" in proc.stderr or proc.returncode < 0 else proc.stderr[-500:]
        return None, f"{why} (address space capped at {limit / 2**30:.1f} GiB)"
    return json.loads(out.read_text()), ""


def pooled_fit(paths):
    import pandas as pd
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    frame = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    frame = frame.dropna(subset=["cost_total", "age", "los", "comorbidity_score", "drg_code", "hospital_level"])
    frame = frame.assign(drg_code=frame["drg_code"].astype(str), hospital_level=frame["hospital_level"].astype(str))
    t = time.perf_counter()
    res = smf.glm(FORMULA, frame, family=sm.families.Gamma(sm.families.links.Log())).fit()
    return time.perf_counter() - t, res, len(frame)


def federated_fit(paths, engine: str, workdir: Path):
    from fedcost.models.irls import GLMAnalysis
    from fedcost.researcher import run_study

    t = time.perf_counter()
    study = run_study({"m": GLMAnalysis(FORMULA, "gamma")}, paths, engine=engine, workdir=workdir)
    took = time.perf_counter() - t
    if study.status("m") != "released":
        raise SystemExit(f"{engine}: the fit was not released: {study.analyses['m'].get('reason')}")
    return took, study


def agreement(result: dict, ref: dict) -> float:
    import numpy as np
    import pandas as pd

    b, params, bse = (pd.Series(x, dtype=float) for x in (result["coef"], ref["params"], ref["bse"]))
    names = [n for n in params.index if n in b.index]
    scale = np.maximum(np.abs(params[names]), bse[names])
    return float((np.abs(b[names] - params[names]) / scale).max())


def run_case(rows: int, hospitals: int, engines, folder: Path) -> dict:
    from fedcost.data.synth import write

    t = time.perf_counter()
    paths = write(folder / "data", hospitals, -(-rows // hospitals), 11, fmt="parquet")
    paths = [p for p in paths if p.suffix == ".parquet"]
    print(f"\n{rows:,} rows in {hospitals} hospitals (Parquet, written in {time.perf_counter() - t:.0f} s)", flush=True)
    ref, why = pooled_in_child(paths, folder)
    if ref is None:
        print(f"  pooled statsmodels   failed: {why}", flush=True)
        out = {"rows": rows, "hospitals": hospitals, "pooled_seconds": None, "pooled_failed": why}
    else:
        print(f"  pooled statsmodels   {ref['t']:7.1f} s  {ref['it']} iterations, "
              f"{len(ref['params'])} parameters, {ref['n']:,} rows used", flush=True)
        out = {"rows": rows, "hospitals": hospitals, "pooled_seconds": ref["t"], "pooled_iterations": ref["it"],
               "parameters": len(ref["params"])}
    for engine in engines:
        took, study = federated_fit(paths, engine, folder / f"run-{engine}")
        res = study.analyses["m"]["result"]
        target = TARGETS.get((engine, rows)) if hospitals <= 5 else None
        if ref is None:
            err = ratio = None
            print(f"  federated {engine:10s} {took:7.1f} s  (no pooled fit to compare"
                  f"{f'; target <= {target}x' if target else ''}); {study.output.get('rounds')} rounds", flush=True)
        else:
            err, ratio = agreement(res, ref), took / ref["t"]
            verdict = "" if target is None else (" PASS" if ratio <= target else " MISS") + f" (target <= {target}x)"
            print(f"  federated {engine:10s} {took:7.1f} s  ratio {ratio:.2f}x pooled{verdict}; "
                  f"{study.output.get('rounds')} rounds, {study.output.get('messages')} messages; "
                  f"coefficients within {err:.1e} of pooled", flush=True)
        out[engine] = {"seconds": took, "ratio": ratio, "target": target, "agreement": err,
                       "rounds": study.output.get("rounds"), "messages": study.output.get("messages")}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", action="append", metavar="ROWS:HOSPITALS",
                    help="rows and hospitals (repeatable; default 1000000:3 5000000:5 1000000:8)")
    ap.add_argument("--engines", nargs="+", default=["local", "deployment"], choices=["local", "deployment"])
    ap.add_argument("--quick", action="store_true", help="one small case, 100000:3")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    cases = args.case or (["100000:3"] if args.quick else ["1000000:3", "5000000:5", "1000000:8"])
    figures = []
    for case in cases:
        rows, hospitals = (int(x) for x in case.split(":"))
        with tempfile.TemporaryDirectory(prefix="fedcost-bench-a-") as tmp:
            figures.append(run_case(rows, hospitals, args.engines, Path(tmp)))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
