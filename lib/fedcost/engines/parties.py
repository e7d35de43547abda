"""The long-lived parties of a real federation: a coordinator's SuperLink, a hospital's SuperNode and worker.

``fedcost coordinator start`` and ``fedcost hospital start`` are thin over
this module. Each party keeps everything in its own working folder:

coordinator (``--workdir``)::

    coordinator.json   its own settings, read by the ServerApp (public context, audit log)
    keys/              the public CKKS context only (a folder holding the secret one is refused)
    audit.jsonl        every study: requester as stated, plan digest, rounds, bytes, refusals, releases
    hospitals.json     registered hospitals: name -> node public key
    flwr_home/ logs/ state.db   Flower's configuration, the SuperLink's log and state

hospital (``--workdir``)::

    node_config.toml   the SuperNode's settings: its label and the worker's folder, no data path
    work/node.json     the worker's settings (data, keys, policy minima), mode 600, never sent
    work/              the worker's socket, caches, audit log (what left), local reports
    flwr_home/ logs/   Flower's configuration, the SuperNode's and the worker's logs

A hospital's data path and secret context are known to its worker only: the
SuperNode's node config, which every study's ClientApp can read, names
neither.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fedcost.engines.jobs import LABEL, toml_dumps
from fedcost.engines.processes import ProcessGroup, flower_env, free_ports
from fedcost.engines.roles import Tls, list_nodes, register_nodes, superlink_command, supernode_command, \
    write_flwr_config
from fedcost.engines.submission import HOME_ENV, SETTINGS
from fedcost.errors import FederationError, UsageError
from fedcost.federation.crypto import PUBLIC_FILE, SECRET_FILE
from fedcost.federation.relay import SOCKET as WORKER_SOCKET
from fedcost.federation.worker import command as worker_command
from fedcost.files import write_json


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"address {address!r}: give HOST:PORT")
    return host, int(port)


@dataclass
class Party:
    """A started party: its processes, torn down together by ``stop``."""

    name: str
    workdir: Path
    procs: ProcessGroup
    watch: tuple[str, ...]

    def dead(self) -> list[str]:
        return [n for n in self.watch if self.procs.procs[n].poll() is not None]

    def wait(self, deadline: float | None = None) -> str:
        """Block until SIGTERM/SIGINT, a watched process exits, or ``deadline``; returns why."""
        why = {}

        def stop(signum, _frame):
            why["signal"] = signal.Signals(signum).name

        old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not why:
                if self.dead():
                    return f"{', '.join(self.dead())} exited"
                if deadline is not None and time.monotonic() > deadline:
                    return "time limit"
                time.sleep(0.2)
            return why["signal"]
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def stop(self) -> None:
        self.procs.teardown()


# ----------------------------------------------------------------- coordinator
def start_coordinator(workdir: str | Path, address: str, certs: str | Path | None, public_keys: str | Path,
                      insecure: bool = False, timeout: float = 60.0) -> Party:
    """Start the coordinator's SuperLink (TLS and node authentication on unless ``insecure``)."""
    workdir = Path(workdir).resolve()
    host, port = split_address(address)
    public_keys = Path(public_keys)
    if (public_keys / SECRET_FILE).exists() or public_keys.name == SECRET_FILE:
        raise UsageError(f"{public_keys} holds the hospitals' secret context: the coordinator takes only "
                         f"{PUBLIC_FILE} (copy that file alone to its host)")
    public = public_keys / PUBLIC_FILE if public_keys.is_dir() else public_keys
    if not public.is_file():
        raise UsageError(f"{public}: no public CKKS context (made by `fedcost keys init`)")
    tls = None
    if not insecure:
        if certs is None:
            raise UsageError("--certs DIR (from `fedcost certs init`) is needed; --insecure only if asked for")
        certs = Path(certs).resolve()
        tls = Tls(certs / "ca.crt", certs / "server.crt", certs / "server.key")
        for f in (tls.ca, tls.cert, tls.key):
            if not f.is_file():
                raise UsageError(f"{f}: missing (make it with `fedcost certs init --out {certs} --host ...`)")
    (workdir / "keys").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(public, workdir / "keys" / PUBLIC_FILE)
    shutil.rmtree(workdir / "logs", ignore_errors=True)
    (workdir / "logs").mkdir()
    write_json(workdir / SETTINGS, {"public_key": str(workdir / "keys" / PUBLIC_FILE),
                                    "audit_log": str(workdir / "audit.jsonl"), "address": address,
                                    "insecure": insecure, "ca": str(tls.ca) if tls else None})
    local = f"127.0.0.1:{port}" if host in ("0.0.0.0", "::", "[::]") else address
    write_flwr_config(workdir / "flwr_home", local, tls.ca if tls else None)
    procs = ProcessGroup(workdir / "logs")
    cmd = superlink_command(host, port, tls) + ["--database", str(workdir / "state.db")]
    procs.start("superlink", cmd, flower_env(workdir / "flwr_home", {HOME_ENV: str(workdir)}), cwd=workdir)
    party = Party("coordinator", workdir, procs, ("superlink",))
    _wait_for_log(party, workdir / "logs" / "superlink.log", "Starting Flower SuperLink", timeout)
    return party


def _wait_for_log(party: Party, log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if text in log.read_text(encoding="utf-8", errors="replace"):
                return
        except OSError:
            pass
        if party.dead():
            tail = party.procs.logs_tail()
            party.stop()
            raise FederationError(f"{party.name}: {', '.join(party.dead())} exited during startup\n{tail}")
        if time.monotonic() > deadline:
            party.stop()
            raise FederationError(f"{party.name} did not start within {timeout:g} s")
        time.sleep(0.1)


def add_hospital(workdir: str | Path, name: str, public_key: str | Path) -> None:
    """Register a hospital's SuperNode public key with the running coordinator."""
    workdir = Path(workdir).resolve()
    if not LABEL.fullmatch(name):
        raise UsageError(f"hospital name {name!r}: use letters, digits, '_', '-', '.'")
    pub = Path(public_key)
    if not pub.is_file() or not pub.read_text(errors="replace").startswith("ecdsa-"):
        raise UsageError(f"{pub}: not a hospital's public node key (`fedcost hospital init` writes node.pub)")
    if not (workdir / SETTINGS).is_file():
        raise UsageError(f"{workdir}: not a coordinator's folder (run `fedcost coordinator start` first)")
    book = workdir / "hospitals.json"
    known = json.loads(book.read_text()) if book.is_file() else {}
    if name in known:
        raise UsageError(f"hospital {name} is registered already")
    ids = register_nodes(workdir / "flwr_home", {name: pub.resolve()}, time.monotonic() + 30, workdir)
    known[name] = {"node_id": ids.get(name, ""), "public_key": pub.read_text().strip()}
    write_json(book, known)


def coordinator_status(workdir: str | Path) -> list[dict]:
    """Registered hospitals with their Flower node status (online, offline, registered)."""
    workdir = Path(workdir).resolve()
    book = workdir / "hospitals.json"
    known = json.loads(book.read_text()) if book.is_file() else {}
    by_id = {entry["node_id"]: name for name, entry in known.items()}
    return [{"hospital": by_id.get(str(node.get("node-id")), "(not registered here)"), "node_id": node.get("node-id"),
             "status": node.get("status"), "online_at": node.get("online-at", "")}
            for node in list_nodes(workdir / "flwr_home", workdir)]


# -------------------------------------------------------------------- hospital
def os_user(option: str, user: str | None) -> tuple[int, int] | None:
    """(uid, gid) of the operating-system user a part of the hospital runs as, or None (the caller's user)."""
    if user is None:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise UsageError(f"{option} {user}: no such user (create one: useradd --system {user})") from None
    if os.geteuid() != 0:
        raise UsageError(f"{option} needs root: the supervisor starts that part as {user} and keeps no privilege")
    return entry.pw_uid, entry.pw_gid


def check_access(option: str, user: tuple[int, int], read: list[Path], run: list[Path]) -> None:
    """UsageError unless ``user`` (uid, gid) can read each of ``read`` and run each of ``run``.

    Asked of the kernel as that user (``test -r`` in a shell started as it), so folder modes on the way
    count too: a worker that cannot open its data would otherwise die after the SuperNode is up.
    """
    import subprocess

    for test, paths in (("-r", read), ("-x", run)):
        for path in paths:
            done = subprocess.run(["/bin/sh", "-c", f'test {test} "$1"', "sh", str(path)], user=user[0],
                                  group=user[1], extra_groups=[], check=False)
            if done.returncode:
                what = "read" if test == "-r" else "run"
                raise UsageError(f"{option}: uid {user[0]} cannot {what} {path} (give it access, e.g. "
                                 f"chgrp/chmod, or install fedcost where that user can {what} it)")


def start_hospital(name: str, data: str | Path, keys: str | Path, coordinator: str, ca: str | Path | None,
                   auth_key: str | Path | None, workdir: str | Path, disclosure: dict | None = None,
                   dictionary: str | Path | None = None, encoding: str | None = None, insecure: bool = False,
                   timeout: float = 120.0, relay_user: str | None = None, worker_user: str | None = None) -> Party:
    """Start the hospital's worker (the only reader of its data and secret key) and its SuperNode.

    Started as root, each part runs as an operating-system user of its own: ``worker_user`` reads the
    data and the secret key and owns the worker's folder; ``relay_user`` runs the SuperNode, and so every
    ClientApp a study brings, and may connect to the worker's socket and read nothing else of it.
    """
    relay = os_user("--relay-user", relay_user)
    worker = os_user("--worker-user", worker_user)
    if relay and worker and relay[0] == worker[0]:
        raise UsageError("--relay-user and --worker-user must differ: the relay must not read the data")
    workdir = Path(workdir).resolve()
    secret = Path(keys) / SECRET_FILE if Path(keys).is_dir() else Path(keys)
    if not secret.is_file():
        raise UsageError(f"{secret}: no hospital secret context (from the key ceremony, `fedcost keys init`)")
    if not insecure and (ca is None or auth_key is None):
        raise UsageError("--ca FILE and --auth-key FILE are needed; --insecure only if asked for")
    work = workdir / "work"
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(work, 0o700)
    shutil.rmtree(workdir / "logs", ignore_errors=True)
    (workdir / "logs").mkdir(parents=True)
    settings = {"hospital": name, "work-dir": str(work), "data-path": str(Path(data).resolve()),
                "key-path": str(secret.resolve()), **{k.replace("_", "-"): v for k, v in (disclosure or {}).items()}}
    if dictionary:
        settings["dictionary"] = str(Path(dictionary).resolve())
    if encoding:
        settings["encoding"] = encoding
    if worker:
        check_access("--worker-user", worker, [Path(settings["data-path"]), Path(settings["key-path"]),
                                               *([Path(settings["dictionary"])] if dictionary else [])],
                     [Path(sys.executable)])
    write_json(work / "node.json", settings, 0o600)
    procs = ProcessGroup(workdir / "logs")
    # The worker's socket has a folder of its own: the SuperNode's side reaches it and nothing of work/.
    sockets = workdir / "socket"
    sockets.mkdir(exist_ok=True)
    os.chmod(sockets, 0o750 if relay else 0o700)
    if relay or worker:
        os.chown(sockets, worker[0] if worker else -1, relay[1] if relay else -1)
    if worker:  # the worker's folder is its user's alone (links it may have planted are not followed)
        for path in [work, *work.rglob("*")]:
            os.chown(path, worker[0], worker[1], follow_symlinks=False)
    socket_path = sockets / WORKER_SOCKET
    procs.start("worker", worker_command(socket_path, idle=0, node=work / "node.json", parent=os.getpid(),
                                         peer_uid=relay[0] if relay else os.getuid(),
                                         socket_group=relay[1] if relay else None),
                {**os.environ, **({"HOME": str(work)} if worker else {})}, cwd=work,
                user=worker, groups=[relay[1]] if (relay and worker) else None)
    party = Party(f"hospital {name}", workdir, procs, ("worker",))
    deadline = time.monotonic() + timeout
    while not socket_path.exists():
        if party.dead() or time.monotonic() > deadline:
            tail = procs.logs_tail()
            party.stop()
            raise FederationError(f"hospital {name}'s worker did not start\n{tail}")
        time.sleep(0.05)
    node_config = workdir / "node_config.toml"
    node_config.write_text(toml_dumps({"hospital": name, "work-dir": str(sockets), "worker": "external"}),
                           encoding="utf-8")
    home = workdir / "flwr_home"
    ca_path = None if insecure else Path(ca).resolve()
    key_path = None if insecure else Path(auth_key).resolve()
    if relay:  # the relay user's folder is made anew: nothing it left (a link) is followed by root
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(mode=0o700)
    if relay and not insecure:  # the SuperNode's own credentials, readable by its user alone
        for src, name in ((ca_path, "ca.crt"), (key_path, "node.key")):
            fd = os.open(home / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Path(src).read_bytes())
        ca_path, key_path = home / "ca.crt", home / "node.key"
    write_flwr_config(home, coordinator, ca_path)
    if relay:  # Flower's folder is the relay user's
        for path in [home, *home.rglob("*")]:
            os.chown(path, relay[0], relay[1], follow_symlinks=False)
    (port,) = free_ports(1)
    env = flower_env(home, {"HOME": str(home)} if relay else None)  # the relay user cannot write root's home
    procs.start("supernode", supernode_command(coordinator, node_config, port, ca_path, key_path),
                env, cwd=workdir, user=relay)
    party.watch = ("worker", "supernode")
    return party


def wait_connected(party: Party, timeout: float = 60.0) -> None:
    """Until the hospital's SuperNode has its node id from the coordinator; fail fast if it is refused."""
    log = party.workdir / "logs" / "supernode.log"
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        if "ApiError:2004" in text or "[code: 2004]" in text:
            raise FederationError(f"{party.name}: the coordinator refused this hospital's node key (it is not "
                                  "registered: the coordinator's operator runs `fedcost coordinator add-hospital`)")
        if "SuperNode ID:" in text:
            return
        if party.dead():
            time.sleep(0.3)  # the refusal may reach the log just before the SuperNode exits
            text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
            if "ApiError:2004" in text or "[code: 2004]" in text:
                continue
            raise FederationError(f"{party.name}: {', '.join(party.dead())} exited\n{party.procs.logs_tail()}")
        if time.monotonic() > deadline:
            raise FederationError(f"{party.name}: not connected to the coordinator after {timeout:g} s\n"
                                  + party.procs.logs_tail())
        time.sleep(0.2)
