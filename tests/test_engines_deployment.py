"""Deployment engine end to end: real flower-superlink + 3 flower-supernode processes on 127.0.0.1.

Runs the echo protocol (fedcost.engines.echo) so the plumbing is tested without
the statistics; checks the results, that a failing hospital is named in a
FederationError, and that no Flower process started by the test survives.
"""
from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from fedcost.engines import deployment
from fedcost.errors import FederationError

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

    def __call__(self, line: dict) -> None:
        self.lines.append(line)
        for child in psutil.Process().children(recursive=True):
            if child.pid not in self.seen:
                self.seen[child.pid] = child
                try:
                    self.cmdlines.add(" ".join(child.cmdline()[:2]))
                except psutil.Error:
                    pass

    def names(self) -> set[str]:
        return set(self.cmdlines)

    def survivors(self) -> list[int]:
        alive = []
        for p in self.seen.values():
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p.pid)
            except psutil.Error:
                pass
        return alive


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_deployment_runs_echo_end_to_end_and_leaves_nothing(tmp_path):
    nodes = make_nodes(tmp_path)
    watch = ChildWatcher()
    out = deployment.run({"rounds": 2}, nodes, tmp_path / "run", timeout=200,
                         progress=watch, **ECHO)
    assert out["results"] == expected(2)
    assert out["hospitals"] == sorted(ROWS)
    assert out["engine"] == "deployment"
    assert out["startup_seconds"] > 0 and out["run_seconds"] > 0
    assert sorted(out["transport"]["node_labels"].values()) == sorted(ROWS)
    assert all(b > 0 for b in out["bytes_from_each_hospital"].values())
    assert [ln["round"] for ln in watch.lines if ln.get("event") == "round"] == [1, 2]
    # the run folder holds what the contract says
    run = tmp_path / "run"
    assert (run / "job.json").exists() and (run / "flwr_home" / "config.toml").exists()
    assert (run / "logs" / "superlink.log").exists()
    assert len(list((run / "logs").glob("supernode-*.log"))) == 3
    # real Flower processes were running during the run ...
    names = " ".join(watch.names())
    assert "flower-superlink" in names and "flower-supernode" in names
    # ... and none survives
    assert watch.survivors() == []
    assert flower_processes_under(tmp_path) == []


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_second_run_in_the_same_folder_starts_clean(tmp_path):
    """Users rerun: the second run must not read the first run's logs, config or output."""
    nodes = make_nodes(tmp_path)
    first = deployment.run({"rounds": 1}, nodes, tmp_path / "run", timeout=200, progress=lambda _: None, **ECHO)
    second = deployment.run({"rounds": 2}, nodes, tmp_path / "run", timeout=200, progress=lambda _: None,
                            **ECHO)
    assert first["results"] == expected(1) and second["results"] == expected(2)
    log = (tmp_path / "run" / "logs" / "superlink.log").read_text()
    assert log.count("Activated node_id") == 3  # this run's three nodes only
    assert flower_processes_under(tmp_path) == []


def test_clear_run_state_keeps_hospital_work_folders(tmp_path):
    run = tmp_path / "run"
    for rel in ("logs/superlink.log", "flwr_home/config.toml", "output.json", "status.json",
                "nodes/H01/flwr_home/x", "nodes/H01/node_config.toml", "nodes/H01/work/cache/k.pkl"):
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_text("old")
    deployment.clear_run_state(run)
    left = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    assert left == ["nodes/H01/work/cache/k.pkl"]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_failing_hospital_is_named_and_everything_stops(tmp_path):
    nodes = make_nodes(tmp_path)
    nodes[1]["data-path"] = str(tmp_path / "missing.csv")  # H02's handler raises
    watch = ChildWatcher()
    with pytest.raises(FederationError) as err:
        deployment.run({"rounds": 2}, nodes, tmp_path / "run", timeout=200,
                       progress=watch, **ECHO)
    msg = str(err.value)
    assert "H02" in msg and "FileNotFoundError" in msg and "missing.csv" in msg
    assert watch.survivors() == []
    assert flower_processes_under(tmp_path) == []


def test_node_config_toml_round_trips_odd_values(tmp_path):
    import tomllib

    node = {"data-path": str(tmp_path / 'a "quoted" dir with spaces/ünï.csv'),
            "hospital": "H01", "rows": 3, "scale": 0.5, "strict": True}
    text = deployment.toml_dumps(node)
    assert tomllib.loads(text) == node
    from flwr.common.config import parse_config_args

    path = tmp_path / "node.toml"
    path.write_text(text, encoding="utf-8")
    assert parse_config_args([str(path)]) == node


def test_nodes_are_labelled_and_get_private_work_dirs(tmp_path):
    nodes = deployment.normalize_nodes([{"data-path": "a.csv"}, {"data-path": "b.csv",
                                                                  "hospital": "X"}], tmp_path)
    assert [n["hospital"] for n in nodes] == ["H01", "X"]
    assert nodes[0]["work-dir"] != nodes[1]["work-dir"]
    assert all(Path(n["work-dir"]).is_relative_to(tmp_path) for n in nodes)
    with pytest.raises(Exception):
        deployment.normalize_nodes([{"hospital": "A"}, {"hospital": "A"}], tmp_path)


def test_free_ports_are_distinct():
    ports = deployment.free_ports(5)
    assert len(set(ports)) == 5 and all(p > 0 for p in ports)
