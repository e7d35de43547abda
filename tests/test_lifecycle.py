"""The one shape of an engine run, with a start of our own (no Flower): output, timings, teardown hooks."""
import json

import pytest

from fedcost.engines.lifecycle import run_engine
from fedcost.errors import FederationError


def test_output_timings_and_hooks(tmp_path):
    hooks = []

    def start(run, procs, tracker, deadline, timings):
        (run.workdir / "output.json").write_text(json.dumps({"answer": len(run.nodes)}))
        timings["startup_seconds"] = 0.0
        return {"exchanges": 1}

    out = run_engine("test", start, {}, [{"hospital": "A"}, {"hospital": "B"}], tmp_path / "run",
                     teardown=[hooks.append])
    assert out["answer"] == 2 and out["engine"] == "test" and out["transport"]["exchanges"] == 1
    assert "teardown_seconds" in out and hooks == [(tmp_path / "run").resolve()]


def test_hooks_run_when_the_start_fails(tmp_path):
    hooks = []

    def start(run, procs, tracker, deadline, timings):
        raise FederationError("a hospital died")

    with pytest.raises(FederationError, match="a hospital died"):
        run_engine("test", start, {}, [{"hospital": "A"}], tmp_path / "run", teardown=[hooks.append])
    assert len(hooks) == 1
