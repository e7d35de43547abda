"""The coordinator's only way to talk to hospitals: bytes out, bytes back, over a Flower Grid.

Runs inside the ServerApp. Knows nothing of the statistics: each hospital gets
one opaque ``bytes`` request per exchange and answers with opaque ``bytes``.

Wire format (shared with ``federated/client_app.py``): a Message of
``message_type="query.fedcost"`` whose RecordDict holds one ConfigRecord
``"fedcost"``; the request carries ``payload`` (bytes); the reply carries
``payload`` (bytes) and ``hospital`` (the node's label), or ``error`` (text)
and ``hospital`` when the hospital's handler raised.

Replies are collected with our own push/pull loop (``poll_interval``, default
0.1 s) instead of ``Grid.send_and_receive``, which sleeps 3 s between pulls.
"""
from __future__ import annotations

import time
from typing import Any

from fedcost.errors import FederationError

MESSAGE_TYPE = "query.fedcost"
RECORD = "fedcost"


class GridTransport:
    """Exchange opaque bytes with the hospitals' ClientApps through a Flower ``Grid``.

    Parameters
    ----------
    grid : the ``flwr.serverapp.Grid`` handed to the ServerApp.
    expected_nodes : how many SuperNodes (hospitals) must be connected.
    timeout : seconds to wait, in ``nodes()`` for the hospitals to connect and in
        each ``exchange()`` for all replies.
    poll_interval : seconds between polls of the SuperLink.
    node_timeout : if given, the limit for ``nodes()`` instead of ``timeout``.
    """

    def __init__(self, grid: Any, expected_nodes: int, timeout: float = 900.0,
                 poll_interval: float = 0.1, *, node_timeout: float | None = None) -> None:
        self.grid = grid
        self.node_timeout = float(timeout if node_timeout is None else node_timeout)
        self.expected_nodes = int(expected_nodes)
        self.timeout = float(timeout)
        self.poll_interval = float(poll_interval)
        self.bytes_received: dict[int, int] = {}
        self.bytes_sent: dict[int, int] = {}
        self.exchanges = 0
        self.exchange_seconds: list[float] = []
        self._labels: dict[int, str] = {}
        self._nodes: list[int] | None = None

    # ------------------------------------------------------------------ nodes
    def nodes(self) -> list[int]:
        """Node ids of the connected hospitals, sorted; waits for ``expected_nodes`` of them.

        Raises FederationError if fewer are connected after ``node_timeout`` seconds.
        """
        deadline = time.monotonic() + self.node_timeout
        while True:
            ids = sorted(int(n) for n in self.grid.get_node_ids())
            if len(ids) >= self.expected_nodes:
                self._nodes = ids
                return list(ids)
            if time.monotonic() >= deadline:
                raise FederationError(
                    f"only {len(ids)} of {self.expected_nodes} hospitals connected to the "
                    f"SuperLink after {self.node_timeout:g} s (node ids: {ids}); check that every "
                    "hospital's SuperNode is running and can reach the SuperLink")
            time.sleep(max(self.poll_interval, 0.1))

    def node_labels(self) -> dict[int, str]:
        """Hospital label of each node id, as echoed in its replies (known after one exchange)."""
        return dict(self._labels)

    def _name(self, node: int) -> str:
        label = self._labels.get(node)
        return f"hospital {label} (node {node})" if label else f"node {node}"

    # --------------------------------------------------------------- exchange
    def exchange(self, requests: dict[int, bytes]) -> dict[int, bytes]:
        """Send each node its request bytes, wait for every reply; returns {node_id: reply bytes}.

        Raises FederationError naming the hospital if a reply carries an error,
        or naming the silent hospitals if not all replies arrive within ``timeout``.
        """
        replies, lost = self.exchange_some(requests)
        if lost:
            raise FederationError("; ".join(why for _, why in sorted(lost.items())))
        return replies

    def exchange_some(self, requests: dict[int, bytes]) -> tuple[dict[int, bytes], dict[int, str]]:
        """Like ``exchange``, but a hospital that fails or stays silent past ``timeout`` is lost, not fatal.

        Returns (replies, lost): {node_id: reply bytes} and {node_id: why} for the
        hospitals that failed, disconnected or did not answer within ``timeout``
        (the round's time limit, so a study never waits longer on one hospital).
        """
        from flwr.app import ConfigRecord, Message, RecordDict  # lazy: keep import light

        if not requests:
            return {}
        self.exchanges += 1
        group = str(self.exchanges)
        nodes = list(requests)
        messages = []
        for node in nodes:
            payload = requests[node]
            if not isinstance(payload, (bytes, bytearray)):
                raise TypeError(f"request for node {node} must be bytes, not {type(payload).__name__}")
            messages.append(Message(
                RecordDict({RECORD: ConfigRecord({"payload": bytes(payload)})}),
                dst_node_id=int(node), message_type=MESSAGE_TYPE, group_id=group))
            self.bytes_sent[node] = self.bytes_sent.get(node, 0) + len(payload)
        t0 = time.monotonic()
        ids = list(self.grid.push_messages(messages))
        pending: dict[str, int] = {}
        for node, mid in zip(nodes, ids):
            if not mid:
                raise FederationError(f"could not send the request to {self._name(node)} "
                                      "(message refused by the SuperLink; too large?)")
            pending[mid] = node
        if len(ids) != len(nodes):
            raise FederationError(f"the SuperLink accepted {len(ids)} of {len(nodes)} messages")

        replies: dict[int, bytes] = {}
        lost: dict[int, str] = {}
        deadline = t0 + self.timeout
        while pending:
            for reply in self.grid.pull_messages(list(pending)):
                mid = reply.metadata.reply_to_message_id
                node = pending.pop(mid, None)
                if node is None:
                    continue
                try:
                    replies[node] = self._unpack(node, reply)
                except FederationError as exc:
                    lost[node] = str(exc)
            if not pending:
                break
            if time.monotonic() >= deadline:
                for node in pending.values():
                    lost[node] = f"no reply from {self._name(node)} within {self.timeout:g} s (exchange {self.exchanges})"
                break
            time.sleep(self.poll_interval)
        self.exchange_seconds.append(time.monotonic() - t0)
        return {node: replies[node] for node in nodes if node in replies}, lost

    def _unpack(self, node: int, reply: Any) -> bytes:
        if reply.has_error():
            err = reply.error
            raise FederationError(
                f"{self._name(node)} failed: {err.reason} (Flower error code {err.code})")
        try:
            record = reply.content[RECORD]
        except KeyError:
            raise FederationError(f"{self._name(node)} sent a reply without a "
                                  f"'{RECORD}' record") from None
        label = record.get("hospital")
        if label:
            self._labels[node] = str(label)
        if "error" in record:
            raise FederationError(f"{self._name(node)} failed: {record['error']}")
        payload = record.get("payload")
        if not isinstance(payload, bytes):
            raise FederationError(f"{self._name(node)} sent a reply without payload bytes")
        self.bytes_received[node] = self.bytes_received.get(node, 0) + len(payload)
        return payload
