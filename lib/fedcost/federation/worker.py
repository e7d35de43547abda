"""A long-lived hospital process next to the SuperNode.

Flower starts a new ClientApp process for every message; importing numpy,
pandas, TenSEAL and our code, loading the secret context and the cached table
costs each round about 1.5-2 CPU-seconds per hospital. The ClientApp's relay
(`fedcost.federation.relay`) instead hands the request to this worker over a
Unix socket in the hospital's private work folder, where everything stays in
memory. It exits after `--idle` seconds without a request, and engines stop it
at teardown (its PID is in the work folder).

    python -m fedcost.federation.worker --socket WORK/worker.sock [--idle 300]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import struct
import threading
import time
from pathlib import Path


# The largest request answered: the standard plan's largest (6 hospitals, its first round's ciphertexts)
# measured 10.0 MB, so 256 MiB leaves 25x for bigger plans and federations, while a relay that announces
# gigabytes (Flower itself would pass up to 2 GiB) cannot make the worker allocate them. The node header
# is a few hundred bytes.
MAX_REQUEST = 256 << 20
MAX_HEADER = 1 << 16


def recv_msg(conn: socket.socket, limit: int | None = None) -> bytes:
    """One length-prefixed message; ValueError if it announces more than ``limit`` bytes (nothing is read)."""
    head = _recv_exact(conn, 8)
    (n,) = struct.unpack(">Q", head)
    if limit is not None and n > limit:
        raise ValueError(f"a message of {n} bytes (at most {limit})")
    return _recv_exact(conn, n)


def send_msg(conn: socket.socket, data: bytes) -> None:
    conn.sendall(struct.pack(">Q", len(data)) + data)


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(min(1 << 20, n - len(buf)))
        if not chunk:
            raise ConnectionError("peer closed the connection")
        buf += chunk
    return bytes(buf)


# Seconds a connected relay may take to send its request or read the reply: the relay writes at once and
# reads at once over a local socket, so a peer silent for this long is not a relay (it would hold the
# worker, which answers one request at a time).
PEER_TIMEOUT = 30.0


def peer_uid(conn: socket.socket) -> int:
    """The user id of the process at the other end of a Unix socket, from the kernel (SO_PEERCRED)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def command(socket_path: Path, *, idle: float, node: Path | None = None, parent: int | None = None,
            peer_uid: int | None = None, socket_group: int | None = None) -> list[str]:
    """The command line that starts a worker (the options of `main`), for whoever starts one."""
    return [sys.executable, "-m", "fedcost.federation.worker", "--socket", str(socket_path),
            *(["--node", str(node)] if node is not None else []), "--idle", f"{idle:g}",
            *(["--parent", str(parent)] if parent is not None else []),
            *(["--peer-uid", str(peer_uid)] if peer_uid is not None else []),
            *(["--socket-group", str(socket_group)] if socket_group is not None else [])]


def serve(socket_path: Path, idle: float, own_node: dict | None = None, parent: int | None = None,
          socket_group: int | None = None, peer: int | None = None) -> None:
    """Answer requests on ``socket_path`` until idle for ``idle`` s (0: never) or ``parent`` is gone.

    ``own_node``: the hospital's own settings (``fedcost hospital start``); then
    the node settings a relay sends are ignored, so nothing a study brings (its
    ClientApp, its run config) can point this process at another file or key.
    ``socket_group``: the group of the relay's user (``fedcost hospital start
    --relay-user``), who may connect (mode 0660) but reads nothing else here.
    ``peer``: the only user id answered (default this process's own): the
    kernel names the connecting process's user, so another local user who
    shares the group, or root's other processes, get no answer.
    """
    from fedcost.federation import hospital  # the heavy imports, once

    hospital.DISK_CACHE = False  # this process keeps the table and designs in memory between rounds

    socket_path.unlink(missing_ok=True)
    pid_file = socket_path.with_suffix(".pid")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # the socket is the hospital's own: mode 0600
    try:
        srv.bind(str(socket_path))
    finally:
        os.umask(old)
    if socket_group is not None:
        os.chown(socket_path, -1, socket_group)
        os.chmod(socket_path, 0o660)
    srv.listen(4)
    srv.settimeout(1.0 if parent or not idle else idle)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # run the cleanup below
    pid_file.write_text(str(os.getpid()))
    allowed = os.getuid() if peer is None else int(peer)
    if own_node:  # validate the table while the SuperNode and the coordinator start
        threading.Thread(target=hospital.preload, args=(own_node,), daemon=True).start()
    last = time.monotonic()
    try:
        while True:
            try:
                conn, _ = srv.accept()
            except socket.timeout:
                if parent and os.getppid() != parent:
                    break  # the hospital's supervisor is gone: stop with it
                if idle and time.monotonic() - last > idle:
                    break
                continue
            last = time.monotonic()
            with conn:
                conn.settimeout(PEER_TIMEOUT)
                uid = peer_uid(conn)
                if uid != allowed:
                    print(f"refused a connection from uid {uid} (only uid {allowed} is answered)", file=sys.stderr,
                          flush=True)
                    continue
                try:
                    relayed = json.loads(recv_msg(conn, MAX_HEADER))
                    node = own_node if own_node else relayed
                    request = recv_msg(conn, MAX_REQUEST)
                except (ConnectionError, OSError, ValueError) as exc:
                    print(f"dropped a request: {exc}", file=sys.stderr, flush=True)
                    continue
                try:
                    send_msg(conn, hospital.handle(request, node))
                except (ConnectionError, OSError):
                    continue  # the peer went away: the next one is answered
    finally:
        srv.close()
        socket_path.unlink(missing_ok=True)
        pid_file.unlink(missing_ok=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socket", required=True, help="Unix socket path (in the hospital's work folder)")
    ap.add_argument("--idle", type=float, default=300,
                    help="exit after this many seconds without a request (0: never)")
    ap.add_argument("--node", help="the hospital's own settings (JSON); relayed settings are then ignored")
    ap.add_argument("--parent", type=int, help="exit when this process (the hospital's supervisor) is gone")
    ap.add_argument("--socket-group", type=int, help="group id that may connect to the socket (the relay's user)")
    ap.add_argument("--peer-uid", type=int, help="the only user id answered (default: this process's own)")
    args = ap.parse_args()
    own = json.loads(Path(args.node).read_text(encoding="utf-8")) if args.node else None
    serve(Path(args.socket), args.idle, own, args.parent, args.socket_group, args.peer_uid)


if __name__ == "__main__":
    main()
