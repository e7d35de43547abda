"""`fedcost fit`: one GLM over a local federation of hospital files, written to result.json."""
from __future__ import annotations

import argparse
import sys

from fedcost import engines
from fedcost.cli.run import add_federation_args, printer, run_on_federation

DESCRIPTION = """\
Fit a generalised linear model over a federation: each PATH is one hospital's
file (CSV or Parquet). The default engine starts a real Flower SuperLink and
one SuperNode per hospital on 127.0.0.1, runs the fit (only CKKS-encrypted
sums leave the hospitals; the coordinator holds the public context only),
and tears them down. The result equals a pooled statsmodels GLM on the
concatenated rows; coefficient names are statsmodels' for the same formula.

With --coordinator HOST:PORT --ca FILE the fit is submitted to a running
federation instead, and the hospitals answer from their own hosts.

Example:
  fedcost fit --data out/H01.csv out/H02.csv out/H03.csv \\
      --formula "cost_total ~ age + los + C(drg_code)" --family gamma --out result.json

Exit codes: 0 fitted and released; 1 bad input, refused or withheld by the
disclosure rules (the reason is printed); 2 usage error."""


def register(subparsers) -> None:
    p = subparsers.add_parser("fit", help="fit a GLM over a local federation of hospital files",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_federation_args(p)
    p.add_argument("--formula", required=True, metavar="F", help="statsmodels/patsy formula, e.g. 'cost_total ~ age + C(drg_code)'")
    p.add_argument("--family", required=True, choices=("gaussian", "gamma", "poisson", "binomial"))
    p.add_argument("--link", default=None, help="link function (default: identity, log, log, logit by family)")
    p.add_argument("--weights", default=None, metavar="COL", help="column of prior weights (statsmodels var_weights)")
    p.add_argument("--offset", default=None, metavar="COL", help="column used as offset")
    p.add_argument("--robust", action="store_true",
                   help="always add hospital-clustered standard errors (costs one more round for gaussian)")
    p.add_argument("--dictionary", default=None, metavar="DIR", help="data dictionary folder (default: data_dictionary/)")
    p.add_argument("--policy", default=None, metavar="FILE", help="policy file with the disclosure rules (default: policy/policy.yaml)")
    p.add_argument("--keys", default=None, metavar="DIR",
                   help="folder from `fedcost keys init` (default: a fresh key ceremony for this local run)")
    p.add_argument("--engine", default=engines.DEFAULT, choices=engines.NAMES,
                   help="deployment (default): real SuperLink + SuperNodes; simulation: Flower's simulation "
                        "engine; local: same messages in one process, for development")
    p.add_argument("--encoding", default=None, help="text encoding of CSV files (default: detected)")
    p.add_argument("--workdir", default=None, metavar="DIR", help="keep the run folder (logs, caches) here")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write result.json")
    p.add_argument("--quiet", action="store_true", help="no progress, no summary")
    p.set_defaults(func=run)


def run(args) -> int:
    from fedcost.errors import FedcostError
    from fedcost.models.glm import GLMResults
    from fedcost.models.irls import GLMAnalysis
    from fedcost.files import write_json

    analysis = GLMAnalysis(args.formula, args.family, args.link, weights=args.weights, offset=args.offset,
                           start="local", robust=True if args.robust else None)
    progress = printer(args.quiet)
    study = run_on_federation({"glm": analysis}, args, args.policy, progress)
    for label, reason in study.run["refusals"].items():
        print(f"hospital {label} refused: {reason}", file=sys.stderr)
    status = study.status("glm")
    if status != "released":
        raise FedcostError(f"nothing released ({status}): {study.analyses['glm'].get('reason', '')}")
    result = study.result_json("glm")
    write_json(args.out, result)
    if not args.quiet:
        print(GLMResults(result).summary())
        print(f"wrote {args.out}")
    return 0
