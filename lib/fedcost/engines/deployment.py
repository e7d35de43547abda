"""Deployment engine: a real local federation (SuperLink + one SuperNode per hospital) per run.

``run(job, nodes, workdir)`` starts ``flower-superlink`` and one
``flower-supernode`` per entry of ``nodes`` on 127.0.0.1 (free ports), submits
the fedcost Flower app (``federated/``) with ``flwr run --stream``, relays the
coordinator's progress lines, and tears every process down in a ``finally``.

Everything of a run lives under ``workdir``; a reused folder is cleared of the
previous run's state first (``clear_run_state``)::

    job.json            the job as the coordinator reads it (+ output, progress_file)
    run_config.toml     the Flower run config (job file, protocol name, timeouts)
    output.json         written by the coordinator
    progress.jsonl      progress lines appended by the coordinator
    status.json         written by the ServerApp: ok, or error + traceback
    flwr_home/          FLWR_HOME of the SuperLink and of `flwr run` (config.toml)
    nodes/<label>/      each hospital: node_config.toml, flwr_home/, work/ (its work-dir)
    logs/               superlink.log, supernode-<label>.log, flwr-run.log

The process helpers here are shared with the simulation engine.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from fedcost.engines.entrypoints import DEFAULT_PROTOCOL, PROTOCOLS
from fedcost.errors import FederationError, UsageError

FEDERATION = "fedcost"
NODE_KEYS = ("data-path", "key-path", "work-dir", "hospital")

# Flower knobs that cut round latency (see bench/round_latency.py):
# the SuperExec polls its Runtime API for new ClientApp/ServerApp tasks every
# FLWR_SUPEREXEC_TASK_POLL_INTERVAL seconds (Flower's default 1.0; ours below
# unless the caller's environment sets it). Measured idle CPU of a SuperLink +
# 3 SuperNodes (4 SuperExecs): 7 % of a core at 1.0, 16 % at 0.2, 60 % at
# 0.05, which slows the ClientApp starts it was meant to speed up: 0.2.
TASK_POLL_INTERVAL = "0.2"


# --------------------------------------------------------------------------- helpers
def federated_app_dir() -> Path:
    """The Flower app folder: $FEDCOST_FEDERATED_APP or federated/ of the project."""
    env = os.environ.get("FEDCOST_FEDERATED_APP")
    if env:
        return Path(env).resolve()
    from fedcost.paths import PROJECT_ROOT

    return PROJECT_ROOT / "federated"


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (bound to port 0 together, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, os.PathLike)):
        return json.dumps(str(value))  # JSON string escapes are valid TOML basic strings
    raise UsageError(f"config values must be str, int, float or bool, not {type(value).__name__}"
                     f" ({value!r})")


def toml_dumps(flat: dict[str, Any]) -> str:
    """A flat dict as TOML (keys quoted, values str/int/float/bool)."""
    return "".join(f"{json.dumps(str(k))} = {toml_value(v)}\n" for k, v in flat.items())


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def flower_env(flwr_home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for Flower processes: private FLWR_HOME, no telemetry/update checks, short polls."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)  # the venv's flwr executables first
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update({
        "FLWR_HOME": str(flwr_home),
        "FLWR_TELEMETRY_ENABLED": "0",
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "FLWR_DISABLE_RUNTIME_DEPENDENCY_INSTALLATION": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.setdefault("FLWR_SUPEREXEC_TASK_POLL_INTERVAL", TASK_POLL_INTERVAL)
    env.update(extra or {})
    return env


def flower_exe(name: str) -> str:
    exe = Path(sys.executable).parent / name
    return str(exe) if exe.exists() else name


def _print_progress(line: dict) -> None:
    event = line.get("event", "?")
    if event == "round":
        extras = " ".join(f"{k}={v}" for k, v in line.items()
                          if k not in ("event", "round", "seconds"))
        print(f"[fedcost] round {line.get('round')}: {line.get('seconds', '?')} s {extras}".rstrip(),
              file=sys.stderr, flush=True)
    else:
        extras = " ".join(f"{k}={v}" for k, v in line.items() if k != "event")
        print(f"[fedcost] {event} {extras}".rstrip(), file=sys.stderr, flush=True)


class ProgressTail:
    """Reads complete new JSON lines appended to the progress file and hands them on."""

    def __init__(self, path: Path, callback: Callable[[dict], None] | None) -> None:
        self.path = Path(path)
        self.callback = callback or _print_progress
        self.pos = 0
        self.buf = b""
        self.lines: list[dict] = []

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.pos)
                data = fh.read()
        except FileNotFoundError:
            return
        if not data:
            return
        self.pos += len(data)
        self.buf += data
        *complete, self.buf = self.buf.split(b"\n")
        for raw in complete:
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                line = {"event": "text", "text": raw.decode(errors="replace")}
            self.lines.append(line)
            try:
                self.callback(line)
            except Exception:  # a faulty progress callback must not break the run
                pass


class ProcessGroup:
    """Processes started in their own sessions, torn down together (TERM, grace, KILL).

    Every process (and whatever it spawns: SuperExec, flwr-serverapp,
    flwr-clientapp, Ray) is remembered as a psutil.Process (PID + start time,
    so a reused PID is never signalled); ``teardown`` signals the process
    groups of our own children and every remembered descendant, also those
    that left the group or were re-parented.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = Path(log_dir)
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.extra: list[Any] = []  # psutil.Process objects not started here (found by caller)
        self._known: dict[int, Any] = {}

    def start(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path | None = None
              ) -> subprocess.Popen:
        log = self.log_dir / f"{name}.log"
        self.logs[name] = log
        with open(log, "wb") as fh:  # one run, one log: a reused folder starts empty
            proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs[name] = proc
        self.remember(proc.pid)
        return proc

    def dead(self) -> list[str]:
        return [n for n, p in self.procs.items() if p.poll() is not None]

    def remember(self, pid: int) -> None:
        try:
            import psutil

            self._known.setdefault(pid, psutil.Process(pid))
        except Exception:
            pass

    def remember_descendants(self) -> None:
        """Record the current descendants (in case they get re-parented before teardown)."""
        try:
            import psutil
        except ImportError:  # pragma: no cover - psutil ships with ray
            return
        roots = [p for n, p in self._known.items()] + list(self.extra)
        for root in roots:
            try:
                for child in root.children(recursive=True):
                    self._known.setdefault(child.pid, child)
            except psutil.Error:
                pass

    def alive(self) -> list[Any]:
        """Remembered processes still running (zombies count as gone)."""
        self.remember_descendants()
        return [p for p in {**self._known, **{x.pid: x for x in self.extra}}.values()
                if _running(p)]

    def teardown(self, grace: float = 5.0) -> list[int]:
        """Stop everything; returns the PIDs that had to be killed with SIGKILL."""
        try:
            import psutil
        except ImportError:  # pragma: no cover
            psutil = None
        targets = self.alive()
        for p in self.procs.values():  # unreaped leader => its group id is still ours
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    pass
        for proc in targets:
            try:
                proc.terminate()  # psutil refuses if the PID was reused
            except Exception:
                pass
        deadline = time.monotonic() + grace
        for p in self.procs.values():
            try:
                p.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                pass
        killed: list[int] = []
        if psutil is not None and targets:
            _, left = psutil.wait_procs([p for p in targets if _running(p)],
                                        timeout=max(deadline - time.monotonic(), 0.01))
            left = [p for p in left if _running(p)]
            for proc in left:
                try:
                    proc.kill()
                    killed.append(proc.pid)
                except psutil.Error:
                    pass
            if left:
                psutil.wait_procs(left, timeout=3)
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    p.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    pass
        return killed

    def logs_tail(self, lines: int = 25) -> str:
        parts = []
        causes = []
        for path in self.logs.values():
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for ln in text.splitlines():
                if re.match(r"^\s*[\w.]*(Exception|Error): ", ln) and ln.strip() not in causes:
                    causes.append(ln.strip())
        if causes:
            parts.append("errors seen in the logs:\n  " + "\n  ".join(causes[:8]))
        for name, path in self.logs.items():
            text = tail(path, lines)
            if text:
                parts.append(f"--- {path} (last lines) ---\n{text}")
        return "\n".join(parts)


def _running(proc) -> bool:
    try:
        import psutil

        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except Exception:
        return False


def normalize_nodes(nodes: list[dict], workdir: Path) -> list[dict]:
    """Each node dict with a unique label (``hospital``, default H01...) and a work-dir."""
    if not nodes:
        raise UsageError("at least one hospital (node) is needed")
    out, seen = [], set()
    for i, node in enumerate(nodes):
        node = {str(k): v for k, v in dict(node).items()}
        label = str(node.get("hospital") or f"H{i + 1:02d}")
        if label in seen:
            raise UsageError(f"two hospitals have the label {label!r}")
        seen.add(label)
        node["hospital"] = label
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", label):
            raise UsageError(f"hospital label {label!r}: use letters, digits, '_', '-', '.'")
        node["work-dir"] = str(Path(node.get("work-dir") or workdir / "nodes" / label / "work")
                               .resolve())
        for key in ("data-path", "key-path"):
            if key in node and node[key] is not None:
                node[key] = str(Path(node[key]).resolve())
        for k, v in list(node.items()):
            if v is None:
                del node[k]
            else:
                toml_value(v)  # raises UsageError for unsupported values
        out.append(node)
    return out


# What one run leaves in its folder that the next run must not read: Flower's
# config and state, logs (the startup wait counts "Activated node_id" lines, so a
# previous run's lines would let it start `flwr run` before the SuperLink is up),
# Ray's session, and the coordinator's output. Hospitals' work folders stay:
# their caches are keyed by the data file's identity.
RUN_STATE = ("logs", "flwr_home", "ray", "output.json", "progress.jsonl", "status.json", "job.json",
             "run_config.toml", "nodes.json")


def clear_run_state(workdir: Path) -> None:
    """Remove what an earlier run left in ``workdir``, so every run starts clean in a reused folder."""
    import shutil

    targets = [workdir / name for name in RUN_STATE]
    nodes_dir = workdir / "nodes"
    if nodes_dir.is_dir():
        for ndir in nodes_dir.iterdir():
            targets += [ndir / "flwr_home", ndir / "node_config.toml"]
    for target in targets:
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)


def prepare(job: dict, nodes: list[dict], workdir: Path, protocol: str = DEFAULT_PROTOCOL
            ) -> tuple[dict, list[dict], Path]:
    """Create the run folder; returns (job with output/progress_file, normalized nodes, workdir).

    The engine starts the hospitals too, so it writes their node config: each
    hospital answers with its own handler of ``protocol``.
    """
    if protocol not in PROTOCOLS:
        raise UsageError(f"unknown protocol {protocol!r}; known: {', '.join(sorted(PROTOCOLS))}")
    workdir = Path(workdir).resolve()
    clear_run_state(workdir)
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    nodes = [{**node, "protocol": protocol} for node in normalize_nodes(nodes, workdir)]
    for node in nodes:
        Path(node["work-dir"]).mkdir(parents=True, exist_ok=True)
    job = dict(job)
    job["output"] = str(workdir / "output.json")
    job["progress_file"] = str(workdir / "progress.jsonl")
    (workdir / "job.json").write_text(json.dumps(job, indent=1), encoding="utf-8")
    return job, nodes, workdir


def write_run_config(workdir: Path, *, protocol: str, expected_nodes: int,
                     timeout: float, node_timeout: float, poll_interval: float,
                     nodes_file: str = "") -> Path:
    path = workdir / "run_config.toml"
    path.write_text(toml_dumps({
        "job-file": str(workdir / "job.json"),
        "protocol": protocol,
        "expected-nodes": int(expected_nodes),
        "node-timeout": float(node_timeout),
        "exchange-timeout": float(timeout),
        "poll-interval": float(poll_interval),
        "status-file": str(workdir / "status.json"),
        "nodes-file": nodes_file,
    }), encoding="utf-8")
    return path


def read_status(workdir: Path) -> dict | None:
    try:
        return json.loads((workdir / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def watch_run(procs: ProcessGroup, runner: str, workdir: Path, tracker: ProgressTail,
              deadline: float, must_live: list[str]) -> dict:
    """Wait for the ServerApp's status file (or a failure); relays progress meanwhile."""
    run_proc = procs.procs[runner]
    status = None
    exited_at = None
    while True:
        tracker.poll()
        status = read_status(workdir)
        if status is not None:
            # Give `flwr run --stream` a moment to drain the run's logs, no more.
            t_end = time.monotonic() + 1.0
            while run_proc.poll() is None and time.monotonic() < t_end:
                time.sleep(0.05)
            break
        if run_proc.poll() is not None:
            # The run command ended without a status: wait briefly for a late status file.
            exited_at = exited_at or time.monotonic()
            if time.monotonic() - exited_at > 3.0:
                break
        dead = [n for n in must_live if procs.procs[n].poll() is not None]
        if dead:
            time.sleep(0.3)
            status = read_status(workdir)
            if status is None:
                raise FederationError(
                    f"{', '.join(dead)} stopped unexpectedly during the run\n" + procs.logs_tail())
            break
        if time.monotonic() > deadline:
            raise FederationError("the federated run did not finish within its time limit\n"
                                  + procs.logs_tail())
        time.sleep(0.05)
    tracker.poll()
    if status is None:
        raise FederationError(
            f"the federated run ended without a result (`flwr run` exit code "
            f"{run_proc.poll()})\n" + procs.logs_tail())
    if not status.get("ok"):
        raise status_error(status, workdir)
    return status


def status_error(status: dict, workdir: Path) -> Exception:
    """The exception for a failed ServerApp status: fedcost errors keep their class and message."""
    from fedcost import errors

    kind = status.get("error_type", "")
    message = status.get("message") or status.get("error") or "unknown error"
    tb = status.get("traceback", "")
    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, errors.FedcostError):
        exc = cls(message)
    else:  # a bug or an unexpected failure in the coordinator: show where
        tb_tail = "\n".join(tb.rstrip().splitlines()[-12:])
        exc = FederationError(f"the coordinator failed: {kind}: {message}\n{tb_tail}\n"
                              f"(run folder: {workdir})")
    exc.traceback = tb  # type: ignore[attr-defined]
    exc.workdir = str(workdir)  # type: ignore[attr-defined]
    return exc


def read_output(job: dict) -> dict:
    try:
        return json.loads(Path(job["output"]).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FederationError(f"the coordinator wrote no output ({job['output']})") from None
    except ValueError as err:
        raise FederationError(f"the coordinator's output {job['output']} is not JSON: {err}"
                              ) from None


# --------------------------------------------------------------------------- engine
def run(job: dict, nodes: list[dict], workdir: Path, *,
        protocol: str = DEFAULT_PROTOCOL,
        timeout: float = 900,
        progress: Callable[[dict], None] | None = None,
        node_timeout: float = 120.0,
        poll_interval: float = 0.1) -> dict:
    """Run ``job`` on a fresh local federation of one SuperNode per entry of ``nodes``.

    ``nodes``: one dict per hospital with ``data-path``, ``key-path``, ``hospital``
    (label; default H01, H02...), optional ``work-dir`` (default
    ``workdir/nodes/<label>/work``) and any other str/int/float/bool settings;
    each becomes that SuperNode's ``--node-config`` and reaches the hospital
    handler as its ``node`` dict. ``job`` gets ``output`` and ``progress_file``
    (inside ``workdir``) and is written to ``workdir/job.json`` for the
    coordinator. ``progress(dict)`` is called for each progress line (default: a
    one-line summary per round on stderr). ``timeout`` bounds the whole run.

    Returns the coordinator's output JSON plus ``startup_seconds`` (until all
    SuperNodes are active), ``run_seconds`` (``flwr run`` until the result) and
    ``teardown_seconds``. Raises FederationError (with the relevant log tails) on
    failure; every process started here is stopped before returning or raising.
    """
    t0 = time.monotonic()
    job, nodes, workdir = prepare(job, nodes, workdir, protocol)
    logs = workdir / "logs"
    app_dir = federated_app_dir()
    home = workdir / "flwr_home"
    home.mkdir(exist_ok=True)
    ports = free_ports(1 + len(nodes))
    link = f"127.0.0.1:{ports[0]}"
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "{FEDERATION}"\n\n'
        f'[superlink.{FEDERATION}]\naddress = "{link}"\ninsecure = true\n', encoding="utf-8")
    run_config = write_run_config(workdir, protocol=protocol,
                                  expected_nodes=len(nodes), timeout=timeout,
                                  node_timeout=node_timeout, poll_interval=poll_interval)
    deadline = t0 + timeout
    procs = ProcessGroup(logs)
    tracker = ProgressTail(Path(job["progress_file"]), progress)
    timings: dict[str, float] = {}
    try:
        procs.start("superlink", [
            flower_exe("flower-superlink"), "--insecure", "--host", "127.0.0.1",
            "--port", str(ports[0]), "--disable-runtime-dependency-installation",
        ], flower_env(home), cwd=workdir)
        names = []
        for node, port in zip(nodes, ports[1:]):
            label = node["hospital"]
            ndir = workdir / "nodes" / label
            (ndir / "flwr_home").mkdir(parents=True, exist_ok=True)
            cfg = ndir / "node_config.toml"
            cfg.write_text(toml_dumps(node), encoding="utf-8")
            name = f"supernode-{label}"
            cmd = [flower_exe("flower-supernode"), "--insecure", "--superlink", link,
                   "--host", "127.0.0.1", "--port", str(port), "--node-config", str(cfg)]
            procs.start(name, cmd, flower_env(ndir / "flwr_home"), cwd=ndir)
            names.append(name)
        _wait_active(procs, logs / "superlink.log", len(nodes),
                     min(t0 + node_timeout, deadline))
        timings["startup_seconds"] = time.monotonic() - t0
        t1 = time.monotonic()
        procs.start("flwr-run", [
            flower_exe("flwr"), "run", str(app_dir), FEDERATION, "--stream",
            "--run-config", str(run_config),
        ], flower_env(home), cwd=workdir)
        status = watch_run(procs, "flwr-run", workdir, tracker, deadline,
                           must_live=["superlink", *names])
        timings["run_seconds"] = time.monotonic() - t1
        out = read_output(job)
    finally:
        t2 = time.monotonic()
        procs.teardown()
        from fedcost.federation.relay import stop_workers

        stop_workers(workdir)
        timings["teardown_seconds"] = time.monotonic() - t2
    out.update(timings)
    out.setdefault("engine", "deployment")
    out["transport"] = {k: status.get(k) for k in ("exchanges", "exchange_seconds",
                                                   "bytes_received", "node_labels")}
    return out


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
