"""The one shape of an engine run: prepare the folder, start, watch, read the output, tear down.

Each engine supplies only ``start(run, procs, tracker, deadline, timings) ->
status``: the processes it needs and the wait for the ServerApp's status. What
every run shares (the run folder, the progress relay, the teardown in a
``finally``, the teardown hooks the caller passes in, the timings and the
transport figures of the result) is here.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterable

from fedcost.engines.entrypoints import DEFAULT_PROTOCOL
from fedcost.engines.jobs import Run, prepare
from fedcost.engines.processes import ProcessGroup, ProgressTail, read_output

TRANSPORT_KEYS = ("exchanges", "exchange_seconds", "bytes_received", "node_labels")

Start = Callable[[Run, ProcessGroup, ProgressTail, float, dict], dict]


def run_engine(name: str, start: Start, job: dict, nodes, workdir: Path, *, protocol: str = DEFAULT_PROTOCOL,
               timeout: float = 900, progress: Callable[[dict], None] | None = None,
               teardown: Iterable[Callable[[Path], object]] = ()) -> dict:
    """Run ``job`` on the hospitals ``nodes`` with the engine's ``start``; every process stops before returning.

    ``teardown`` hooks get the run folder after the processes stopped (e.g. the
    federation's ``stop_workers``). Returns the coordinator's output plus the
    engine's timings, ``teardown_seconds``, ``engine`` and ``transport``.
    """
    t0 = time.monotonic()
    run = prepare(job, nodes, workdir, protocol)
    procs = ProcessGroup(run.logs)
    tracker = ProgressTail(run.progress_file, progress)
    timings: dict[str, float] = {}
    try:
        status = start(run, procs, tracker, t0 + timeout, timings)
        out = read_output(run.job)
    finally:
        t2 = time.monotonic()
        try:
            procs.teardown()
        finally:
            for hook in teardown:
                hook(run.workdir)
        timings["teardown_seconds"] = time.monotonic() - t2
    out.update(timings)
    out.setdefault("engine", name)
    out["transport"] = {k: status.get(k) for k in TRANSPORT_KEYS}
    return out
