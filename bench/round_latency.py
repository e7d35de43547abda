"""Round latency of the deployment engine: the echo protocol on a local federation.

Starts a real SuperLink and N SuperNodes (default 3) on 127.0.0.1, runs R
dependent echo rounds (default 5) and prints the startup seconds, each round's
seconds and where a round's time goes per hospital:

  to_process          request sent -> the hospital's flwr-clientapp process exists
                      (SuperNode's idle poll of the SuperLink, 3 s fixed in Flower,
                      + SuperExec task poll, FLWR_SUPEREXEC_TASK_POLL_INTERVAL)
  process_to_handler  process start -> handler runs (Python + flwr import, FAB load)
  handler_to_server   handler -> reply seen by the coordinator (SuperNode reply
                      poll 0.5 s + the coordinator's own pull poll)
  process_cpu         CPU seconds the ClientApp process burnt before the handler
                      (its Python start: independent of other load on the machine)

Usage:
  python bench/round_latency.py [--nodes 3] [--rounds 5] [--poll 0.1]
                                [--task-poll 0.2] [--naive] [--repeat 1]
--naive reproduces Flower's defaults: the coordinator pulls every 3 s (as
Grid.send_and_receive does) and the SuperExec polls every 1 s.

A benchmark: it prints measurements; it is not a test. Several engineers may
share the machine: look at the load average it prints.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def write_echo_data(folder: Path, n: int) -> list[dict]:
    nodes = []
    for i in range(n):
        path = folder / f"hospital{i + 1}.csv"
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("id,cost\n")
            for j in range(10 * (i + 1)):
                fh.write(f"{j},{100 + j}\n")
        nodes.append({"data-path": str(path), "hospital": f"H{i + 1:02d}"})
    return nodes


def run_once(args, folder: Path, label: str) -> dict:
    from fedcost.engines import deployment

    nodes = write_echo_data(folder, args.nodes)
    out = deployment.run(
        {"rounds": args.rounds}, nodes, folder / "run",
        protocol="echo",
        timeout=args.timeout, poll_interval=args.poll, progress=lambda line: None)
    rounds = out["round_seconds"]
    print(f"[{label}] startup {out['startup_seconds']:.2f} s | flwr run {out['run_seconds']:.2f} s"
          f" | teardown {out['teardown_seconds']:.2f} s | load {os.getloadavg()[0]:.1f}")
    print(f"[{label}] rounds (s): " + " ".join(f"{r:.2f}" for r in rounds)
          + f" | mean {statistics.mean(rounds):.2f}"
          + (f" | mean after round 1 {statistics.mean(rounds[1:]):.2f}" if len(rounds) > 1 else ""))
    for key in ("to_process", "process_to_handler", "handler_to_server", "process_cpu"):
        vals = [ph[key] for phases in out["timeline"] for ph in phases.values()
                if ph.get(key) is not None]
        if vals:
            print(f"[{label}]   {key:<19} mean {statistics.mean(vals):5.2f} s"
                  f"  max {max(vals):5.2f} s")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--poll", type=float, default=None,
                    help="coordinator's reply poll in s (default 0.1; 3.0 with --naive)")
    ap.add_argument("--task-poll", default=None,
                    help="FLWR_SUPEREXEC_TASK_POLL_INTERVAL (default 0.2; 1.0 with --naive)")
    ap.add_argument("--naive", action="store_true", help="Flower's default polling")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json", help="also write all measurements to this file")
    args = ap.parse_args(argv)
    if args.poll is None:
        args.poll = 3.0 if args.naive else 0.1
    task_poll = args.task_poll or ("1.0" if args.naive else "0.2")
    os.environ["FLWR_SUPEREXEC_TASK_POLL_INTERVAL"] = str(task_poll)
    label = f"{'naive' if args.naive else 'tuned'} poll={args.poll} task-poll={task_poll}"
    print(f"round latency: {args.nodes} SuperNodes, {args.rounds} rounds, {os.cpu_count()} cores")
    results = []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="fedcost-bench-") as tmp:
            out = run_once(args, Path(tmp), label)
            results.append({k: out[k] for k in ("startup_seconds", "run_seconds",
                                                 "round_seconds", "timeline")})
    if args.json:
        Path(args.json).write_text(json.dumps({"label": label, "runs": results}, indent=1))
    return 0


if __name__ == "__main__":
    t = time.monotonic()
    code = main()
    print(f"total {time.monotonic() - t:.1f} s", file=sys.stderr)
    sys.exit(code)
