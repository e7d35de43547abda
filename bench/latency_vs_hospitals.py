"""Bench d: round latency against the number of hospitals, Flower's fixed costs apart from ours.

For N hospitals (default 3, 8, 16) on 127.0.0.1:

  Flower      the echo protocol on the deployment engine (a SuperLink, N
              SuperNodes): a round's wall time after round 1, split per
              hospital into the idle poll (request sent -> ClientApp process
              exists), the process per message (process start -> our handler
              runs: Python, flwr import, FAB load) and the reply path (handler
              -> the coordinator sees the reply). The echo handler does nothing,
              so all of this is Flower's.
  ours        the same Gamma cost-model fit as the federation runs (real CKKS,
              N hospitals x 2,000 rows), in one process without Flower (engine
              local): its seconds per exchange are every hospital's statistics,
              encryption and checks done one after another, plus the
              coordinator's sums and checks: an upper bound on our part of a
              round, where the hospitals work in parallel.

Our share of a round = ours / (Flower + ours); target under 10 %.
See bench/round_latency.py for one size with more detail.

    .venv/bin/python bench/latency_vs_hospitals.py [--nodes 3 8 16] [--rounds 4] [--quick]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from round_latency import write_echo_data  # noqa: E402  (the echo's tiny hospital files)

FORMULA = "cost_total ~ age + los + comorbidity_score + C(drg_code) + C(hospital_level)"


def flower_round(nodes: int, rounds: int, folder: Path) -> dict:
    from fedcost.engines import deployment

    os.environ.setdefault("FLWR_SUPEREXEC_TASK_POLL_INTERVAL", "0.2")
    folder.mkdir(parents=True, exist_ok=True)
    out = deployment.run({"rounds": rounds}, write_echo_data(folder, nodes), folder / "run", protocol="echo",
                         timeout=900, poll_interval=0.1, progress=lambda line: None)
    after_first = out["round_seconds"][1:] or out["round_seconds"]
    phases = {k: statistics.mean(ph[k] for ph_round in out["timeline"][1:] or out["timeline"]
                                 for ph in ph_round.values() if ph.get(k) is not None)
              for k in ("to_process", "process_to_handler", "handler_to_server", "process_cpu")}
    return {"round": statistics.mean(after_first), "startup": out["startup_seconds"], **phases}


def our_exchange(nodes: int, folder: Path) -> dict:
    from fedcost.data.synth import write
    from fedcost.models.irls import GLMAnalysis
    from fedcost.researcher import run_study

    paths = [p for p in write(folder / "data", nodes, 2000, 11) if p.suffix == ".csv"]
    t = time.perf_counter()
    study = run_study({"m": GLMAnalysis(FORMULA, "gamma")}, paths, engine="local", workdir=folder / "run")
    took = time.perf_counter() - t
    return {"seconds": took, "messages": study.output["messages"], "per_exchange": took / study.output["messages"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, nargs="+", default=[3, 8, 16])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="3 hospitals, 3 rounds")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    sizes, rounds = ([3], 3) if args.quick else (args.nodes, args.rounds)
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    print(f"{'hospitals':>9} {'round s':>8} {'idle poll':>9} {'process':>8} {'reply':>6} {'cpu/proc':>8} "
          f"{'ours s':>7} {'our share':>9}")
    figures = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="fedcost-bench-d-") as tmp:
            fl = flower_round(n, rounds, Path(tmp) / "echo")
            ours = our_exchange(n, Path(tmp) / "ours")
        share = ours["per_exchange"] / (fl["round"] + ours["per_exchange"])
        print(f"{n:>9} {fl['round']:8.2f} {fl['to_process']:9.2f} {fl['process_to_handler']:8.2f} "
              f"{fl['handler_to_server']:6.2f} {fl['process_cpu']:8.2f} {ours['per_exchange']:7.2f} "
              f"{share:8.1%}{' PASS' if share < 0.10 else ' MISS'}", flush=True)
        figures.append({"hospitals": n, "flower": fl, "ours": ours, "our_share": share})
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
