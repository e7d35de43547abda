"""In-process transport: the same messages as over Flower, handed over by a function call.

For protocol tests and quick development only; the engines (deployment,
simulation) are the real federation.
"""
from __future__ import annotations

from fedcost.federation import hospital


class LocalTransport:
    def __init__(self, nodes: list[dict]):
        self._nodes = {i + 1: node for i, node in enumerate(nodes)}
        self.bytes_received = {i: 0 for i in self._nodes}

    def nodes(self) -> list[int]:
        return list(self._nodes)

    def exchange(self, requests: dict[int, bytes]) -> dict[int, bytes]:
        replies = {}
        for node_id, request in requests.items():
            replies[node_id] = hospital.handle(request, self._nodes[node_id])
            self.bytes_received[node_id] += len(replies[node_id])
        return replies


def run(job: dict, nodes: list[dict], workdir=None, progress=None, **_) -> dict:
    from fedcost.federation.coordinator import serve

    return serve(job, LocalTransport(nodes))
