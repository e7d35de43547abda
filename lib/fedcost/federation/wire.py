"""One message as bytes: a JSON header plus named binary blobs (ciphertexts).

Flower carries it as a single bytes value of a ConfigRecord; the in-process
transport passes it as is. Keeping the format ours keeps Flower out of the maths.
"""
from __future__ import annotations

import json
import struct

MAGIC = b"FCW1"


def pack(header: dict, blobs: dict[str, bytes] | None = None) -> bytes:
    blobs = blobs or {}
    index, offset = {}, 0
    for name, data in blobs.items():
        index[name] = [offset, len(data)]
        offset += len(data)
    head = json.dumps({"header": header, "blobs": index}, separators=(",", ":")).encode()
    return MAGIC + struct.pack(">I", len(head)) + head + b"".join(blobs.values())


def unpack(message: bytes) -> tuple[dict, dict[str, bytes]]:
    if not isinstance(message, (bytes, bytearray)) or message[:4] != MAGIC:
        raise ValueError("not a fedcost message")
    (n,) = struct.unpack(">I", message[4:8])
    meta = json.loads(message[8:8 + n])
    body = memoryview(message)[8 + n:]
    blobs = {name: bytes(body[o:o + k]) for name, (o, k) in meta["blobs"].items()}
    return meta["header"], blobs
