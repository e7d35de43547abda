"""Deployment engine end to end: real flower-superlink + 3 flower-supernode processes on 127.0.0.1.

Runs the echo protocol (fedcost.engines.echo) so the plumbing is tested without
the statistics; checks the results, that a failing hospital is named in a
FederationError, and that no Flower process started by the test survives.
"""
from __future__ import annotations

import pytest

from fedcost.engines import deployment
from fedcost.errors import FederationError
from flower_helpers import ECHO, ROWS, ChildWatcher, expected, flower_processes_under, make_nodes, run_echo


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_deployment_runs_echo_end_to_end_and_leaves_nothing(tmp_path):
    out, watch, nodes = run_echo(deployment.run, tmp_path, 2, timeout=200)
    assert out["hospitals"] == sorted(ROWS)
    assert out["engine"] == "deployment"
    assert out["startup_seconds"] > 0 and out["run_seconds"] > 0
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
    # Flower's telemetry is off in every process the run started (its children inherit the setting)
    assert watch.telemetry and set(watch.telemetry.values()) == {"0"}, watch.telemetry
    # ... and none survives
    assert watch.survivors() == []
    assert flower_processes_under(tmp_path) == []

    # Users rerun: a second run in the same folder must not read the first run's logs, config or output
    second = deployment.run({"rounds": 1}, nodes, tmp_path / "run", timeout=200, progress=lambda _: None, **ECHO)
    assert second["results"] == expected(1)
    log = (tmp_path / "run" / "logs" / "superlink.log").read_text()
    assert log.count("Activated node_id") == 3  # this run's three nodes only
    assert flower_processes_under(tmp_path) == []


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
    # the coordinator learns which hospital failed and a reason code; the path and the error stay at H02
    assert "H02" in msg and "internal_error" in msg and "missing.csv" not in msg
    assert "FileNotFoundError" in (tmp_path / "run" / "logs" / "supernode-H02.log").read_text()
    assert watch.survivors() == []
    assert flower_processes_under(tmp_path) == []
