"""`fedcost demo`: the main job from a fresh clone, end to end, with progress.

Synthetic hospitals -> validation -> key ceremony -> a real local federation
(SuperLink and one SuperNode per hospital) running the standard study plan ->
tidy result tables -> policy reports in HTML and PDF, English and Chinese.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fedcost import engines

DESCRIPTION = """\
Run the whole main job on synthetic data and print where everything went:

  1. synthetic hospitals         WORK/data/H01.csv ... and truth.json
  2. validation                  one data-quality line per hospital
  3. key ceremony                WORK/keys (the coordinator gets the public context only)
  4. federation                  the study plan over a real local Flower federation
                                 (deployment engine: SuperLink + SuperNodes on 127.0.0.1)
  5. result tables               WORK/results (CSV, Parquet, results.json)
  6. reports                     OUT/index.html and one HTML + PDF per report and language

Defaults: 6 hospitals x 2000 records, seed 2024, WORK=demo_output,
OUT=reports/output, languages en and zh. Takes a few minutes on 2 cores."""


def register(subparsers) -> None:
    from fedcost.paths import PROJECT_ROOT

    p = subparsers.add_parser("demo", help="synthetic hospitals -> federation -> policy reports (the main job)",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hospitals", type=int, default=6, metavar="N", help="number of hospitals (>= 3; default 6)")
    p.add_argument("--rows", type=int, default=2000, metavar="R", help="mean records per hospital (default 2000)")
    p.add_argument("--seed", type=int, default=2024, help="random seed (default 2024)")
    p.add_argument("--engine", default=engines.DEFAULT, choices=engines.NAMES,
                   help="federation engine (default deployment: real SuperLink and SuperNodes)")
    p.add_argument("--plan", default=str(PROJECT_ROOT / "plans" / "standard.toml"), help="study plan")
    p.add_argument("--work", default="demo_output", metavar="DIR", help="data, keys, results (default demo_output)")
    p.add_argument("--out", default=str(PROJECT_ROOT / "reports" / "output"), metavar="DIR",
                   help="rendered reports (default reports/output)")
    p.add_argument("--lang", nargs="+", default=["en", "zh"], choices=("en", "zh"), help="report languages")
    p.add_argument("--no-reports", action="store_true", help="stop after the result tables")
    p.set_defaults(func=run)


def _step(k: int, n: int, text: str) -> float:
    print(f"\n[{k}/{n}] {text}", flush=True)
    return time.monotonic()


def run(args) -> int:
    from fedcost.analyses.plan import load_plan, plan_info
    from fedcost.cli.run import printer
    from fedcost.federation.crypto import init_keys
    from fedcost.data.dictionary import Dictionary
    from fedcost.errors import FedcostError, UsageError
    from fedcost.researcher import run_study
    from fedcost.policy import Policy
    from fedcost.data.synth import write
    from fedcost.data.validation import validate_file

    if args.hospitals < 3:
        raise UsageError("--hospitals must be at least 3 (the disclosure rules need 3 contributing hospitals)")
    steps = 6 if not args.no_reports else 5
    work = Path(args.work).resolve()
    t_all = time.monotonic()
    dictionary, policy = Dictionary.load(), Policy.load()
    font_warning = None
    if not args.no_reports:  # before the long steps: a missing font must not cost the work done
        from fedcost.reporting.fonts import ensure_languages

        args.lang, font_warning = ensure_languages(args.lang, say=lambda m: print(f"[fedcost] {m}", flush=True))
        if font_warning:
            print(f"[fedcost] warning: {font_warning}", file=sys.stderr, flush=True)

    t = _step(1, steps, f"synthetic hospitals: {args.hospitals} x ~{args.rows} records (seed {args.seed})")
    files = write(work / "data", args.hospitals, args.rows, args.seed, force=True)
    paths = [f for f in files if f.suffix == ".csv"]
    print(f"      wrote {len(paths)} files to {work / 'data'} ({time.monotonic() - t:.1f} s)")

    t = _step(2, steps, "validation against the data dictionary "
                        f"{dictionary.name} {dictionary.version}")
    for p in paths:
        report = validate_file(p, dictionary)
        if not report.ok:
            raise FedcostError(f"{p} is not valid: {report.problems[:3]}")
        print(f"      {p.name}: {report.n_rows} records valid", flush=True)

    t = _step(3, steps, "key ceremony")
    keys = init_keys(work / "keys", force=True)
    print(f"      hospitals' secret context and coordinator's public context in {work / 'keys'}")
    print(f"      fingerprint {keys['fingerprint']}")

    plan = load_plan(args.plan, policy)
    t = _step(4, steps, f"federation ({args.engine}): plan {Path(args.plan).name}, {len(plan)} analyses "
                        "running concurrently; only CKKS ciphertexts leave the hospitals")
    study = run_study(plan, paths, engine=args.engine, dictionary=dictionary, policy=policy,
                      keys_dir=work / "keys", workdir=work / "run", progress=printer(False),
                      plan_info=plan_info(args.plan))
    run = study.run
    print(f"      {run['max_analysis_rounds']} rounds ({run['messages']} messages) in {time.monotonic() - t:.0f} s; "
          f"coordinator saw only ciphertexts: {not run['privacy']['plaintext_statistics_sent_to_server']}")
    for name, a in study.analyses.items():
        if a["status"] != "released":
            print(f"      {name}: {a['status']}: {a.get('reason', '')}")

    t = _step(5, steps, "result tables")
    results = study.write(work / "results")
    print(f"      {results}")

    if not args.no_reports and args.lang:
        from fedcost.reporting.build import build_reports, params_from_mapping

        t = _step(6, steps, f"policy reports ({', '.join(args.lang)}): papermill notebooks rendered to HTML and PDF")
        params = params_from_mapping({"results_dir": str(work / "results"), "data_dir": str(work / "data"),
                                      "lang": args.lang})
        built = build_reports(params, args.out, progress=lambda m: print(f"      {m}", flush=True))
        print(f"      ({time.monotonic() - t:.0f} s)")

    print(f"\nDone in {time.monotonic() - t_all:.0f} s.")
    print(f"  data and results: {work}")
    print(f"  result tables:    {work / 'results'}")
    if not args.no_reports and args.lang:
        print(f"  reports:          {Path(args.out).resolve() / 'index.html'}")
        for rep in built:
            for fmt in ("html", "pdf"):
                if fmt in rep.files:
                    print(f"                    {rep.files[fmt]}")
    if font_warning:
        print(f"\nwarning: {font_warning}", file=sys.stderr)
    sys.stdout.flush()
    return 0
