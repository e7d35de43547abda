"""`fedcost synth`: write synthetic hospital files and the truth that generated them."""
from __future__ import annotations

import argparse
import json

from fedcost.errors import UsageError

DESCRIPTION = """\
Write synthetic inpatient cost records, one file per hospital (DIR/H01.csv,
DIR/H02.csv, ...), and DIR/truth.json with the generating model: the Gamma
(log link) cost model's true coefficients under statsmodels names and the
formula that recovers them (it uses two derived columns: year_c, the
discharge year - 2023, and combination, 1 for the combination arm), the
pseudo-true coefficients of the dictionary-only case-mix formula
cost_total ~ age + los + comorbidity_score + C(drg_code) + C(hospital_level),
each hospital's efficiency effect and yearly cost trend, the readmission
model, and the combination-therapy cohort's true incremental cost and QALYs.

Every column of the data dictionary is filled; discharges span 2022-2024;
cost components sum to the total to the cent. Hospitals get 70-130% of
--rows each. The same --seed gives byte-identical files.

DIR must be empty or not exist. With --force, synth writes into a non-empty
DIR: it overwrites its own files, removes hospital files an earlier synth
run listed in DIR/truth.json, and leaves any other file alone. Files are
written to a temporary folder first, so a failed run leaves DIR as it was."""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "synth", help="write synthetic hospital cost records and their truth.json",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hospitals", type=int, default=3, metavar="N",
                   help="number of hospitals (1-999; default 3)")
    p.add_argument("--rows", type=int, default=2000, metavar="R",
                   help="mean records per hospital (each gets 70-130%% of it; default 2000)")
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed, >= 0 (default 1)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing)")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv",
                   help="file format (default csv: UTF-8, ISO dates, no index column)")
    p.add_argument("--dictionary", metavar="DIR", default=None,
                   help="data dictionary folder (default: the project's data_dictionary/); it must list the "
                        "codes synth uses, and its drg_code list (with a weight column) sets the DRG groups")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty DIR (overwrites synth's own files only)")
    p.set_defaults(func=run)


def run(args) -> int:
    from fedcost.data import synth  # numpy/pandas only when the command runs
    from fedcost.data.dictionary import Dictionary

    if not 1 <= args.hospitals <= synth.MAX_HOSPITALS:
        raise UsageError(f"--hospitals must be between 1 and {synth.MAX_HOSPITALS}, got {args.hospitals}")
    if not 1 <= args.rows <= synth.MAX_ROWS:
        raise UsageError(f"--rows must be between 1 and {synth.MAX_ROWS:,}, got {args.rows}")
    if args.seed < 0:
        raise UsageError(f"--seed must be 0 or more, got {args.seed}")
    dictionary = None
    if args.dictionary is not None:
        from pathlib import Path
        if not Path(args.dictionary).is_dir():
            raise UsageError(f"--dictionary {args.dictionary}: no such folder")
        dictionary = Dictionary.load(args.dictionary)
    paths = synth.write(args.out, args.hospitals, args.rows, args.seed, fmt=args.format,
                        force=args.force, dictionary=dictionary)
    truth = json.loads(paths[-1].read_text(encoding="utf-8"))
    total = 0
    for path in paths[:-1]:
        h = truth["hospitals"][path.stem]
        total += h["rows"]
        line = (f"wrote {path}  {h['rows']:>9,} records  {h['hospital_level']:<9} {h['region']:<7} "
                f"per-case growth {h['per_case_growth']:+.1%}/yr")
        print(line + (f" ({h['alert']} alert)" if h["alert"] != "none" else ""))
    print(f"wrote {paths[-1]}  (true coefficients; formula: {truth['formula']})")
    print(f"{len(paths) - 1} hospitals, {total:,} records, seed {truth['seed']}")
    return 0
