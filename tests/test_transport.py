"""GridTransport against a fake Grid: replies, errors, timeouts, byte counts, labels."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from flwr.app import ConfigRecord, Error, RecordDict

from fedcost.engines.transport import MESSAGE_TYPE, GridTransport
from fedcost.errors import FederationError


class FakeGrid:
    """Answers each pushed message after ``delay_polls`` pulls, via ``answer(node, payload)``."""

    def __init__(self, nodes, answer, delay_polls=1):
        self.nodes, self.answer, self.delay = list(nodes), answer, delay_polls
        self.pending = {}
        self.pulls = 0
        self.pushed = []

    def get_node_ids(self):
        return list(self.nodes)

    def push_messages(self, messages):
        ids = []
        for i, msg in enumerate(messages):
            assert msg.metadata.message_type == MESSAGE_TYPE
            mid = f"m{len(self.pushed)}"
            self.pushed.append(msg)
            self.pending[mid] = msg
            ids.append(mid)
        return ids

    def pull_messages(self, message_ids):
        self.pulls += 1
        if self.pulls % (self.delay + 1):
            return []
        out = []
        for mid in list(message_ids):
            msg = self.pending.pop(mid, None)
            if msg is None:
                continue
            node = msg.metadata.dst_node_id
            result = self.answer(node, msg.content["fedcost"]["payload"])
            if result is None:
                self.pending[mid] = msg  # never answers
                continue
            out.append(FakeReply(mid, result))
        return out


class FakeReply:
    """What the transport reads of a reply Message (a real one needs a live run)."""

    def __init__(self, reply_to, result):
        self.metadata = SimpleNamespace(reply_to_message_id=reply_to)
        self.error = result if isinstance(result, Error) else None
        self.content = None if self.error else RecordDict({"fedcost": ConfigRecord(result)})

    def has_error(self):
        return self.error is not None


@pytest.fixture(autouse=True)
def task_identity():
    """A Message needs the run's identity, which Flower sets inside a real ServerApp."""
    from flwr.supercore.task_identity import TaskIdentity

    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, 1, 0
    yield
    TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved


def echo_answer(node, payload):
    return {"payload": payload + b"!", "hospital": f"H{node}"}


def test_exchange_returns_each_nodes_reply_and_counts_bytes():
    grid = FakeGrid([3, 1, 2], echo_answer)
    t = GridTransport(grid, expected_nodes=3, timeout=5, poll_interval=0.001)
    nodes = t.nodes()
    assert nodes == [1, 2, 3]
    out = t.exchange({n: b"x" * n for n in nodes})
    assert out == {1: b"x!", 2: b"xx!", 3: b"xxx!"}
    assert t.bytes_received == {1: 2, 2: 3, 3: 4}
    assert t.node_labels() == {1: "H1", 2: "H2", 3: "H3"}
    t.exchange({1: b"a"})
    assert t.bytes_received[1] == 4 and t.exchanges == 2


def test_hospital_error_names_the_hospital():
    def answer(node, payload):
        if node == 2:
            return {"error": "ValueError: bad data", "hospital": "H02"}
        return echo_answer(node, payload)

    t = GridTransport(FakeGrid([1, 2], answer), expected_nodes=2, timeout=5, poll_interval=0.001)
    with pytest.raises(FederationError, match=r"H02 \(node 2\) failed: ValueError: bad data"):
        t.exchange({1: b"a", 2: b"b"})


def test_flower_error_reply_raises():
    def answer(node, payload):
        return Error(code=5, reason="node unavailable") if node == 1 else echo_answer(node, payload)

    t = GridTransport(FakeGrid([1, 2], answer), expected_nodes=2, timeout=5, poll_interval=0.001)
    with pytest.raises(FederationError, match="node 1 failed: node unavailable"):
        t.exchange({1: b"a", 2: b"b"})


def test_silent_hospital_times_out_naming_it():
    def answer(node, payload):
        return None if node == 2 else echo_answer(node, payload)

    t = GridTransport(FakeGrid([1, 2], answer), expected_nodes=2, timeout=0.2, poll_interval=0.01)
    with pytest.raises(FederationError, match="no reply from node 2"):
        t.exchange({1: b"a", 2: b"b"})


def test_nodes_waits_then_fails_clearly():
    t = GridTransport(FakeGrid([1], echo_answer), expected_nodes=3, timeout=0.3,
                      poll_interval=0.01)
    with pytest.raises(FederationError, match="only 1 of 3 hospitals"):
        t.nodes()


def test_requests_must_be_bytes():
    t = GridTransport(FakeGrid([1], echo_answer), expected_nodes=1, timeout=1, poll_interval=0.01)
    with pytest.raises(TypeError):
        t.exchange({1: "text"})
