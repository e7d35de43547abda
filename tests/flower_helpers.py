"""Helpers for the engine tests: echo hospitals, the expected echo results, a watch on the processes.

Not a test module: the deployment, simulation and local engine tests share it.
"""
from __future__ import annotations

import os
from pathlib import Path

import psutil

ECHO = {"protocol": "echo"}
ROWS = {"H01": 4, "H02": 7, "H03": 11}


def make_nodes(folder: Path, rows: dict[str, int] = ROWS) -> list[dict]:
    nodes = []
    for label, n in rows.items():
        path = folder / f"{label}.csv"
        path.write_text("id,cost\n" + "".join(f"{i},{10 * i}\n" for i in range(n)))
        nodes.append({"data-path": str(path), "hospital": label})
    return nodes


def expected(rounds: int, rows: dict[str, int] = ROWS) -> dict:
    return {h: {"rows": n, "values": [1000 * r + n for r in range(1, rounds + 1)]}
            for h, n in rows.items()}


def flower_processes_under(folder: Path) -> list[str]:
    """Running (non-zombie) processes whose command line or FLWR_HOME points into ``folder``."""
    needle = str(folder)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "name"]):
        try:
            if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            cmd = " ".join(proc.info.get("cmdline") or [])
            home = proc.environ().get("FLWR_HOME", "") if needle not in cmd else needle
            if needle in cmd or home.startswith(needle):
                found.append(f"{proc.pid} {cmd[:120]}")
        except psutil.Error:
            continue
    return found


class ChildWatcher:
    """Progress callback that snapshots this process's descendants while the run is live."""

    def __init__(self) -> None:
        self.seen: dict[int, psutil.Process] = {}
        self.cmdlines: set[str] = set()
        self.lines: list[dict] = []
        self.telemetry: dict[str, str | None] = {}  # command -> FLWR_TELEMETRY_ENABLED in its environment

    def __call__(self, line: dict) -> None:
        self.lines.append(line)
        for child in psutil.Process().children(recursive=True):
            if child.pid not in self.seen:
                self.seen[child.pid] = child
                try:
                    cmd = " ".join(child.cmdline()[:2])
                    self.cmdlines.add(cmd)
                    self.telemetry[cmd] = child.environ().get("FLWR_TELEMETRY_ENABLED")
                except psutil.Error:
                    pass

    def names(self) -> set[str]:
        return set(self.cmdlines)

    def survivors(self) -> list[str]:
        """'PID command' of every process seen during the run that still runs."""
        alive = []
        for p in self.seen.values():
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(f"{p.pid} {' '.join(p.cmdline())[:160]} (parent {p.ppid()})")
            except psutil.Error:
                pass
        return alive


def run_echo(run, folder: Path, rounds: int, timeout: float) -> tuple[dict, "ChildWatcher", list[dict]]:
    """An engine's ``run`` of the echo protocol over the three echo hospitals, watched: (output, watch,
    nodes), once its results equal the expected echo and its hospitals are the three."""
    nodes = make_nodes(folder)
    watch = ChildWatcher()
    out = run({"rounds": rounds}, nodes, folder / "run", timeout=timeout, progress=watch, **ECHO)
    assert out["results"] == expected(rounds)
    assert sorted(out["transport"]["node_labels"].values()) == sorted(ROWS)
    return out, watch, nodes
