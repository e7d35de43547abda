"""One message as bytes: a JSON header plus named binary blobs (ciphertexts).

Flower carries it as a single bytes value of a ConfigRecord; the in-process
transport passes it as is. Keeping the format ours keeps Flower out of the maths.
"""
from __future__ import annotations

import hashlib
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
    """(header, blobs) of a message; ValueError for anything that is not exactly one well-formed message.

    The reader is the hospital and the coordinator, and the bytes come from the
    other party: a short, truncated or padded message, a header that is not a
    JSON object, or a blob index pointing outside the body is refused here,
    with one exception type, rather than surfacing as a struct, JSON or key error.
    """
    if not isinstance(message, (bytes, bytearray)) or message[:4] != MAGIC or len(message) < 8:
        raise ValueError("not a fedcost message")
    (n,) = struct.unpack(">I", message[4:8])
    if 8 + n > len(message):
        raise ValueError(f"truncated fedcost message: the header says {n} bytes, {len(message) - 8} follow")
    try:
        meta = json.loads(bytes(message[8:8 + n]))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable fedcost message header: {exc}") from None
    if (not isinstance(meta, dict) or set(meta) != {"header", "blobs"} or not isinstance(meta["header"], dict)
            or not isinstance(meta["blobs"], dict)):
        raise ValueError("malformed fedcost message header: expected an object with header and blobs")
    body = memoryview(message)[8 + n:]
    blobs, end = {}, 0
    for name, span in meta["blobs"].items():
        if (not isinstance(span, list) or len(span) != 2 or not all(type(v) is int and v >= 0 for v in span)
                or span[0] != end or span[0] + span[1] > len(body)):
            raise ValueError(f"malformed fedcost message: blob {name!r} at {span!r} lies outside the "
                             f"{len(body)}-byte body or leaves a gap")
        blobs[name] = bytes(body[span[0]:span[0] + span[1]])
        end = span[0] + span[1]  # the blobs lie back to back, in order: no byte between them
    if end != len(body):
        raise ValueError(f"malformed fedcost message: {len(body) - end} bytes after the last blob")
    return meta["header"], blobs


def blobs_digest(blobs: dict[str, bytes]) -> str:
    """SHA-256 over the blobs' names and bytes, in order: a reply states it, the coordinator checks it.

    A ciphertext damaged in transit still parses as a ciphertext (its body is
    random-looking coefficients), so parsing alone would let it into the sum.
    """
    h = hashlib.sha256()
    for name, data in blobs.items():
        h.update(len(name).to_bytes(4, "big") + name.encode() + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()
