"""Typed run descriptions: nodes normalised once, the node config as TOML, a reused folder cleared."""
from __future__ import annotations

from pathlib import Path

import pytest

from fedcost.engines import jobs
from fedcost.errors import UsageError


def test_clear_run_state_keeps_hospital_work_folders(tmp_path):
    run = tmp_path / "run"
    for rel in ("logs/superlink.log", "flwr_home/config.toml", "output.json", "status.json",
                "nodes/H01/flwr_home/x", "nodes/H01/node_config.toml", "nodes/H01/work/cache/k.pkl"):
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_text("old")
    jobs.clear_run_state(run)
    left = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    assert left == ["nodes/H01/work/cache/k.pkl"]


def test_node_config_toml_round_trips_odd_values(tmp_path):
    import tomllib

    node = {"data-path": str(tmp_path / 'a "quoted" dir with spaces/ünï.csv'),
            "hospital": "H01", "rows": 3, "scale": 0.5, "strict": True}
    text = jobs.toml_dumps(node)
    assert tomllib.loads(text) == node
    from flwr.common.config import parse_config_args

    path = tmp_path / "node.toml"
    path.write_text(text, encoding="utf-8")
    assert parse_config_args([str(path)]) == node


def test_nodes_are_labelled_and_get_private_work_dirs(tmp_path):
    nodes = jobs.normalize_nodes([{"data-path": "a.csv"}, {"data-path": "b.csv", "hospital": "X"}], tmp_path)
    assert [n.label for n in nodes] == ["H01", "X"]
    assert nodes[0].work_dir != nodes[1].work_dir
    assert all(n.work_dir.is_relative_to(tmp_path) for n in nodes)
    with pytest.raises(UsageError, match="two hospitals have the label 'A'"):
        jobs.normalize_nodes([{"hospital": "A"}, {"hospital": "A"}], tmp_path)
    with pytest.raises(UsageError, match="use letters"):
        jobs.normalize_nodes([{"hospital": "../etc"}], tmp_path)


def test_a_node_config_round_trips_through_normalisation(tmp_path):
    """The flat node config a hospital's handler gets is normalised once: again gives the same."""
    node = jobs.normalize_nodes([{"data-path": "a.csv", "key-path": "k", "encoding": "gbk"}], tmp_path, "echo")[0]
    config = node.config()
    assert config == {"encoding": "gbk", "hospital": "H01", "work-dir": str(node.work_dir), "protocol": "echo",
                      "data-path": str(Path("a.csv").resolve()), "key-path": str(Path("k").resolve())}
    assert jobs.normalize_nodes([config], tmp_path, "echo")[0] == node


def test_prepare_refuses_an_unknown_protocol(tmp_path):
    with pytest.raises(UsageError, match="unknown protocol"):
        jobs.prepare({}, [{"data-path": "a.csv"}], tmp_path, protocol="os:system")
