"""`fedcost run`: run a study plan over a federation and write tidy result tables."""
from __future__ import annotations

import argparse
import sys
import time

from fedcost import engines

DESCRIPTION = """\
Run every analysis of a study plan (a TOML file, e.g. plans/standard.toml)
concurrently over one federation: each PATH is one hospital's file. Only
CKKS-encrypted sums leave the hospitals; results are released only after the
disclosure rules (small cells suppressed, at least 3 hospitals). Writes to
DIR one CSV and one Parquet file per table, results.json (all results and
run metadata) and manifest.json (the tables, one line each).

Example:
  fedcost run plans/standard.toml --data out/H01.csv out/H02.csv out/H03.csv --out results/

Exit codes: 0 written (analyses withheld by the disclosure rules are listed
in status.csv); 1 bad input or the federation failed; 2 usage error."""


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="run a study plan and write tidy result tables",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("plan", metavar="PLAN", help="study plan (TOML)")
    p.add_argument("--data", nargs="+", required=True, metavar="PATH", help="one data file per hospital")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the tables, results.json, manifest.json")
    p.add_argument("--engine", default=engines.DEFAULT, choices=engines.NAMES,
                   help="deployment (default): real SuperLink + SuperNodes; simulation: Flower's simulation "
                        "engine; local: same messages in one process")
    p.add_argument("--policy", default=None, metavar="FILE", help="policy file (default: policy/policy.yaml)")
    p.add_argument("--dictionary", default=None, metavar="DIR", help="data dictionary folder")
    p.add_argument("--keys", default=None, metavar="DIR", help="folder from `fedcost keys init` (default: fresh keys)")
    p.add_argument("--workdir", default=None, metavar="DIR", help="keep the run folder (logs, caches) here")
    p.add_argument("--encoding", default=None, help="text encoding of CSV files (default: detected)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def printer(quiet: bool):
    def show(event: dict) -> None:
        if quiet:
            return
        kind = event.get("event")
        if kind == "round":
            print(f"round {event.get('round')}: {event.get('running')} analyses running, "
                  f"{event.get('finished')} finished ({event.get('seconds', 0):.1f} s)", flush=True)
        elif kind == "refused":
            print(f"hospital {event.get('hospital')} refused: {event.get('reason')}", file=sys.stderr, flush=True)
        elif kind == "done":
            print(f"done after {event.get('rounds')} rounds", flush=True)
    return show


def run(args) -> int:
    from fedcost.analyses.plan import load_plan, plan_info
    from fedcost.researcher import run_study
    from fedcost.policy import Policy

    policy = Policy.load(args.policy)
    plan = load_plan(args.plan, policy)
    if not args.quiet:
        print(f"plan {args.plan}: {len(plan)} analyses ({', '.join(plan)}) over {len(args.data)} hospitals, "
              f"engine {args.engine}", flush=True)
    t0 = time.time()
    study = run_study(plan, args.data, engine=args.engine, dictionary=args.dictionary, policy=policy,
                      keys_dir=args.keys, workdir=args.workdir, progress=printer(args.quiet),
                      encoding=args.encoding, plan_info=plan_info(args.plan))
    if not args.quiet and args.engine == "local":  # the in-process engine reports no progress events
        print(f"{study.run['messages']} rounds in {time.time() - t0:.1f} s", flush=True)
    out = study.write(args.out)
    for name in plan:
        a = study.analyses[name]
        line = f"  {name}: {a['status']} ({a.get('rounds')} rounds)"
        if a["status"] != "released":
            line += f": {a.get('reason', '')}"
        if not args.quiet or a["status"] != "released":
            print(line, file=sys.stdout if a["status"] == "released" else sys.stderr)
    if not args.quiet:
        print(f"wrote {out}")
    return 0
