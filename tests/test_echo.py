"""The echo protocol (the engines' plumbing test), run in-process by the local engine."""
from __future__ import annotations

import json

from fedcost.engines import echo, local
from fedcost.engines.local import LocalTransport


def _nodes(tmp_path, rows: dict[str, int]) -> list[dict]:
    nodes = []
    for label, n in rows.items():
        path = tmp_path / f"{label}.csv"
        path.write_text("id,cost\n" + "".join(f"{i},{i * 3}\n" for i in range(n)), encoding="utf-8")
        nodes.append({"hospital": label, "data-path": str(path)})
    return nodes


def test_count_rows_excludes_the_header_and_counts_quoted_newlines_once(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text('id,note\n1,"two\nlines"\n2,x\n', encoding="utf-8")
    assert echo.count_rows(str(path)) == 2
    path.write_text("id,note\n", encoding="utf-8")
    assert echo.count_rows(str(path)) == 0
    path.write_text("", encoding="utf-8")
    assert echo.count_rows(str(path)) == 0


def test_a_hospital_adds_its_row_count_to_the_number(tmp_path):
    (node,) = _nodes(tmp_path, {"H09": 6})
    reply = json.loads(echo.handle(json.dumps({"round": 2, "number": 2000}).encode(), node))
    assert (reply["hospital"], reply["round"], reply["rows"], reply["value"]) == ("H09", 2, 6, 2006)
    assert isinstance(reply["handled_at"], float)


def test_serve_over_a_local_transport_records_rounds_replies_and_bytes(tmp_path):
    rows = {"H01": 2, "H02": 5}
    transport = LocalTransport(_nodes(tmp_path, rows), echo.handle)
    job = {"rounds": 3, "offset": 7, "output": str(tmp_path / "out.json"), "progress_file": str(tmp_path / "p")}
    assert echo.serve(job, transport) is None  # it writes its output file
    out = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    # value = 1000 x round + offset + rows
    assert out["results"] == {"H01": {"rows": 2, "values": [1009, 2009, 3009]},
                              "H02": {"rows": 5, "values": [1012, 2012, 3012]}}
    assert out["protocol"] == "echo" and out["rounds"] == 3 and out["hospitals"] == ["H01", "H02"]
    assert len(out["round_seconds"]) == 3 and all(s >= 0 for s in out["round_seconds"])
    assert set(out["bytes_from_each_hospital"]) == {"H01", "H02"}
    assert out["bytes_from_each_hospital"] == {"H01": transport.bytes_received[1], "H02": transport.bytes_received[2]}
    assert all(b > 3 * len('{"round": 1}') for b in out["bytes_from_each_hospital"].values())
    events = [json.loads(line)["event"] for line in (tmp_path / "p").read_text().splitlines()]
    assert events == ["start", "round", "round", "round", "done"]


def test_the_local_engine_runs_echo_and_reads_its_output(tmp_path):
    out = local.run({"rounds": 1, "output": str(tmp_path / "o.json")}, _nodes(tmp_path, {"A1": 3, "B2": 0}),
                    tmp_path / "run", protocol="echo")
    assert out["engine"] == "local"
    assert out["results"] == {"A1": {"rows": 3, "values": [1003]}, "B2": {"rows": 0, "values": [1000]}}
