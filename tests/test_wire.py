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
