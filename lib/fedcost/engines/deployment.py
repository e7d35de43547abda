"""Deployment engine: a real local federation (SuperLink + one SuperNode per hospital) per run.

``run(job, nodes, workdir)`` starts ``flower-superlink`` and one
``flower-supernode`` per entry of ``nodes`` on 127.0.0.1 (free ports), submits
the fedcost Flower app (``federated/``) with ``flwr run --stream``, relays the
coordinator's progress lines, and tears every process down in a ``finally``
(``fedcost.engines.lifecycle``).

Secure by default, as a real federation runs: throw-away certificates for
127.0.0.1 (``fedcost.engines.certs``), the SuperLink with TLS and SuperNode
authentication, each hospital's node key registered with ``flwr supernode
register`` before its SuperNode starts, so a node that was not registered is
refused (Flower's ApiError 2004). ``insecure=True`` turns both off.

Everything of a run lives under ``workdir``; a reused folder is cleared of the
previous run's state first (``fedcost.engines.jobs.clear_run_state``)::

    job.json            the job as the coordinator reads it (+ output, progress_file)
    run_config.toml     the Flower run config (job file, protocol name, timeouts)
    output.json         written by the coordinator
    progress.jsonl      progress lines appended by the coordinator
    status.json         written by the ServerApp: ok, or error + traceback
    flwr_home/          FLWR_HOME of the SuperLink and of `flwr run` (config.toml)
    nodes/<label>/      each hospital: node_config.toml, flwr_home/, work/ (its work-dir)
    logs/               superlink.log, supernode-<label>.log, flwr-run.log
    tls/                the run's throw-away CA, server certificate and node keys (unless insecure)
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Iterable

from fedcost.engines.entrypoints import DEFAULT_PROTOCOL, federated_app_dir
from fedcost.engines.jobs import Run, toml_dumps
from fedcost.engines.lifecycle import run_engine
from fedcost.engines.processes import (
    ProcessGroup, ProgressTail, flower_env, flower_exe, free_ports, watch_run,
)
from fedcost.engines.roles import (
    FEDERATION, Tls, register_nodes, superlink_command, supernode_command, write_flwr_config,
)
from fedcost.errors import FederationError
from fedcost.federation.relay import SOCKET
from fedcost.federation.worker import command as worker_command
from fedcost.files import write_json


def run(job: dict, nodes, workdir: Path, *, protocol: str = DEFAULT_PROTOCOL, timeout: float = 900,
        progress: Callable[[dict], None] | None = None, node_timeout: float = 120.0,
        poll_interval: float = 0.1, teardown: Iterable[Callable[[Path], object]] = (),
        insecure: bool = False) -> dict:
    """Run ``job`` on a fresh local federation of one SuperNode per entry of ``nodes``.

    ``nodes``: ``fedcost.engines.jobs.Node`` objects or dicts with ``data-path``,
    ``key-path``, ``hospital`` (label; default H01, H02...), optional
    ``work-dir`` (default ``workdir/nodes/<label>/work``) and any other
    str/int/float/bool settings; each becomes that SuperNode's
    ``--node-config`` and reaches the hospital handler as its ``node`` dict.
    ``progress(dict)`` is called for each progress line (default: a one-line
    summary per round on stderr). ``timeout`` bounds the whole run.

    Returns the coordinator's output JSON plus ``startup_seconds`` (until all
    SuperNodes are active), ``run_seconds`` (``flwr run`` until the result) and
    ``teardown_seconds``. Raises FederationError (with the relevant log tails) on
    failure; every process started here is stopped before returning or raising.
    """
    def start(r: Run, procs: ProcessGroup, tracker: ProgressTail, deadline: float, timings: dict) -> dict:
        return _start(r, procs, tracker, deadline, timings, node_timeout=node_timeout,
                      timeout=timeout, poll_interval=poll_interval, insecure=insecure)

    return run_engine("deployment", start, job, nodes, workdir, protocol=protocol, timeout=timeout,
                      progress=progress, teardown=teardown)


def _start(r: Run, procs: ProcessGroup, tracker: ProgressTail, deadline: float, timings: dict, *,
           node_timeout: float, timeout: float, poll_interval: float, insecure: bool) -> dict:
    t0 = time.monotonic()
    if r.protocol == DEFAULT_PROTOCOL:
        _start_workers(r, procs)
    ports = free_ports(1 + len(r.nodes))
    link = f"127.0.0.1:{ports[0]}"
    tls = None if insecure else _throwaway_tls(r)
    write_flwr_config(r.flwr_home, link, None if insecure else tls["ca"])
    run_config = r.write_run_config(timeout=timeout, node_timeout=node_timeout, poll_interval=poll_interval)
    procs.start("superlink", superlink_command("127.0.0.1", ports[0], None if insecure else Tls(
        tls["ca"], tls["cert"], tls["key"])), flower_env(r.flwr_home), cwd=r.workdir)
    if not insecure:
        register_nodes(r.flwr_home, {n.label: tls["nodes"][n.label][1] for n in r.nodes},
                       min(t0 + node_timeout, deadline), r.workdir, procs.dead, procs.logs_tail)
    names = []
    for node, port in zip(r.nodes, ports[1:]):
        ndir = r.node_dir(node)
        (ndir / "flwr_home").mkdir(parents=True, exist_ok=True)
        cfg = ndir / "node_config.toml"
        cfg.write_text(toml_dumps(node.config()), encoding="utf-8")
        name = f"supernode-{node.label}"
        procs.start(name, supernode_command(link, cfg, port, None if insecure else tls["ca"],
                                            None if insecure else tls["nodes"][node.label][0]),
                    flower_env(ndir / "flwr_home"), cwd=ndir)
        names.append(name)
    _wait_active(procs, r.logs / "superlink.log", len(r.nodes), min(t0 + node_timeout, deadline))
    timings["startup_seconds"] = time.monotonic() - t0
    t1 = time.monotonic()
    procs.start("flwr-run", [flower_exe("flwr"), "run", str(federated_app_dir()), FEDERATION, "--stream",
                             "--run-config", str(run_config)], flower_env(r.flwr_home), cwd=r.workdir)
    status = watch_run(procs, "flwr-run", r.workdir, tracker, deadline, must_live=["superlink", *names])
    timings["run_seconds"] = time.monotonic() - t1
    return status


def _start_workers(r: Run, procs: ProcessGroup) -> None:
    """Each hospital's worker, first: it validates its table while the SuperLink and SuperNodes start.

    The relay finds the worker's socket in the hospital's work folder (it would
    otherwise start one on the first message, and round 1 would carry the
    loading and validation: 3.7 s at 330k rows). The worker answers with its
    own node settings (`--node`), exits with this process, and is stopped
    with the other processes at teardown.
    """
    for node in r.nodes:
        work = Path(node.work_dir)
        work.mkdir(parents=True, exist_ok=True)
        settings = work / "node.json"
        write_json(settings, node.config(), 0o600)
        procs.start(f"worker-{node.label}", worker_command(work / SOCKET, idle=0, node=settings, parent=os.getpid()),
                    dict(os.environ), cwd=work)


def _throwaway_tls(r: Run) -> dict:
    """This run's CA and server certificate for 127.0.0.1, and a key pair per hospital."""
    from fedcost.engines.certs import init_certs, node_keys

    files = init_certs(r.workdir / "tls", ["127.0.0.1", "localhost"], force=True)
    files["nodes"] = {n.label: node_keys(r.workdir / "tls" / "nodes", n.label) for n in r.nodes}
    return files


def _wait_active(procs: ProcessGroup, superlink_log: Path, n: int, deadline: float) -> None:
    """Until the SuperLink log shows ``n`` activated nodes; fails fast if a process dies."""
    while True:
        try:
            text = superlink_log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        if text.count("Activated node_id") >= n:
            return
        dead = procs.dead()
        if dead:
            raise FederationError(f"{', '.join(dead)} exited during startup\n" + procs.logs_tail())
        if time.monotonic() > deadline:
            raise FederationError(
                f"only {text.count('Activated node_id')} of {n} SuperNodes connected to the "
                "SuperLink in time\n" + procs.logs_tail())
        time.sleep(0.1)
