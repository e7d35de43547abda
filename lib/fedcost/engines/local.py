"""Local engine: the same messages as over Flower, handed over by a function call in one process.

For protocol tests, notebooks and quick development; real CKKS, no Flower.
The deployment and simulation engines are the real federation.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from fedcost.engines.entrypoints import DEFAULT_PROTOCOL, coordinator_serve, hospital_handle
from fedcost.engines.jobs import normalize_nodes
from fedcost.engines.processes import read_output


class LocalTransport:
    """The coordinator's transport, calling each hospital's handler directly."""

    def __init__(self, nodes: list[dict], handle: Callable[[bytes, dict], bytes]):
        self._nodes = {i + 1: node for i, node in enumerate(nodes)}
        self._handle = handle
        self.bytes_received = {i: 0 for i in self._nodes}

    def nodes(self) -> list[int]:
        return list(self._nodes)

    def node_labels(self) -> dict[int, str]:
        return {i: str(node.get("hospital", i)) for i, node in self._nodes.items()}

    def exchange(self, requests: dict[int, bytes]) -> dict[int, bytes]:
        replies = {}
        for node_id, request in requests.items():
            replies[node_id] = self._handle(request, self._nodes[node_id])
            self.bytes_received[node_id] += len(replies[node_id])
        return replies


def run(job: dict, nodes, workdir: Path | None = None, *, protocol: str = DEFAULT_PROTOCOL, progress=None,
        teardown: Iterable[Callable[[Path], object]] = (), **_) -> dict:
    """Run ``job`` in this process; hospitals answer in-process (no worker, so ``teardown`` has nothing to stop)."""
    if protocol == DEFAULT_PROTOCOL:  # the hospital itself, not the relay to a worker process
        from fedcost.federation.hospital import handle
    else:
        handle = hospital_handle(protocol)
    typed = normalize_nodes(nodes, Path(workdir or "."), protocol)
    out = coordinator_serve(protocol)(job, LocalTransport([n.config() for n in typed], handle))
    if out is None:  # a coordinator that only writes its output file (echo)
        out = read_output(job)
    out.setdefault("engine", "local")
    return out
