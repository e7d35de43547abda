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

Example (a one-machine federation of hospital files, with throw-away certificates):
  fedcost run plans/standard.toml --data out/H01.csv out/H02.csv out/H03.csv --out results/

Example (a running federation: the hospitals answer from their own hosts):
  fedcost run plans/standard.toml --coordinator coord.example.org:9092 --ca ca.crt \
      --hospitals 5 --out results/

Exit codes: 0 written (analyses withheld by the disclosure rules are listed
in status.csv); 1 bad input or the federation failed; 2 usage error."""


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="run a study plan and write tidy result tables",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("plan", metavar="PLAN", help="study plan (TOML)")
    add_federation_args(p)
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


def add_federation_args(p) -> None:
    """Where the study runs: hospital files (a one-machine federation) or a running coordinator."""
    p.add_argument("--data", nargs="+", metavar="PATH", help="one data file per hospital (one-machine federation)")
    p.add_argument("--coordinator", metavar="HOST:PORT",
                   help="submit to a running federation (`fedcost coordinator start`) instead of --data")
    p.add_argument("--ca", metavar="FILE", help="with --coordinator: the federation's CA certificate")
    p.add_argument("--hospitals", type=int, default=3, metavar="N",
                   help="with --coordinator: hospitals that must be connected before the study starts (default 3)")
    p.add_argument("--round-timeout", type=float, default=120.0, metavar="S",
                   help="with --coordinator: seconds a round waits before going on without silent hospitals")
    p.add_argument("--insecure", action="store_true",
                   help="with --coordinator: no TLS (only for a federation started with --insecure)")
    p.add_argument("--sign-key", metavar="FILE",
                   help="with --coordinator: your researcher.key (`fedcost researcher init`); hospitals answer "
                        "only studies signed by a key their policy trusts")
    p.add_argument("--participants", metavar="H01,H02,...",
                   help="with --sign-key: the hospitals the signed study is for (default: any)")
    p.add_argument("--valid-days", type=float, default=30.0, metavar="DAYS",
                   help="with --sign-key: days until the signed study expires (default 30)")


def run_on_federation(analyses: dict, args, policy, progress, plan_info=None):
    """The study's result: submitted to ``--coordinator``, or run over the ``--data`` files."""
    from fedcost.errors import UsageError
    from fedcost.researcher import run_study, submit_study

    if args.coordinator:
        if args.data:
            raise UsageError("give either --data (a one-machine federation) or --coordinator, not both")
        return submit_study(analyses, args.coordinator, args.ca, hospitals=args.hospitals,
                            dictionary=args.dictionary, policy=policy, workdir=args.workdir, progress=progress,
                            round_timeout=args.round_timeout, insecure=args.insecure, plan_info=plan_info,
                            sign_key=args.sign_key, valid_days=args.valid_days,
                            participants=[h.strip() for h in args.participants.split(",") if h.strip()]
                            if args.participants else None)
    if not args.data:
        raise UsageError("give --data PATH ... (one file per hospital) or --coordinator HOST:PORT")
    return run_study(analyses, args.data, engine=args.engine, dictionary=args.dictionary, policy=policy,
                     keys_dir=args.keys, workdir=args.workdir, progress=progress, encoding=args.encoding,
                     plan_info=plan_info)


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
        elif kind == "dropout":
            print(f"{', '.join(event.get('hospitals', []))} dropped out in round {event.get('round')}; "
                  f"{event.get('remaining')} hospital(s) remain", file=sys.stderr, flush=True)
        elif kind == "restart":
            print(f"the study starts again on {event.get('hospitals')} hospitals (attempt {event.get('attempt')})",
                  file=sys.stderr, flush=True)
        elif kind == "done":
            print(f"done after {event.get('rounds')} rounds", flush=True)
    return show


def run(args) -> int:
    from fedcost.analyses.plan import load_plan, plan_info
    from fedcost.policy import Policy

    policy = Policy.load(args.policy)
    plan = load_plan(args.plan, policy)
    if not args.quiet:
        where = (f"the federation at {args.coordinator}" if args.coordinator
                 else f"{len(args.data or [])} hospitals, engine {args.engine}")
        print(f"plan {args.plan}: {len(plan)} analyses ({', '.join(plan)}) over {where}", flush=True)
    t0 = time.time()
    study = run_on_federation(plan, args, policy, printer(args.quiet), plan_info(args.plan))
    if not args.quiet and args.engine == "local":  # the in-process engine reports no progress events
        print(f"{study.run['messages']} rounds in {time.time() - t0:.1f} s", flush=True)
    for d in study.run.get("dropouts", []):
        print(f"  dropped out: {d['hospital']} in round {d['round']} ({d['why']})", file=sys.stderr)
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
