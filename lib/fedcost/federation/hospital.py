"""The hospital side of a round: validate, decrypt the last sum, step, encrypt.

Runs in the hospital's long-lived worker (behind the ClientApp's relay) or,
without one, in the ClientApp process itself; the validated table is cached in
the node's work-dir, keyed by the file's identity and the dictionary. Raw rows
and plaintext statistics never leave this function. The reply holds:
ciphertexts (with the hospital's tag, `sums`), the sealed shared state, a
keyed digest of it, reason codes (`reasons`), and, once an analysis finished
and passed the disclosure rules, its released result. What leaves is logged
first (`audit`).
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import threading
import traceback
from pathlib import Path

from fedcost.analyses import kinds
from fedcost.data.dictionary import Dictionary
from fedcost.errors import DataError, DisclosureError, FedcostError
from fedcost.federation import reasons, releases, studies, sums, wire
from fedcost.federation.audit import AuditLog, digest
from fedcost.federation.crypto import SecretKeys
from fedcost.files import atomic_path

AUDIT_LOG = "audit.jsonl"  # in the hospital's work folder: what left this hospital, hash-chained
# The fewest hospitals whose sum this hospital helps decrypt, whatever the coordinator's header says
# (a node setting `min-hospitals` may raise it): the disclosure rules' default.
HOSPITAL_FLOOR = 3
CELL_FLOOR = 5  # the fewest records behind a released cell, whatever the header says
PARAMETER_CEILING = 0.2  # the most parameters per record a released model may have


def handle(request: bytes, node: dict) -> bytes:
    """Answer one coordinator request; never raises (errors become a refusal with a reason code).

    What leaves is first written to the hospital's own audit log (its work
    folder), with the details of any refusal that only the hospital may see; a
    hospital that cannot log what it sends refuses instead.
    """
    label = str(node.get("hospital") or Path(str(node.get("data-path", "hospital"))).stem)
    with _MEMO_LOCK:  # after the worker's preload, if it is still running
        header, blobs, details = _reply(request, node, label)
    reply = wire.pack(header, blobs)
    if node.get("work-dir"):
        try:
            _log_sent(Path(node["work-dir"]) / AUDIT_LOG, request, header, blobs, len(reply), details)
        except OSError:
            return wire.pack({"hospital": label, "status": "refused", **_code("audit_log")})
    return reply


def stricter(asked: dict, node: dict) -> dict:
    """The disclosure rules this hospital applies: for every minimum the stricter of the study's and its own.

    A coordinator that lowers a minimum in its header is overruled; the
    hospital's settings (``min-hospitals``, ``min-cell-records``,
    ``max-parameter-fraction``, from its policy file) can only tighten them.
    """
    out = dict(asked)
    if node.get("allow-below-defaults"):  # the hospital's own policy says so, on purpose
        return {**out, **{k.replace("-", "_"): node[k] for k in ("min-hospitals", "min-cell-records",
                                                                  "max-parameter-fraction") if k in node}}
    out["min_hospitals"] = max(int(asked.get("min_hospitals", 0)), int(node.get("min-hospitals", 0)),
                               HOSPITAL_FLOOR)
    out["min_cell_records"] = max(int(asked.get("min_cell_records", 0)), int(node.get("min-cell-records", 0)),
                                  CELL_FLOOR)
    fractions = [float(f) for f in (asked.get("max_parameter_fraction"), node.get("max-parameter-fraction"))
                 if f is not None]
    out["max_parameter_fraction"] = min(fractions + [PARAMETER_CEILING])
    if not node.get("name-hospitals", True):
        out["name_hospitals"] = False
    return out


def _withheld_groups(node: dict) -> list[str]:
    """The per-hospital indicator groups this hospital's policy withholds (node setting, comma-separated)."""
    return [g for g in str(node.get("withhold-per-hospital") or "").split(",") if g]


def _code(code: str) -> dict:
    e = reasons.entry("refused", code)
    return {"code": e["code"], "reason": e["reason"]}


def _log_sent(path: Path, request: bytes, header: dict, blobs: dict, size: int, details: dict) -> None:
    """One entry a reply: the study and round asked, each analysis' status, ciphertext counts, release
    digests, and the details of refusals (which never leave)."""
    try:
        asked, _ = wire.unpack(request)
    except ValueError:
        asked = {}
    AuditLog(path).append(
        "sent", run_id=asked.get("run_id"), round=asked.get("round"), status=header.get("status"),
        code=header.get("code"), bytes=size, ciphertexts=len(blobs),
        analyses={name: {"status": e.get("status"), **({"code": e["code"]} if "code" in e else {}),
                         **({"result_digest": digest(e["result"])} if e.get("status") == "released" else {})}
                  for name, e in (header.get("analyses") or {}).items()},
        details=details)


def _reply(request: bytes, node: dict, label: str) -> tuple[dict, dict, dict]:
    """(header, blobs, details kept at the hospital) of the answer."""
    try:
        header, blobs = wire.unpack(request)
    except Exception as exc:  # noqa: BLE001
        return {"hospital": label, "status": "refused", **_code("unreadable_request")}, {}, {"request": str(exc)}
    try:
        return _answer(header, blobs, node, label)
    except Exception as exc:  # noqa: BLE001
        code = reasons.code_for(exc)
        detail = getattr(exc, "detail", "") or (str(exc) if isinstance(exc, FedcostError)
                                                 else traceback.format_exc(limit=-6))
        if os.environ.get("FEDCOST_DEBUG"):
            traceback.print_exc()
        return {"hospital": label, "status": "refused", **_code(code)}, {}, {"query": detail}


# In a long-lived process (the hospital worker, a simulation actor) keys, the
# dictionary, the validated table and design matrices stay in memory between
# rounds, keyed by the files' identity so that a changed file is reloaded.
_MEMO: dict = {}
_MEMO_LOCK = threading.RLock()
# A process per message (the ClientApp answering itself) keeps the table and designs between rounds as
# pickles in the hospital's work folder; the long-lived worker keeps them in memory only (`serve` sets this
# off): no copy of the data on disk, and no pickling (a 330k-row design is 120 MB).
DISK_CACHE = True


def _memo(kind: str, path, build):
    p = Path(path) if path else None
    stamp = (p.stat().st_mtime_ns, p.stat().st_size) if p is not None and p.exists() else None
    key = (kind, str(p), stamp)
    if key not in _MEMO:
        if len(_MEMO) > 64:
            _MEMO.clear()
        _MEMO[key] = build()
    return _MEMO[key]


def _keys(node: dict) -> SecretKeys:
    return _memo("keys", node["key-path"], lambda: SecretKeys.load(node["key-path"]))


def _dictionary(node: dict) -> Dictionary:
    dict_dir = node.get("dictionary")  # the hospital's own; a study names only the fingerprint it expects
    return _memo("dictionary", Path(dict_dir) / "dictionary.yaml" if dict_dir else None,
                 lambda: Dictionary.load(dict_dir))


def _frame(node: dict, dictionary: Dictionary):
    """(validated table, its cache key); raises DataError for data that do not validate."""
    return _memo(f"frame:{dictionary.fingerprint}:{node.get('encoding')}", node["data-path"],
                 lambda: load_frame(Path(node["data-path"]), dictionary, node.get("work-dir"), node.get("encoding")))


def _data_fingerprint(node: dict, data_key: str) -> str:
    return _memo(f"sha:{data_key}", None, lambda: _cached(node.get("work-dir"), f"{data_key}.sha256",
                                                          lambda: _file_sha256(Path(node["data-path"]))))


def preload(node: dict) -> None:
    """Load the key and the dictionary and validate the table before the first request asks for them.

    The hospital's worker calls this in a thread as it starts, so the first
    round's loading and validation (3.7 s at 330k rows) overlap the start of
    the SuperNode and the coordinator instead of adding to round 1. Requests
    wait for it (`handle` takes the same lock). A failure is left for the
    first request to meet again and refuse with its reason code.
    """
    with _MEMO_LOCK:
        try:
            _keys(node)
            _, data_key = _frame(node, _dictionary(node))
            _data_fingerprint(node, data_key)
        except Exception:  # noqa: BLE001 - the request path reports it
            pass


def _answer(header: dict, blobs: dict, node: dict, label: str) -> bytes:
    keys = _keys(node)
    work_dir = node.get("work-dir")
    own = keys.fingerprint_cached(work_dir)
    if header.get("key_fingerprint") and header["key_fingerprint"] != own:
        raise reasons.Refused("key_mismatch", f"the coordinator uses {header['key_fingerprint']}, "
                                              f"this hospital holds {own}")
    plan = studies.admit(header, node, label)  # who asked, and for exactly what (None: no signature asked)
    dictionary = _dictionary(node)
    if header.get("dictionary_fingerprint") and dictionary.fingerprint != header["dictionary_fingerprint"]:
        raise reasons.Refused("dictionary_mismatch",
                              f"the study uses version {header.get('dictionary_version')} "
                              f"({header['dictionary_fingerprint'][:12]}), this hospital has {dictionary.version} "
                              f"({dictionary.fingerprint[:12]})")
    try:
        frame, data_key = _frame(node, dictionary)
    except DataError as exc:
        raise reasons.Refused("invalid_data", str(exc)) from None
    disclosure = stricter(plan["disclosure"] if plan else header["disclosure"], node)
    fingerprint = _data_fingerprint(node, data_key)
    # the run and round answered: a reply replayed from another round or study is recognised as such
    out_header = {"hospital": label, "status": "ok", "run_id": header.get("run_id"), "round": header.get("round"),
                  "analyses": {}, "data_fingerprint": fingerprint}
    out_blobs: dict[str, bytes] = {}
    details: dict[str, str] = {}
    min_hospitals = int(disclosure["min_hospitals"])
    releases.one_slot(work_dir, str(header.get("run_id")), int(header["site_index"]))
    for name, item in header["analyses"].items():
        site = {"index": header["site_index"], "count": header["site_count"], "run": str(header.get("run_id")),
                "min_hospitals": min_hospitals, "withhold": _withheld_groups(node),
                "study_id": plan.get("study_id") if plan else None}
        site["query"] = releases.query_key(item["spec"], dictionary.fingerprint, fingerprint)
        entry, chunks, detail = _step(name, item, blobs, frame, dictionary, keys, disclosure, work_dir, data_key,
                                      site)
        out_header["analyses"][name] = entry
        if detail:
            details[name] = detail
        for i, c in enumerate(chunks):
            out_blobs[f"{name}/{i}"] = c
    out_header["blobs_sha256"] = wire.blobs_digest(out_blobs)
    if all(e["status"] != "running" for e in out_header["analyses"].values()):
        forget(work_dir)  # the study has ended here: no copy of the data outlives it
    return out_header, out_blobs, details


def _step(name, item, blobs, frame, dictionary, keys: SecretKeys, disclosure, work_dir, data_key, site
          ) -> tuple[dict, list[bytes], str]:
    """(reply entry, ciphertext chunks, details kept at the hospital) of one analysis for one round."""
    try:
        analysis = kinds.from_spec(item["spec"])
        block = _prepared(analysis, item["spec"], frame, dictionary, work_dir, data_key)
        n = analysis.records(block)
        if n < disclosure["min_cell_records"]:
            return reasons.entry("refused", "too_few_records"), [], (
                f"{n} records for this analysis, fewer than the minimum {disclosure['min_cell_records']}")
        if item.get("sealed") is None:
            state = analysis.initial_state(site["count"])
        else:
            state = keys.open(item["sealed"])
            total = keys.decrypt([blobs[f"sum/{name}/{i}"] for i in range(item["chunks"])], item["length"])
            stats = sums.check(total, keys, site, name, keys.digest(state), item.get("participants"))
            disclosure = {**disclosure, "withheld": sums.withheld(total, int(site["count"]))}
            state = analysis.advance(state, stats)
        if state.get("done"):
            try:
                analysis.check_own_rows(block, state["result"], disclosure)
                released = analysis.disclose(state["result"], disclosure)
                declared = item.get("participants")  # what sums.check verified; None: every slot of the run
                releases.admit(work_dir, site["query"], len(declared) if declared is not None else int(site["count"]),
                               site["min_hospitals"], site.get("study_id"))
            except DisclosureError as exc:
                return reasons.entry("withheld", "withheld"), [], str(exc)
            except reasons.Refused as exc:
                return reasons.entry("withheld", exc.code), [], exc.detail
            _write_local_report(analysis, name, frame, released, work_dir)
            return {"status": "released", "result": released, "digest": keys.digest(released)}, [], ""
        stats = sums.tagged(analysis.statistics(block, state, site["index"]), keys, site, name, keys.digest(state))
        chunks = keys.encrypt(stats)
        return {"status": "running", "sealed": keys.seal(state), "digest": keys.digest(state),
                "length": int(len(stats)), "chunks": len(chunks)}, chunks, ""
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("FEDCOST_DEBUG"):
            traceback.print_exc()
        detail = str(exc) if isinstance(exc, FedcostError) else traceback.format_exc(limit=-6)
        return reasons.entry("error", reasons.code_for(exc)), [], detail


def load_frame(path: Path, dictionary: Dictionary, work_dir=None, encoding=None):
    """The validated, typed table of this hospital and its cache key.

    Each round is a new process, so the table is cached on the hospital's own
    disk, keyed by the file's identity and the dictionary.
    """
    from fedcost.data.validation import load_valid

    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{dictionary.fingerprint}|{encoding}"
                         .encode()).hexdigest()[:24]
    return _cached(work_dir, f"{key}.pkl", lambda: load_valid(path, dictionary, encoding=encoding)), key


def _write_local_report(analysis, name: str, frame, released: dict, work_dir) -> None:
    """Keep the hospital's own view of a released analysis in its work folder (it never leaves)."""
    if not work_dir:
        return
    table = analysis.local_report(frame, released)
    if table is None:
        return
    with atomic_path(Path(work_dir) / "local_reports" / f"{name}.csv") as tmp:
        table.to_csv(tmp, index=False)


def _file_sha256(path: Path) -> str:
    """Fingerprint of the hospital's data file: shows which data made a result, reveals nothing of it."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _prepared(analysis, spec: dict, frame, dictionary, work_dir, data_key):
    """The analysis' block (design matrix, ...) for this data, cached between rounds."""
    skey = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def build():
        block = analysis.prepare(frame, dictionary)
        return block, {k: v for k, v in vars(analysis).items() if k.endswith("_")}  # fitted attributes

    block, attrs = _memo(f"block:{data_key}:{skey}", None,
                         lambda: _cached(work_dir, f"{data_key}-{skey}.pkl", build))
    vars(analysis).update(attrs)
    return block


def forget(work_dir) -> None:
    """Drop every copy of the data made for a study: the pickled caches on disk and the tables in memory."""
    for key in [k for k in _MEMO if str(k[0]).startswith(("frame:", "block:"))]:
        del _MEMO[key]
    if work_dir:
        for path in (Path(work_dir) / "cache").glob("*.pkl"):
            path.unlink(missing_ok=True)


def _cached(work_dir, name: str, build):
    if not work_dir or not DISK_CACHE:
        return build()
    cache = Path(work_dir) / "cache" / name
    if cache.exists():
        try:
            with cache.open("rb") as fh:
                return pickle.load(fh)
        except Exception:  # noqa: BLE001 - a broken cache is rebuilt
            cache.unlink(missing_ok=True)
    value = build()
    with atomic_path(cache, 0o600) as tmp, tmp.open("wb") as fh:
        pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return value
