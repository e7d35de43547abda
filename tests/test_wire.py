"""One message as bytes: magic, header length, JSON header, then the named blobs back to back."""
from __future__ import annotations

import json
import struct

import pytest

from fedcost.federation import wire


def test_round_trip_keeps_header_blobs_and_their_order():
    header = {"run_id": "r1", "round": 3, "analyses": {"m": {"status": "running"}}, "label": "医院 A"}
    blobs = {"m/0": b"\x00\x01\x02", "empty": b"", "m/1": bytes(range(256)) * 3}
    got_header, got_blobs = wire.unpack(wire.pack(header, blobs))
    assert got_header == header
    assert got_blobs == blobs and list(got_blobs) == ["m/0", "empty", "m/1"]
    assert wire.unpack(wire.pack({"a": 1})) == ({"a": 1}, {})
    assert wire.unpack(bytearray(wire.pack({"a": 1}, {"x": b"y"}))) == ({"a": 1}, {"x": b"y"})


def test_the_layout_byte_by_byte():
    msg = wire.pack({"k": "v"}, {"a": b"12", "b": b"345"})
    assert msg[:4] == b"FCW1"
    (n,) = struct.unpack(">I", msg[4:8])
    meta = json.loads(msg[8:8 + n])
    # the index holds [offset, length] of each blob in the body that follows the header
    assert meta == {"header": {"k": "v"}, "blobs": {"a": [0, 2], "b": [2, 3]}}
    assert msg[8 + n:] == b"12345"
    assert len(msg) == 4 + 4 + n + 5


@pytest.mark.parametrize("junk", [b"", b"FCW", b"not a fedcost message", "FCW1....", None, b"FCW2" + bytes(8)])
def test_anything_else_is_not_a_message(junk):
    with pytest.raises(ValueError, match="not a fedcost message"):
        wire.unpack(junk)


def _raw(meta: dict, body: bytes = b"") -> bytes:
    head = json.dumps(meta).encode()
    return b"FCW1" + struct.pack(">I", len(head)) + head + body


GOOD = wire.pack({"k": "v"}, {"a": b"12", "b": b"345"})


@pytest.mark.parametrize("bad, why", [
    (b"FCW1\x00", "not a fedcost message"),                       # shorter than the length field
    (b"FCW1" + struct.pack(">I", 2) + b"{}", "malformed"),          # an empty object: no header, no blobs
    (GOOD[:12], "truncated"),                                       # cut inside the header
    (GOOD[:-1], "outside"),                                         # cut inside the last blob
    (GOOD + b"x", "after the last blob"),                           # padded: bytes nothing accounts for
    (b"FCW1" + struct.pack(">I", 3) + b"\xff\xfe\x00", "unreadable"),  # not UTF-8 JSON
    (_raw([1, 2]), "malformed"),
    (_raw({"header": [], "blobs": {}}), "malformed"),
    (_raw({"header": {}, "blobs": {"a": [0, 5]}}, b"12"), "outside"),
    (_raw({"header": {}, "blobs": {"a": [-1, 1]}}, b"12"), "outside"),
    (_raw({"header": {}, "blobs": {"a": "0,2"}}, b"12"), "outside"),
    (_raw({"header": {}, "blobs": {"a": [0, 1], "b": [2, 1]}}, b"1x2"), "gap"),   # a byte hidden between blobs
    (_raw({"header": {}, "blobs": {"a": [0, 2], "b": [0, 2]}}, b"12"), "gap"),    # overlapping blobs
])
def test_malformed_messages_raise_value_error_only(bad, why):
    with pytest.raises(ValueError, match=why):
        wire.unpack(bad)
