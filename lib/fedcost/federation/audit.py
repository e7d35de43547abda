"""Append-only audit logs that each party keeps: what was asked, who took part, what left, what was released.

A log is JSON lines. Every entry carries its sequence number, the hash of the
entry before it (``prev``) and its own hash (SHA-256 of its canonical JSON
without ``hash``), so editing, removing, inserting or reordering an entry
breaks the chain. The latest head (sequence number and hash) is kept apart
from the log, in ``LOG.head``: a log cut short at its end still chains, but no
longer reaches the head. Keep the head where the log's writer cannot rewrite
both (another disk, a printed copy, a periodic e-mail); ``verify`` compares
against it.

The coordinator logs every study it runs (requester, plan digest, analyses and
parameters, participants, rounds, bytes per hospital, refusals, the digest of
what was released); each hospital logs what it sent, so it can show what it
disclosed.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from pathlib import Path

from fedcost.files import canonical_json, json_safe, write_text

GENESIS = "0" * 64


def digest(obj) -> str:
    """SHA-256 of an object's canonical JSON: how a plan or a released result is named in a log."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def head_path(log: str | Path) -> Path:
    log = Path(log)
    return log.with_name(log.name + ".head")


class AuditLog:
    """One party's log; ``append`` is safe for several processes of that party (an exclusive file lock)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def append(self, event: str, **fields) -> dict:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                seq, prev = _last(self.path)
                entry = {"seq": seq + 1, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         "event": event, **json_safe(fields), "prev": prev}
                entry["hash"] = hashlib.sha256(canonical_json(entry)).hexdigest()
                fh.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                write_text(head_path(self.path), json.dumps({"seq": entry["seq"], "hash": entry["hash"]}) + "\n")
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return entry


def _last(path: Path) -> tuple[int, str]:
    """(seq, hash) of the log's last entry, from its head file (or the log itself if the head is missing)."""
    head = head_path(path)
    if head.is_file():
        h = json.loads(head.read_text(encoding="utf-8"))
        return int(h["seq"]), str(h["hash"])
    entries = read(path)
    return (entries[-1]["seq"], entries[-1]["hash"]) if entries else (0, GENESIS)


def read(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def verify(path: str | Path, head: str | Path | None = None) -> list[str]:
    """Every problem found, as text naming the line; an empty list for an untouched log.

    Checks each entry's own hash (edited), the chain of ``prev`` hashes and
    sequence numbers (removed, inserted, reordered) and that the last entry is
    the head kept apart (truncated, or appended by someone without the head).
    """
    path = Path(path)
    problems: list[str] = []
    prev, seq = GENESIS, 0
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        return [f"{path}: cannot read the log: {exc}"]
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            problems.append(f"{path}:{i}: not a JSON entry (edited or cut mid-line)")
            continue
        body = {k: v for k, v in entry.items() if k != "hash"}
        if hashlib.sha256(canonical_json(body)).hexdigest() != entry.get("hash"):
            problems.append(f"{path}:{i}: entry {entry.get('seq')} was edited (its hash does not match)")
        if entry.get("seq") != seq + 1:
            problems.append(f"{path}:{i}: entry {entry.get('seq')} follows entry {seq} "
                            "(an entry was removed, inserted or moved)")
        if entry.get("prev") != prev:
            problems.append(f"{path}:{i}: entry {entry.get('seq')} does not chain to the entry before it "
                            "(an entry was removed, inserted or moved)")
        prev, seq = entry.get("hash", ""), int(entry.get("seq") or 0)
    head = Path(head) if head is not None else head_path(path)
    if not head.is_file():
        problems.append(f"{head}: the head kept apart from the log is missing; the log's end cannot be checked")
    else:
        h = json.loads(head.read_text(encoding="utf-8"))
        if (h.get("seq"), h.get("hash")) != (seq, prev):
            problems.append(f"{path}: the log ends at entry {seq} but the head is entry {h.get('seq')} "
                            "(the log was truncated, or the head is not this log's)")
    return problems


def show(path: str | Path) -> str:
    """The log for a person: one line an entry, its fields in plain words."""
    out = []
    for e in read(path):
        fields = {k: v for k, v in e.items() if k not in ("seq", "time", "event", "prev", "hash")}
        text = "; ".join(f"{k}: {_short(v)}" for k, v in fields.items())
        out.append(f"{e['seq']:>5}  {e['time']}  {e['event']:<12} {text}")
    return "\n".join(out)


def _short(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}={_short(x)}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(_short(x) for x in v)
    if isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v):
        return v[:12]
    return str(v)
