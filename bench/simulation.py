"""The simulation engine at scale: the standard plan over many hospitals on Flower's simulation runtime (Ray).

Writes synthetic data (fedcost.data.synth, default 100 hospitals x 10,000
rows), runs plans/standard.toml with ``run_study(..., engine="simulation")``
and prints:

  * the engine's startup (local SuperLink, FAB, flwr-simulation until the
    ServerApp runs), ``flwr run`` and teardown seconds,
  * Ray's start reported apart: Ray starts next to the ServerApp and its
    first messages wait for it, so round 1 carries Ray's start. Shown as
    round 1 minus the median later round, and as when the first Ray daemon
    (gcs_server) started and the first ClientAppActor was seen, counted from
    the ServerApp's start (the coordinator's "nodes" progress event);
    round 1 also carries each hospital's first loading and validation of its
    table (simulated hospitals answer inside Ray's actors, no worker each),
  * the seconds of each round (the coordinator's "round" progress events),
  * peak memory: the sum of RSS over all processes of the run (the bench
    process's descendants and whatever names the run's folder in its command
    line: the detached local SuperLink, Ray's daemons and workers), sampled
    every 0.5 s in a thread; the largest single process; the processes at the
    peak by kind. RSS counts shared pages (Ray's object store, shared
    libraries) once per process, so the sum overstates what the machine gives,
  * whether the study completed (the run ended with the coordinator's
    output) and each analysis' status (released, withheld, ...).

Usage:
  .venv/bin/python bench/simulation.py [--hospitals 100] [--rows 10000]
                                       [--quick] [--timeout 3600] [--json FILE] [--keep DIR]
                                       [--min-available-mib 1024]
--quick is 10 hospitals x 2,000 rows. --keep DIR keeps the data and the run
folder (Flower's and Ray's logs under DIR/run) instead of a temporary folder.
The machine has no swap: when its available memory falls below
--min-available-mib the bench kills its run's processes (reported) rather
than let the kernel's OOM killer pick among everyone's processes. (Ray's own
memory monitor kills Ray workers at 95% of the node's memory, which comes
first on this 24 GB machine.)

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
import threading
import time
import traceback
from collections import defaultdict
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "plans" / "standard.toml"
MIB = 1024 * 1024
_INTERPRETERS = ("python", "python3", "python3.11")


def label(cmdline: list[str], name: str) -> str:
    """A short kind for a process: Ray's process title (ray::...), else its program or script's name."""
    if cmdline and cmdline[0].startswith("ray::"):
        return cmdline[0].split()[0]
    for arg in cmdline[:4]:
        if arg.startswith("-"):
            continue
        base = os.path.basename(arg)
        if base in _INTERPRETERS:
            continue
        return base.split()[0] if base else name
    return name


class Sampler(threading.Thread):
    """Every ``interval`` s: RSS of every process of the run (see the module docstring)."""

    def __init__(self, markers, interval: float = 0.5, min_available: int = 0) -> None:
        super().__init__(daemon=True)
        self.min_available = min_available  # bytes: below, the run's processes are killed (tripped)
        self.tripped: str | None = None
        self.markers = markers          # callable -> the strings a run's process names in its command line
        self.interval = interval
        self.stop_event = threading.Event()
        self.me = psutil.Process()
        self.peak_total, self.peak_at, self.peak_count, self.peak_procs = 0, None, 0, []
        self.largest = (0, "", None)    # rss, label, pid
        self.self_peak = 0
        self.samples = 0
        self.first_ray = None           # create_time of the first gcs_server
        self.first_actor = None         # wall time the first ClientAppActor was seen
        self.workers: dict[int, float] = {}  # the hospitals' fedcost workers: pid -> create_time
        self.kinds_seen: set[str] = set()
        self.dashboard_cmdlines: list[str] = []

    def _processes(self) -> dict[int, psutil.Process]:
        found: dict[int, psutil.Process] = {}
        roots = []
        try:
            roots += self.me.children(recursive=True)
        except psutil.Error:
            pass
        needles = [m for m in self.markers() if m]
        for proc in psutil.process_iter(["pid", "cmdline"]):
            try:
                cmd = " ".join(proc.info.get("cmdline") or [])
            except psutil.Error:
                continue
            if any(n in cmd for n in needles):
                roots.append(proc)
        for proc in roots:
            if proc.pid == self.me.pid:
                continue
            found[proc.pid] = proc
            try:
                for child in proc.children(recursive=True):
                    if child.pid != self.me.pid:
                        found[child.pid] = child
            except psutil.Error:
                pass
        return found

    def sample(self) -> None:
        now = time.time()
        total, rows = 0, []
        for pid, proc in self._processes().items():
            try:
                with proc.oneshot():
                    rss = proc.memory_info().rss
                    cmd = proc.cmdline()
                    kind = label(cmd, proc.name())
                    created = proc.create_time()
            except psutil.Error:
                continue
            total += rss
            rows.append((rss, kind, pid))
            self.kinds_seen.add(kind)
            if rss > self.largest[0]:
                self.largest = (rss, kind, pid)
            if kind == "gcs_server" and (self.first_ray is None or created < self.first_ray):
                self.first_ray = created
            if kind == "fedcost.federation.worker":
                self.workers[pid] = created
            if "ClientAppActor" in kind and self.first_actor is None:
                self.first_actor = now
            if kind == "dashboard.py" and len(self.dashboard_cmdlines) < 1:
                self.dashboard_cmdlines.append(" ".join(a for a in cmd if a.startswith(("--modules", "--disable",
                                                                                          "--minimal"))))
        try:
            self.self_peak = max(self.self_peak, self.me.memory_info().rss)
        except psutil.Error:
            pass
        self.samples += 1
        if total > self.peak_total:
            self.peak_total, self.peak_at, self.peak_count, self.peak_procs = total, now, len(rows), rows
        available = psutil.virtual_memory().available
        if self.min_available and available < self.min_available and self.tripped is None:
            # the machine is about to run out of memory (no swap here): end this run, not the machine
            self.tripped = (f"memory guard: {available / MIB:,.0f} MiB available < {self.min_available / MIB:,.0f}"
                            f" MiB with {total / MIB:,.0f} MiB summed RSS over {len(rows)} processes; "
                            "the run's processes were killed")
            print(f"[bench] {self.tripped}", file=sys.stderr, flush=True)
            for _, _, pid in rows:
                try:
                    psutil.Process(pid).kill()
                except psutil.Error:
                    pass

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.sample()
            except Exception:  # a sampling hiccup must not end the measurement
                pass
            self.stop_event.wait(self.interval)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)


def by_kind(rows) -> list[tuple[str, int, int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for rss, kind, _ in rows:
        groups[kind].append(rss)
    return sorted(((k, len(v), sum(v)) for k, v in groups.items()), key=lambda g: -g[2])


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} not found)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hospitals", type=int, default=None, help="default 100 (10 with --quick)")
    ap.add_argument("--rows", type=int, default=None, help="rows per hospital, default 10000 (2000 with --quick)")
    ap.add_argument("--quick", action="store_true", help="10 hospitals x 2,000 rows")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--timeout", type=float, default=3600, help="the engine's timeout in s")
    ap.add_argument("--json", help="also write all measurements to this file")
    ap.add_argument("--keep", help="use (and keep) this folder for the data and the run")
    ap.add_argument("--min-available-mib", type=int, default=1024,
                    help="kill the run's processes when the machine's available memory falls below this (0: never)")
    args = ap.parse_args(argv)
    hospitals = args.hospitals or (10 if args.quick else 100)
    rows = args.rows or (2000 if args.quick else 10_000)

    from fedcost.analyses.plan import load_plan, plan_info
    from fedcost.data.synth import write
    from fedcost.researcher import run_study

    print(f"simulation engine: {hospitals} hospitals x {rows:,} rows, plan {PLAN.relative_to(ROOT)}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)
    if args.keep:
        base = Path(args.keep).resolve()
        base.mkdir(parents=True, exist_ok=True)
        tmp = None
    else:
        tmp = tempfile.TemporaryDirectory(prefix="fcb-")  # short: Ray's socket paths live under run/ray
        base = Path(tmp.name)
    workdir = base / "run"
    report: dict = {"hospitals": hospitals, "rows": rows, "cores": os.cpu_count(), "plan": str(PLAN)}
    try:
        t = time.monotonic()
        paths = sorted(p for p in write(base / "data", hospitals, rows, args.seed, force=True)
                       if p.name.startswith("H"))
        print(f"data: {len(paths)} files written in {time.monotonic() - t:.1f} s", flush=True)
        analyses = load_plan(PLAN)

        def markers():
            out = [str(workdir)]
            ray = workdir / "ray"
            if ray.is_symlink():
                out.append(str(ray.resolve()))
            return out

        events: list[dict] = []

        def progress(event: dict) -> None:
            events.append(event)
            if event.get("event") == "round":
                print(f"  round {event.get('round')}: {event.get('seconds')} s, {event.get('running')} running, "
                      f"{event.get('finished')} finished", file=sys.stderr, flush=True)
            elif event.get("event") in ("nodes", "done", "refused", "dropout", "restart"):
                print(f"  {event}", file=sys.stderr, flush=True)

        sampler = Sampler(markers, min_available=args.min_available_mib * MIB)
        sampler.start()
        t0, wall0 = time.monotonic(), time.time()
        study, error = None, None
        try:
            study = run_study(analyses, paths, engine="simulation", workdir=workdir, progress=progress,
                              timeout=args.timeout, plan_info=plan_info(PLAN))
        except Exception as exc:  # reported, with the logs' tails
            error = exc
        wall = time.monotonic() - t0
        sampler.stop()

        rounds = [float(e["seconds"]) for e in events if e.get("event") == "round"]
        t_nodes = next((float(e["time"]) for e in events if e.get("event") == "nodes"), None)
        out = (study.output or {}) if study else {}
        statuses = {n: a.get("status") for n, a in (study.analyses if study else {}).items()}
        completed = study is not None  # the run ended with the coordinator's output (statuses shown apart)
        report.update({"completed": completed, "error": None if error is None else str(error),
                       "memory_guard": sampler.tripped,
                       "statuses": statuses, "wall_seconds": wall, "round_seconds": rounds,
                       **{k: out.get(k) for k in ("startup_seconds", "run_seconds", "teardown_seconds",
                                                  "messages", "rounds")}})

        counts = defaultdict(int)
        for s in statuses.values():
            counts[s] += 1
        print(f"completed: {'yes' if completed else 'no'}"
              + (f" ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))} of {len(statuses)} analyses;"
                 f" {out.get('messages')} rounds, slowest analysis {out.get('rounds')})" if study else ""))
        if sampler.tripped:
            print(sampler.tripped)
        if error is not None:
            msg = str(error)
            print(f"error: {type(error).__name__}: " + (msg if len(msg) <= 2400 else f"{msg[:800]} [...] {msg[-1600:]}"))
        if study:
            print(f"engine: startup {out['startup_seconds']:.1f} s (until the ServerApp runs) | flwr run "
                  f"{out['run_seconds']:.1f} s | teardown {out['teardown_seconds']:.1f} s | wall {wall:.1f} s")
        else:
            print(f"wall {wall:.1f} s")
        later = statistics.median(rounds[1:]) if len(rounds) > 1 else None
        ray_est = rounds[0] - later if later is not None else None
        parts = [f"round 1 {rounds[0]:.1f} s" if rounds else "round 1 did not finish"]
        if later is not None:
            parts.append(f"median later round {later:.1f} s -> round 1 extra ~{ray_est:.1f} s "
                         "(Ray's start and the hospitals' first loading of their tables)")
        rel = (lambda w: None if w is None or t_nodes is None else w - t_nodes)
        workers = sorted(sampler.workers.values())
        if rel(sampler.first_ray) is not None:
            parts.append(f"gcs_server started at {rel(sampler.first_ray):+.1f} s")
        if rel(sampler.first_actor) is not None:
            parts.append(f"first ClientAppActor seen at {rel(sampler.first_actor):+.1f} s")
        if workers and t_nodes is not None:
            parts.append(f"{len(workers)} hospital workers started {rel(workers[0]):+.1f} .. {rel(workers[-1]):+.1f} s")
        print("Ray's start: " + " | ".join(parts) + (" (from the ServerApp's start)" if t_nodes is not None else ""))
        first_round = next((float(e["time"]) for e in events if e.get("event") == "round"), None)
        report.update({"ray_start_estimate_seconds": ray_est,
                       "ray_gcs_started_after_serverapp": rel(sampler.first_ray),
                       "ray_first_actor_after_serverapp": rel(sampler.first_actor),
                       "round1_end_after_serverapp": rel(first_round),
                       "workers_started_after_serverapp": [rel(w) for w in workers] if t_nodes else None})
        if rounds:
            print("rounds (s): " + " ".join(f"{r:.1f}" for r in rounds))
            tail_rounds = rounds[1:] or rounds
            print(f"  mean after round 1 {statistics.mean(tail_rounds):.2f} s | max after round 1 "
                  f"{max(tail_rounds):.2f} s | sum {sum(rounds):.1f} s")
        peak_rel = f" at +{sampler.peak_at - wall0:.0f} s" if sampler.peak_at else ""
        print(f"peak memory: {sampler.peak_total / MIB:,.0f} MiB summed RSS{peak_rel} over {sampler.peak_count} "
              f"processes | largest single process {sampler.largest[1]} {sampler.largest[0] / MIB:,.0f} MiB | "
              f"this bench process {sampler.self_peak / MIB:,.0f} MiB ({sampler.samples} samples)")
        kinds = by_kind(sampler.peak_procs)
        print("  at the peak: " + ", ".join(f"{k} x{n} {s / MIB:,.0f} MiB" for k, n, s in kinds))
        dash = sampler.dashboard_cmdlines
        print(f"Ray's dashboard head (dashboard.py): {'running, ' + (dash[0] or 'full') if dash else 'not seen'}")
        report.update({"peak_rss_total_mib": sampler.peak_total / MIB, "peak_processes": sampler.peak_count,
                       "largest_process": {"kind": sampler.largest[1], "rss_mib": sampler.largest[0] / MIB},
                       "bench_process_rss_mib": sampler.self_peak / MIB,
                       "peak_by_kind": [{"kind": k, "count": n, "rss_mib": s / MIB} for k, n, s in kinds],
                       "kinds_seen": sorted(sampler.kinds_seen), "dashboard": dash})
        if error is not None:
            for log in (workdir / "logs" / "flwr-run.log", workdir / "flwr_home" / "local-superlink" / "superlink.log"):
                print(f"--- {log} (last lines) ---\n{tail(log)}")
            if not str(error):
                traceback.print_exception(error)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1, default=str))
        return 0 if completed else 1
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    t = time.monotonic()
    code = main()
    print(f"total {time.monotonic() - t:.1f} s", file=sys.stderr)
    sys.exit(code)
