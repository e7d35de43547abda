"""Process management for the engines: start, watch, tear down, log tails, environment.

Used by the deployment and the simulation engine alike (and, through
``fedcost.engines.lifecycle``, by every run): processes are started in their
own sessions, remembered with their descendants, and torn down together; the
coordinator's progress lines and the ServerApp's status file are watched; the
Flower environment (private FLWR_HOME, telemetry off, short polls) is set here
and nowhere else.
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

from fedcost.errors import FederationError

# Flower knobs that cut round latency (see bench/round_latency.py):
# the SuperExec polls its Runtime API for new ClientApp/ServerApp tasks every
# FLWR_SUPEREXEC_TASK_POLL_INTERVAL seconds (Flower's default 1.0; ours below
# unless the caller's environment sets it). Measured idle CPU of a SuperLink +
# 3 SuperNodes (4 SuperExecs): 7 % of a core at 1.0, 16 % at 0.2, 60 % at
# 0.05, which slows the ClientApp starts it was meant to speed up: 0.2.
TASK_POLL_INTERVAL = "0.2"


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


def print_progress(line: dict) -> None:
    event = line.get("event", "?")
    if event == "round":
        extras = " ".join(f"{k}={v}" for k, v in line.items()
                          if k not in ("event", "round", "seconds", "time"))
        print(f"[fedcost] round {line.get('round')}: {line.get('seconds', '?')} s {extras}".rstrip(),
              file=sys.stderr, flush=True)
    else:
        extras = " ".join(f"{k}={v}" for k, v in line.items() if k not in ("event", "time"))
        print(f"[fedcost] {event} {extras}".rstrip(), file=sys.stderr, flush=True)


class ProgressTail:
    """Reads complete new JSON lines appended to the progress file and hands them on."""

    def __init__(self, path: Path, callback: Callable[[dict], None] | None) -> None:
        self.path = Path(path)
        self.callback = callback or print_progress
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
        # Called at teardown: finders return more psutil.Process objects to stop (processes that
        # left our tree, e.g. a SuperLink that `flwr run` detached); cleanups run after the stop.
        self.finders: list[Callable[[], list]] = []
        self.cleanups: list[Callable[[], object]] = []
        self._known: dict[int, Any] = {}

    def start(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path | None = None,
              user: tuple[int, int] | None = None, groups: list[int] | None = None) -> subprocess.Popen:
        """Start ``cmd`` logging to ``name``.log; ``user``: (uid, gid) to run it as (needs root), with no
        supplementary groups but ``groups``."""
        log = self.log_dir / f"{name}.log"
        self.logs[name] = log
        as_user = {"user": user[0], "group": user[1], "extra_groups": list(groups or [])} if user else {}
        with open(log, "wb") as fh:  # one run, one log: a reused folder starts empty
            proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, **as_user)
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
                if running(p)]

    def teardown(self, grace: float = 5.0) -> list[int]:
        """Stop everything; returns the PIDs that had to be killed with SIGKILL."""
        try:
            import psutil
        except ImportError:  # pragma: no cover
            psutil = None
        for find in self.finders:
            try:
                self.extra.extend(find())
            except Exception:  # noqa: BLE001 - a finder must not stop the teardown
                pass
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
            _, left = psutil.wait_procs([p for p in targets if running(p)],
                                        timeout=max(deadline - time.monotonic(), 0.01))
            left = [p for p in left if running(p)]
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
        killed += self._sweep_late(psutil)
        for cleanup in self.cleanups:
            try:
                cleanup()
            except Exception:  # noqa: BLE001 - one failing cleanup must not skip the others
                pass
        return killed

    def _sweep_late(self, psutil, seconds: float = 10.0) -> list[int]:
        """Until none is left (at most ``seconds``): processes started while the group was being stopped
        (a SuperExec's ServerApp or ClientApp launched in the last moment, orphaned when its parent
        died), found as remembered descendants still running or by their FLWR_HOME inside the run
        folder (every process of a run inherits it), killed and waited for."""
        if psutil is None:
            return []
        root = str(self.log_dir.parent)
        ours = {os.getpid()} | {p.pid for p in psutil.Process().parents()}  # never this process or its callers
        killed: list[int] = []
        deadline = time.monotonic() + seconds
        quiet = 0  # consecutive scans that found nothing: an orphan may appear just after its parent died
        while time.monotonic() < deadline and quiet < 2:
            late = {p.pid: p for p in self.alive()}
            for proc in psutil.process_iter(["pid", "cmdline"]):
                try:
                    if proc.pid in ours or not running(proc):
                        continue
                    cmd = proc.info.get("cmdline") or []
                    flower = any(Path(arg).name.startswith(("flower-", "flwr")) for arg in cmd[:3])
                    if proc.environ().get("FLWR_HOME", "").startswith(root) or \
                            (flower and any(root in arg for arg in cmd)):
                        late.setdefault(proc.pid, proc)
                except psutil.Error:
                    continue
            if not late:
                quiet += 1
                time.sleep(0.3)
                continue
            quiet = 0
            for proc in late.values():
                try:
                    proc.kill()
                    killed.append(proc.pid)
                except psutil.Error:
                    pass
            psutil.wait_procs(list(late.values()), timeout=2)
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


def running(proc) -> bool:
    try:
        import psutil

        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except Exception:
        return False


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


