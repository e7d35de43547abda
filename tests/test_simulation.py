"""Simulation engine: the echo protocol on Flower's simulation runtime gives the deployment's results."""
from __future__ import annotations

import pytest

from fedcost.engines import simulation

from flower_helpers import ECHO, ChildWatcher, expected, flower_processes_under, make_nodes


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_simulation_runs_echo_with_the_same_results(tmp_path):
    nodes = make_nodes(tmp_path)
    watch = ChildWatcher()
    out = simulation.run({"rounds": 3}, nodes, tmp_path / "run", timeout=280,
                         progress=watch, **ECHO)
    assert out["results"] == expected(3)
    assert out["engine"] == "simulation"
    assert sorted(out["transport"]["node_labels"].values()) == ["H01", "H02", "H03"]
    # once Ray is up, rounds are fast
    assert max(out["round_seconds"][1:]) < 5
    # the detached local SuperLink, SuperExec, flwr-simulation and Ray are gone
    assert watch.survivors() == []
    assert flower_processes_under(tmp_path) == []
