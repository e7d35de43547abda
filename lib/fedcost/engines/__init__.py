"""Engines: run a coordinator/hospital protocol on a Flower federation.

- ``fedcost.engines.deployment.run(job, nodes, workdir, ...)``: a real local
  federation (flower-superlink + one flower-supernode per hospital).
- ``fedcost.engines.simulation.run(job, nodes, workdir, ...)``: Flower's
  simulation engine (Ray), same contract.
- ``fedcost.engines.transport.GridTransport``: what the coordinator talks through.
- ``fedcost.engines.echo``: a trivial protocol to test the plumbing.

Imports nothing heavy: the ServerApp imports ``fedcost.engines.transport``.
"""

ENGINES = ("deployment", "simulation")


def get(name: str):
    """The engine module by name ("deployment" or "simulation")."""
    import importlib

    from fedcost.errors import UsageError

    if name not in ENGINES:
        raise UsageError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    return importlib.import_module(f"fedcost.engines.{name}")
