"""The hospital entry the deployment ClientApp calls: relay to the long-lived worker.

Imports only the standard library, so a ClientApp process pays nothing for
numpy or TenSEAL. The first request of a hospital starts its worker
(`fedcost.federation.worker`); if the worker cannot be reached the request is
answered in this process instead, so relaying never costs correctness.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

SOCKET = "worker.sock"
IDLE_SECONDS = float(os.environ.get("FEDCOST_WORKER_IDLE", "300"))


def handle(request: bytes, node: dict) -> bytes:
    """The worker's answer; with ``worker = "external"`` (``fedcost hospital start``) only the worker's.

    A hospital started by ``fedcost hospital start`` runs its own worker; the
    relay never starts one there and never answers in this process (the
    ClientApp is the study's code and must not read the hospital's data).
    ``worker = "in-actor"`` (the simulation engine's hospitals, in Ray's
    long-lived actors) answers in this process.
    """
    work = node.get("work-dir")
    if node.get("worker") == "external":
        return _ask_worker(Path(str(work)), request, {}, start=False)
    if work and node.get("worker") != "in-actor" and os.environ.get("FEDCOST_NO_WORKER") != "1":
        try:
            return _ask_worker(Path(work), request, node)
        except OSError:
            pass
    from fedcost.federation import hospital

    return hospital.handle(request, node)


def _ask_worker(work: Path, request: bytes, node: dict, start: bool = True) -> bytes:
    """The worker's reply; ``start=False``: only a running worker (one the hospital started itself)."""
    from fedcost.federation.worker import recv_msg, send_msg

    path = work / SOCKET
    if len(str(path)) > 100:  # AF_UNIX limit
        raise OSError("socket path too long")
    conn = _connect(path) or (_start_and_connect(work, path) if start else None)
    if conn is None:
        raise OSError("the hospital's worker is not running")
    with conn:
        conn.settimeout(900)
        send_msg(conn, json.dumps(node).encode())
        send_msg(conn, request)
        return recv_msg(conn)


def _connect(path: Path):
    if not path.exists():
        return None
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
        return s
    except OSError:
        s.close()
        return None


def _start_and_connect(work: Path, path: Path) -> socket.socket:
    work.mkdir(parents=True, exist_ok=True)
    log = open(work / "worker.log", "ab")
    from fedcost.federation.worker import command

    subprocess.Popen(command(path, idle=IDLE_SECONDS), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                     start_new_session=True, close_fds=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        conn = _connect(path)
        if conn:
            return conn
        time.sleep(0.05)
    raise OSError("the hospital worker did not start")


def stop_workers(root: str | Path) -> int:
    """Stop every worker whose PID file lies under `root` (engine teardown). Returns how many."""
    pids = []
    for pid_file in Path(root).rglob("worker.pid"):
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            pids.append(pid)
        except (ValueError, OSError):
            pass
    deadline = time.monotonic() + 5
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if _alive(p)]
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return len(pids)


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap if it is our child
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
