"""Engines: run a coordinator/hospital protocol on a Flower federation, or in one process.

- ``jobs``: typed descriptions of one run (``Node``, ``Run``), normalised in one place;
- ``processes``: starting, watching and tearing down processes, the Flower environment;
- ``lifecycle``: the one shape of a run, shared by every engine;
- ``entrypoints``: the Flower app's entry points, fixed by the installed package;
- ``deployment``: a real local federation (flower-superlink + one flower-supernode per hospital);
- ``simulation``: Flower's simulation engine (Ray), same contract;
- ``local``: the same messages in one process (tests, notebooks);
- ``transport``: what the coordinator talks through inside the ServerApp;
- ``echo``: a trivial protocol to test the plumbing.

Must not import analyses, results or reporting; the federation's teardown
(stopping hospital workers) is passed in as a hook. Imports nothing heavy: the
ServerApp imports ``fedcost.engines.transport``.
"""
from __future__ import annotations

from typing import Callable


def _deployment():
    from fedcost.engines.deployment import run

    return run


def _simulation():
    from fedcost.engines.simulation import run

    return run


def _local():
    from fedcost.engines.local import run

    return run


# name -> the engine's run(job, nodes, workdir, *, protocol, timeout, progress, teardown) -> output
ENGINES: dict[str, Callable[[], Callable]] = {"deployment": _deployment, "simulation": _simulation, "local": _local}
NAMES = tuple(ENGINES)
DEFAULT = "deployment"


def get(name: str) -> Callable:
    """The engine's ``run`` by name."""
    from fedcost.errors import UsageError

    if name not in ENGINES:
        raise UsageError(f"unknown engine {name!r}; choose one of {', '.join(NAMES)}")
    return ENGINES[name]()
