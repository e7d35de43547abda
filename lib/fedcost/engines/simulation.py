"""Simulation engine: the same contract as the deployment engine, on Flower's simulation runtime.

``run(job, nodes, workdir)`` calls ``flwr run <federated app> local-sim --stream``
with a private FLWR_HOME (``workdir/flwr_home``), private free ports for the
auto-started local SuperLink (FLWR_LOCAL_SUPERLINK_HTTP_API_PORT,
FLWR_LOCAL_CONTROL_API_PORT), RAY_TMPDIR under ``workdir`` and
runtime dependency installation disabled. In simulation a ClientApp's
``node_config`` only has ``partition-id``/``num-partitions``: the node dicts
go to ``workdir/nodes.json`` (run config ``nodes-file``) and the ClientApp
uses ``nodes[partition-id]`` as its ``node`` dict.

Flower starts the local SuperLink detached (its own session) and leaves it
running after ``flwr run`` returns: it is found by PID (its command line names
our FLWR_HOME) and stopped, with everything it spawned (SuperExec,
flwr-simulation, Ray), in a ``finally``.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

from fedcost.engines.jobs import Run
from fedcost.engines.lifecycle import run_engine
from fedcost.engines.processes import (
    ProcessGroup, ProgressTail, flower_env, flower_exe, free_ports, running, tail, watch_run,
)
from fedcost.engines.entrypoints import DEFAULT_PROTOCOL, federated_app_dir
from fedcost.errors import FederationError

FEDERATION = "local-sim"
# Unix socket paths (Ray's) must stay under ~107 bytes.
# Ray appends ~70 characters (ray/session_<date>_<pid>/sockets/plasma_store) and a
# unix socket path may not exceed 107 bytes.
_MAX_RAY_DIR = 30


def _ray_tmpdir(workdir: Path) -> tuple[Path, Path | None]:
    """RAY_TMPDIR: workdir/ray, or (long workdir) a short private temp dir linked from it."""
    target = workdir / "ray"
    if len(str(target)) <= _MAX_RAY_DIR:
        target.mkdir(exist_ok=True)
        return target, None
    short = Path(tempfile.mkdtemp(prefix="fcray-"))
    if target.is_symlink() or target.exists():
        try:
            target.unlink()
        except OSError:
            pass
    try:
        target.symlink_to(short, target_is_directory=True)
    except OSError:
        pass
    return short, short


def _find_local_superlinks(home: Path) -> list:
    """flower-superlink processes (psutil) started for this FLWR_HOME."""
    import psutil

    marker = str(home / "local-superlink")
    pids = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if any("flower-superlink" in c for c in cmd[:3]) and any(marker in c for c in cmd):
            pids.append(proc)
    return pids


def _find_by_path(path: Path) -> list:
    """Processes (psutil) whose command line mentions ``path`` (Ray's daemons name their session dir)."""
    import psutil

    needle = str(path)
    pids = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if any(needle in c for c in (proc.info.get("cmdline") or [])) and running(proc):
                pids.append(proc)
        except Exception:
            pass
    return [p for p in pids if p.pid != os.getpid()]


RAY_START_FAILED = "timed out during startup"


def run(job: dict, nodes, workdir: Path, *, protocol: str = DEFAULT_PROTOCOL, timeout: float = 900,
        progress: Callable[[dict], None] | None = None, node_timeout: float = 120.0,
        poll_interval: float = 0.02, client_cpus: int = 1, ray_retries: int = 1,
        teardown: Iterable[Callable[[Path], object]] = ()) -> dict:
    """Run ``job`` with one simulated SuperNode per entry of ``nodes`` (same contract as deployment).

    ``nodes``, ``job``, ``protocol``, ``progress``, ``teardown`` and the
    returned dict are as in ``fedcost.engines.deployment.run``. On a busy
    machine Ray's node can fail to start (its raylet gives its agents 15 s):
    the run is then retried ``ray_retries`` times.

    Returns the coordinator's output JSON plus ``startup_seconds`` (until the
    ServerApp runs; Ray starts with the first message, so round 1 carries
    its start), ``run_seconds`` and ``teardown_seconds``.
    ``client_cpus`` is the CPU share Ray gives each ClientApp (more = fewer at once).
    """
    def start(r: Run, procs: ProcessGroup, tracker: ProgressTail, deadline: float, timings: dict) -> dict:
        return _start(r, procs, tracker, deadline, timings, timeout=timeout, node_timeout=node_timeout,
                      poll_interval=poll_interval, client_cpus=client_cpus)

    log = Path(workdir).resolve() / "logs" / "flwr-run.log"  # each attempt starts it anew
    for attempt in range(int(ray_retries) + 1):
        try:
            return run_engine("simulation", start, job, nodes, workdir, protocol=protocol, timeout=timeout,
                              progress=progress, teardown=teardown)
        except FederationError as err:
            if hasattr(err, "traceback") or attempt >= ray_retries:
                raise
            if RAY_START_FAILED not in tail(log, 10_000):
                raise
            print("[fedcost] Ray did not start in time (busy machine?); retrying the simulation",
                  file=sys.stderr, flush=True)
    raise AssertionError("unreachable")


def _start(r: Run, procs: ProcessGroup, tracker: ProgressTail, deadline: float, timings: dict, *,
           timeout: float, node_timeout: float, poll_interval: float, client_cpus: int) -> dict:
    t0, wall0 = time.monotonic(), time.time()
    home = r.flwr_home
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "{FEDERATION}"\n\n'
        f'[superlink.{FEDERATION}]\naddress = ":local:"\n', encoding="utf-8")
    nodes_file = r.workdir / "nodes.json"
    # A simulated hospital answers inside Ray's long-lived ClientApp actor: a worker process per hospital
    # (what a deployment SuperNode relays to) held 337 MiB each, so 100 hospitals ran a 24 GiB machine
    # out of memory in round 1 (bench/simulation.py), and the actor already keeps the imports warm.
    nodes_file.write_text(json.dumps([{**n.config(), "worker": "in-actor"} for n in r.nodes], indent=1),
                          encoding="utf-8")
    run_config = r.write_run_config(timeout=timeout, node_timeout=node_timeout, poll_interval=poll_interval,
                                    nodes_file=str(nodes_file))
    http_port, control_port = free_ports(2)
    ray_dir, ray_tmp_created = _ray_tmpdir(r.workdir)
    env = flower_env(home, {
        "FLWR_LOCAL_SUPERLINK_HTTP_API_PORT": str(http_port),
        "FLWR_LOCAL_CONTROL_API_PORT": str(control_port),
        "RAY_TMPDIR": str(ray_dir),
        "RAY_USAGE_STATS_ENABLED": "0",
    })
    procs.finders.append(lambda: _find_local_superlinks(home))  # detached by `flwr run`
    procs.cleanups.append(lambda: _sweep(ray_dir, r.logs))      # Ray daemons that escaped the tree
    if ray_tmp_created is not None:
        procs.cleanups.append(lambda: shutil.rmtree(ray_tmp_created, ignore_errors=True))
    # Ray's init arguments: `--federation-config` takes only the fields of Flower's SimulationConfig
    # (num-supernodes, client-resources-num-cpus/-gpus, backend, verbose, init-args-num-cpus/-gpus,
    # init-args-logging-level, init-args-log-to-driver); any other key, e.g. include-dashboard, makes
    # `flwr run` fail ("Unknown simulation config field(s)"). Flower 1.41's RayBackend already calls
    # ray.init with include_dashboard=False, so there is nothing to pass for the dashboard, and Ray
    # 2.55 has no ray.init argument nor RAY_* variable that skips its other daemons (reduced
    # dashboard head, dashboard/runtime-env agents, log monitor, autoscaler monitor).
    procs.start("flwr-run", [
        flower_exe("flwr"), "run", str(federated_app_dir()), FEDERATION, "--stream",
        "--run-config", str(run_config),
        "--federation-config", f"num-supernodes={len(r.nodes)} client-resources-num-cpus={int(client_cpus)}",
    ], env, cwd=r.workdir)
    try:
        status = watch_run(procs, "flwr-run", r.workdir, tracker, deadline, must_live=[])
    except FederationError as err:
        sl_log = home / "local-superlink" / "superlink.log"
        extra = tail(sl_log, 30)
        if extra and not hasattr(err, "traceback"):  # not a coordinator error: show Flower's log
            raise FederationError(f"{err}\n--- {sl_log} (last lines) ---\n{extra}") from None
        raise
    # Until the ServerApp runs (local SuperLink, FAB, flwr-simulation); Ray starts
    # lazily with the first message, inside round 1.
    started = float(status.get("started_at") or wall0)
    timings["startup_seconds"] = max(started - wall0, 0.0)
    timings["run_seconds"] = time.monotonic() - t0 - timings["startup_seconds"]
    return status


def _sweep(ray_dir: Path, logs: Path) -> None:
    leftovers = _find_by_path(ray_dir)
    if leftovers:
        sweep = ProcessGroup(logs)
        sweep.extra = leftovers
        sweep.teardown(grace=3.0)
