"""The local engine carries the same messages in one process: the echo protocol gives the engines' answer."""
from fedcost.engines import local
from flower_helpers import ECHO, expected, make_nodes


def test_echo_in_one_process(tmp_path):
    out = local.run({"rounds": 2, "output": str(tmp_path / "o.json"), "progress_file": str(tmp_path / "p")},
                    make_nodes(tmp_path), tmp_path / "run", **ECHO)
    assert out["results"] == expected(2) and out["engine"] == "local"
