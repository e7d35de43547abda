"""A trivial protocol to test the Flower plumbing end to end (and to time rounds).

Coordinator (``serve``): for ``job["rounds"]`` rounds (default 3) sends every
hospital the number ``1000 * round + job.get("offset", 0)``; each hospital
(``handle``) replies with that number plus the row count of its CSV file
(``node["data-path"]``, read with the csv module) and its label. The output
JSON (``job["output"]``) holds the replies per hospital label, each round's
seconds, and the bytes received per hospital; one progress line per round goes
to ``job["progress_file"]``.

Entry points: ``fedcost.engines.echo:serve`` and ``fedcost.engines.echo:handle``.
"""
from __future__ import annotations

import csv
import json
import time


def _progress(job: dict, line: dict) -> None:
    path = job.get("progress_file")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")


def serve(job: dict, transport) -> None:
    """Coordinator side: ``job["rounds"]`` dependent rounds of request/reply."""
    rounds = int(job.get("rounds", 3))
    offset = int(job.get("offset", 0))
    t_start = time.monotonic()
    nodes = transport.nodes()
    _progress(job, {"event": "start", "hospitals": len(nodes),
                    "seconds": round(time.monotonic() - t_start, 3)})
    results: dict[str, dict] = {}
    round_seconds = []
    timeline = []
    for r in range(1, rounds + 1):
        t0 = time.monotonic()
        sent_at = time.time()
        number = 1000 * r + offset
        request = json.dumps({"round": r, "number": number}).encode()
        replies = transport.exchange({n: request for n in nodes})
        dt = time.monotonic() - t0
        done_at = time.time()
        round_seconds.append(dt)
        phases = {}
        for node, raw in replies.items():
            rep = json.loads(raw)
            if rep["round"] != r:
                raise RuntimeError(f"node {node} answered round {rep['round']} in round {r}")
            entry = results.setdefault(rep["hospital"], {"rows": rep["rows"], "values": []})
            entry["values"].append(rep["value"])
            started, handled = rep.get("process_started"), rep.get("handled_at")
            if started and handled:
                # until the hospital's ClientApp process exists / its handler runs / reply back
                phases[rep["hospital"]] = {"to_process": round(started - sent_at, 3),
                                           "process_to_handler": round(handled - started, 3),
                                           "handler_to_server": round(done_at - handled, 3),
                                           "process_cpu": rep.get("process_cpu")}
        timeline.append(phases)
        _progress(job, {"event": "round", "round": r, "hospitals": len(replies),
                        "seconds": round(dt, 3)})
    labels = transport.node_labels()
    out = {
        "protocol": "echo",
        "rounds": rounds,
        "hospitals": sorted(results),
        "results": {k: results[k] for k in sorted(results)},
        "round_seconds": round_seconds,
        "timeline": timeline,
        "bytes_from_each_hospital": {labels.get(n, str(n)): b
                                     for n, b in sorted(transport.bytes_received.items())},
        "seconds": time.monotonic() - t_start,
    }
    with open(job["output"], "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)
    _progress(job, {"event": "done", "rounds": rounds,
                    "seconds": round(time.monotonic() - t_start, 3)})


def count_rows(path: str) -> int:
    """Data rows of a CSV file (header excluded)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return max(sum(1 for _ in csv.reader(fh)) - 1, 0)


def _process_info() -> tuple[float | None, float | None]:
    """Wall-clock start time and CPU seconds so far of this process (the ClientApp's start cost)."""
    try:
        import psutil

        proc = psutil.Process()
        cpu = proc.cpu_times()
        return proc.create_time(), cpu.user + cpu.system
    except Exception:
        return None, None


def handle(request: bytes, node: dict) -> bytes:
    """Hospital side: the number plus the row count of the hospital's CSV, and its label."""
    handled_at = time.time()
    started, cpu = _process_info()
    req = json.loads(request)
    rows = count_rows(str(node["data-path"]))
    return json.dumps({"hospital": str(node.get("hospital", "")), "round": req["round"],
                       "rows": rows, "value": req["number"] + rows,
                       "process_started": started, "process_cpu": cpu,
                       "handled_at": handled_at}).encode()
