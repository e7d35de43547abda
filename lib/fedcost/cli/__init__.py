"""The `fedcost` command line. Each subcommand lives in its own module here
and exposes `register(subparsers)`; this module only dispatches and turns
errors into messages and exit codes (1: bad input, 2: usage), never a traceback.

The top layer: it may import everything, and nothing imports it.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from fedcost import __version__
from fedcost.errors import FedcostError

# subcommand name -> module under fedcost.cli
COMMANDS = {
    "synth": "synth",
    "validate": "validate",
    "dictionary": "dictionary",
    "keys": "keys",
    "fit": "fit",
    "run": "run",
    "report": "report",
    "demo": "demo",
    "audit": "audit",
    "certs": "certs",
    "coordinator": "coordinator",
    "hospital": "hospital",
    "researcher": "researcher",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fedcost",
        description="Federated hospital cost analysis: validate data, fit pooled cost models over an "
                    "encrypted federation, and render policy reports.")
    parser.add_argument("--version", action="version", version=f"fedcost {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in COMMANDS.items():
        try:
            mod = importlib.import_module(f"fedcost.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name == f"fedcost.cli.{module}":
                continue  # command not built yet
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Our matrices are tall and thin (rows x a few dozen columns) and several
    # processes share few cores (SuperNodes, ClientApps): BLAS threads only
    # contend. Measured here: a 15k-row fit 11 s with default threads, 0.9 s with one.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FedcostError as exc:
        print(f"fedcost {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"fedcost {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - never a bare traceback for the user
        if os.environ.get("FEDCOST_DEBUG"):
            raise
        print(f"fedcost {args.command}: internal error: {type(exc).__name__}: {exc} "
              "(set FEDCOST_DEBUG=1 for the traceback)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
