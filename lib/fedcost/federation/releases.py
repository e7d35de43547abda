"""No differencing: a hospital never releases one query over two sets of hospitals that differ by a few.

Running a study over hospitals S and again over S without hospital h reveals
h's contribution as the difference of the two results; a dropout restart does
exactly that unless it is watched. Each hospital keeps, in its own work folder,
how many hospitals stood behind every result it released, per query (the
analysis as specified, the dictionary, this hospital's data). It refuses a
release whose count differs from an earlier one of the same query by more
than zero and fewer than the minimum number of hospitals. The same count
again (a rerun) is allowed; so is a change of data (a new year).

What it cannot see: which hospitals the others are. Two sets of the same size
that swap one hospital pass; their difference is that of two hospitals, which
the minimum does not cover. See docs/deployment.md, "What the protocol does not hide".
"""
from __future__ import annotations

import json
from pathlib import Path

from fedcost.federation.audit import digest
from fedcost.federation.reasons import Refused
from fedcost.files import write_json

LOG = "releases.json"  # in the hospital's work folder: query digest -> hospital counts released


def query_key(spec: dict, dictionary_fingerprint: str, data_fingerprint: str) -> str:
    return digest({"spec": spec, "dictionary": dictionary_fingerprint, "data": data_fingerprint})


SLOTS = "slots.json"  # in the hospital's work folder: run id -> the one slot this hospital answers in
KEEP_RUNS = 1000


def one_slot(work_dir, run_id: str, slot: int) -> None:
    """Refuse to answer one run in two slots: the tag key is the hospitals' shared one, so a coordinator
    could otherwise make one hospital fill three slots and pass its own data off as three hospitals'."""
    if not work_dir:
        return
    path = Path(work_dir) / SLOTS
    seen = _read(path)
    if seen.get(run_id, slot) != slot:
        raise Refused("forged_sum", f"run {run_id}: asked to answer in slot {slot}, it answered in {seen[run_id]}")
    if run_id not in seen:
        seen[run_id] = slot
        write_json(path, dict(list(seen.items())[-KEEP_RUNS:]), 0o600)


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def admit(work_dir, query: str, hospitals: int, min_hospitals: int, study_id: str | None = None) -> None:
    """Record a release of ``query`` over ``hospitals`` hospitals, or raise Refused("differencing").

    A signed study (``study_id``) releases each query once: its signature is valid until it expires, so a
    coordinator could otherwise replay it over other sets of the same size.
    """
    if not work_dir:
        return
    path = Path(work_dir) / LOG
    seen = _read(path)
    if study_id is not None:
        once = f"study:{study_id}:{query}"
        if once in seen:
            raise Refused("differencing", f"study {study_id} released this query already")
        seen[once] = [hospitals]
    earlier = [int(c) for c in seen.get(query, [])]
    close = [c for c in earlier if 0 < abs(c - hospitals) < min_hospitals]
    if close:
        raise Refused("differencing", f"this query was released over {close[0]} hospitals; over {hospitals} "
                                      f"the difference would rest on fewer than {min_hospitals}")
    seen[query] = sorted(set(earlier + [hospitals]))
    write_json(path, seen, 0o600)
