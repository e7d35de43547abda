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
from fedcost.files import atomic_path

LOG = "releases.json"  # in the hospital's work folder: query digest -> hospital counts released


def query_key(spec: dict, dictionary_fingerprint: str, data_fingerprint: str) -> str:
    return digest({"spec": spec, "dictionary": dictionary_fingerprint, "data": data_fingerprint})


def admit(work_dir, query: str, hospitals: int, min_hospitals: int) -> None:
    """Record a release of ``query`` over ``hospitals`` hospitals, or raise Refused("differencing")."""
    if not work_dir:
        return
    path = Path(work_dir) / LOG
    try:
        seen = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        seen = {}
    earlier = [int(c) for c in seen.get(query, [])]
    close = [c for c in earlier if 0 < abs(c - hospitals) < min_hospitals]
    if close:
        raise Refused("differencing", f"this query was released over {close[0]} hospitals; over {hospitals} "
                                      f"the difference would rest on fewer than {min_hospitals}")
    if hospitals not in earlier:
        seen[query] = sorted(earlier + [hospitals])
        with atomic_path(path, 0o600) as tmp:
            tmp.write_text(json.dumps(seen, indent=1), encoding="utf-8")
