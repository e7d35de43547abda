"""The coordinator's loop: relay, check, add ciphertexts; it can read nothing else.

Each round it sends every hospital, for each analysis still running, the
encrypted sum of the previous round and the sealed state; it checks that all
hospitals report the same state digest (they agree on the step), that every
statistics payload parses as a CKKS ciphertext under the public context and
that reply headers carry nothing but allowed fields, and adds the ciphertexts.
Analyses run concurrently: a study costs as many rounds as its slowest one.
What it observed fills the `privacy` block of the results.
"""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from fedcost.federation.audit import AuditLog, digest
from fedcost.federation.crypto import PublicKeys
from fedcost.errors import FederationError
from fedcost.federation import wire
from fedcost.files import write_json

# Reply header fields a hospital may send; anything else is treated as a leak.
ALLOWED_REPLY = {"hospital", "status", "code", "reason", "run_id", "round", "analyses", "data_fingerprint",
                 "blobs_sha256"}
ALLOWED_ENTRY = {
    "running": {"status", "sealed", "digest", "length", "chunks"},
    "released": {"status", "result", "digest"},
    "withheld": {"status", "code", "reason"},
    "refused": {"status", "code", "reason"},
    "error": {"status", "code", "reason"},
}


PROGRESS_LINE = "FEDCOST-PROGRESS "  # progress_file "-": lines on stdout (a submitted study's log stream)


class _Progress:
    def __init__(self, path):
        self.stdout = path == "-"
        self.path = Path(path) if path and not self.stdout else None

    def __call__(self, **event):
        event.setdefault("time", time.time())
        if self.stdout:
            print(PROGRESS_LINE + json.dumps(event), flush=True)
        if self.path:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(event) + "\n")


def serve(job: dict, transport) -> dict:
    """Run a study job over `transport`; write and return the output dict."""
    progress = _Progress(job.get("progress_file"))
    t0 = time.time()
    pub = PublicKeys.load(job["public_key"])
    run_id = job.get("run_id") or uuid.uuid4().hex
    nodes = transport.nodes()
    progress(event="nodes", nodes=len(nodes))
    disclosure = job["disclosure"]
    analyses = _fresh(job)
    dropouts: list[dict] = []
    attempt = 1
    labels: dict[int, str] = dict(getattr(transport, "node_labels", dict)())  # the hospital a reply names wins
    bytes_from: dict[int, int] = {n: 0 for n in nodes}
    refusals: dict[str, str] = {}
    fingerprints: dict[str, str] = {}
    checked = {"ciphertexts": 0, "headers": 0}
    active = list(nodes)
    base = {"run_id": run_id, "key_fingerprint": pub.fingerprint, "disclosure": disclosure,
            "dictionary_fingerprint": job.get("dictionary_fingerprint"),
            "dictionary_version": job.get("dictionary_version"),
            "study": job.get("study")}  # the researcher's signed study, relayed as it came (federation.studies)
    log = AuditLog(job["audit_log"]) if job.get("audit_log") else None
    if log:
        log.append("study", run_id=run_id, requester=job.get("requester") or "not authenticated",
                   plan_digest=digest(job["analyses"]), analyses=job["analyses"], disclosure=disclosure,
                   dictionary_version=job.get("dictionary_version"), key_fingerprint=pub.fingerprint)
    r = 0
    while any(a["status"] == "running" for a in analyses.values()):
        r += 1
        if r > job.get("max_rounds", 60):
            raise FederationError(f"the study did not finish within {job.get('max_rounds', 60)} rounds")
        t_round = time.time()
        running = [n for n, a in analyses.items() if a["status"] == "running"]
        requests = {}
        for node in active:
            items, blobs = {}, {}
            for name in running:
                a = analyses[name]
                if a["participants"] is not None and node not in a["participants"]:
                    continue
                items[name] = {"spec": a["spec"], "sealed": a["sealed"], "length": a["length"], "chunks": a["chunks"],
                               "participants": a.get("sum_sites")}  # whose tags the sum holds (federation.sums)
                for i, c in enumerate(a["sum"] or []):
                    blobs[f"sum/{name}/{i}"] = c
            requests[node] = wire.pack({**base, "round": r, "analyses": items, "site_index": nodes.index(node),
                                        "site_count": len(nodes)}, blobs)
        replies, lost = _exchange(transport, requests)
        if lost and _released_by_all(replies, running) and len(active) - len(lost) >= disclosure["min_hospitals"]:
            # Lost after the others had released: their result stands (a restart over fewer hospitals would
            # be the differencing the hospitals refuse). The lost hospital is recorded, not waited for.
            dropouts += _dropouts(lost, labels, r, attempt)
            active = [n for n in active if n not in lost]
            lost = {}
        if lost:
            gone = [labels.get(n, f"node {n}") for n in sorted(lost)]
            dropouts += _dropouts(lost, labels, r, attempt)
            nodes = [n for n in nodes if n not in lost]
            active = [n for n in active if n not in lost]
            progress(event="dropout", hospitals=gone, round=r, remaining=len(active))
            if log:
                log.append("dropout", run_id=base["run_id"], round=r, hospitals=gone, remaining=len(active))
            if len(active) < disclosure["min_hospitals"]:
                raise FederationError(
                    f"{', '.join(gone)} dropped out in round {r} ({'; '.join(lost.values())}); only {len(active)} "
                    f"hospital(s) remain, the policy needs at least {disclosure['min_hospitals']}: the study ends "
                    "without a result")
            # Start again on the remaining hospitals: fresh state and a new run id, so that no message of
            # the abandoned attempt is accepted and a hospital that comes back is never mixed in halfway.
            attempt += 1
            base["run_id"] = f"{run_id}.{attempt}"
            analyses, r = _fresh(job), 0
            progress(event="restart", attempt=attempt, hospitals=len(active))
            continue
        if log:
            log.append("round", run_id=run_id, round=r, analyses=running,
                       bytes_out={labels.get(n, str(n)): len(q) for n, q in requests.items()},
                       bytes_in={labels.get(n, str(n)): len(replies.get(n, b"")) for n in requests})
        parsed = {}
        for node, raw in replies.items():
            bytes_from[node] = bytes_from.get(node, 0) + len(raw)
            who = labels.get(node, f"node {node}")
            try:
                header, blobs = wire.unpack(raw)
                intact = header.get("status") == "refused" or header.get("blobs_sha256") == wire.blobs_digest(blobs)
            except (ValueError, RecursionError, UnicodeError) as exc:
                raise FederationError(f"hospital {who}: its reply in round {r} arrived unreadable ({exc})") from None
            if not intact:
                raise FederationError(f"hospital {who}: its reply in round {r} arrived corrupted (the ciphertexts "
                                      "do not match the digest it states)")
            _check_reply(header, blobs, pub, checked)
            if header.get("status") != "refused" and (header.get("run_id"), header.get("round")) != (base["run_id"], r):
                raise FederationError(f"hospital {who}: its reply answers round {header.get('round')} of run "
                                      f"{header.get('run_id')}, not round {r} of {base['run_id']} (replayed?)")
            labels[node] = header.get("hospital", str(node))
            if header.get("data_fingerprint"):
                fingerprints[labels[node]] = str(header["data_fingerprint"])
            parsed[node] = (header, blobs)
        # hospitals that refuse the whole query (invalid data, wrong keys) drop out in round 1
        for node, (header, _) in list(parsed.items()):
            if header["status"] == "refused":
                refusals[labels[node]] = header.get("reason", "")
                progress(event="refused", hospital=labels[node], reason=header.get("reason", ""))
                if log:
                    log.append("refusal", run_id=run_id, round=r, hospital=labels[node], reason=header.get("reason", ""))
                if r > 1:
                    raise FederationError(f"hospital {labels[node]} refused in round {r}: {header.get('reason')}")
                active.remove(node)
                del parsed[node]
        if r == 1 and len(active) < disclosure["min_hospitals"]:
            why = "; ".join(f"{h}: {m}" for h, m in refusals.items()) or "not enough hospitals connected"
            raise FederationError(f"only {len(active)} hospital(s) can take part, the policy needs at least "
                                  f"{disclosure['min_hospitals']} ({why})")
        for name in running:
            _collect(name, analyses[name], parsed, labels, pub, disclosure, r, {n: nodes.index(n) for n in nodes})
        progress(event="round", round=r, running=len(running),
                 finished=sum(a["status"] != "running" for a in analyses.values()),
                 seconds=round(time.time() - t_round, 3))
    out = {
        "run_id": run_id,
        "rounds": max((a["rounds"] for a in analyses.values()), default=0),
        "messages": r,
        "analyses": {n: {k: a[k] for k in ("status", "rounds") if k in a}
                     | {k: a[k] for k in ("result", "reason", "hospitals") if k in a}
                     for n, a in analyses.items()},
        "hospitals": [labels[n] for n in active],
        "sites": [labels.get(n) for n in nodes],  # site index -> hospital label (None: never answered)
        "refusals": refusals,
        "dropouts": dropouts,
        "data_fingerprints": {h: fp for h, fp in fingerprints.items() if h not in refusals},
        "privacy": {
            "server_public_context_only": not pub.context.is_private(),
            "key_fingerprint": pub.fingerprint,
            "bytes_from_each_hospital": {labels.get(n, str(n)): b for n, b in bytes_from.items()},
            "ciphertexts_checked": checked["ciphertexts"],
            "reply_headers_checked": checked["headers"],
            "plaintext_statistics_sent_to_server": False,
        },
        "seconds": round(time.time() - t0, 3),
    }
    if log:
        for name, a in analyses.items():
            log.append("release" if a["status"] == "released" else a["status"], run_id=run_id, analysis=name,
                       hospitals=a.get("hospitals"), rounds=a["rounds"], reason=a.get("reason", ""),
                       result_digest=digest(a["result"]) if a["status"] == "released" else None)
        log.append("end", run_id=run_id, messages=r, participants=out["hospitals"],
                   bytes_from_each_hospital=out["privacy"]["bytes_from_each_hospital"])
    if job.get("output"):
        write_json(job["output"], out)
    progress(event="done", rounds=out["rounds"], seconds=out["seconds"])
    return out


def _dropouts(lost: dict, labels: dict, r: int, attempt: int) -> list[dict]:
    """What the result records of hospitals lost in round ``r``: who, when, in which attempt, and why."""
    return [{"hospital": labels.get(n, f"node {n}"), "round": r, "attempt": attempt, "time": time.time(),
             "why": lost[n]} for n in sorted(lost)]


def _released_by_all(replies: dict, running: list[str]) -> bool:
    """Every reply that arrived releases (or withholds) every running analysis: the study is done."""
    if not replies:
        return False
    for raw in replies.values():
        try:
            header, _ = wire.unpack(raw)
            entries = header.get("analyses") or {}
            if any((entries.get(name) or {}).get("status") not in ("released", "withheld") for name in running):
                return False
        except (ValueError, RecursionError, UnicodeError, AttributeError):
            return False
    return True


def _fresh(job: dict) -> dict:
    """Every analysis at its start (a study's first round, or its restart after a dropout)."""
    return {name: {"spec": spec, "sealed": None, "sum": None, "length": 0, "chunks": 0, "rounds": 0,
                   "status": "running", "participants": None}
            for name, spec in job["analyses"].items()}


def _exchange(transport, requests: dict) -> tuple[dict, dict]:
    """(replies, lost hospitals with why); a transport without ``exchange_some`` loses none or fails."""
    some = getattr(transport, "exchange_some", None)
    return some(requests) if some else (transport.exchange(requests), {})


def _check_reply(header: dict, blobs: dict, pub: PublicKeys, checked: dict) -> None:
    """Evidence, not a claim: refuse any reply that could carry plaintext statistics."""
    extra = set(header) - ALLOWED_REPLY
    for field in ("data_fingerprint", "blobs_sha256"):  # hex digests only: no room for anything else
        value = header.get(field)
        if value is not None and not (isinstance(value, str) and len(value) == 64):
            extra.add(field)
    if extra:
        raise FederationError(f"hospital {header.get('hospital')} sent unexpected fields {sorted(extra)}")
    for name, entry in (header.get("analyses") or {}).items():
        allowed = ALLOWED_ENTRY.get(entry.get("status"))
        if allowed is None or set(entry) - allowed:
            raise FederationError(f"hospital {header.get('hospital')}: analysis {name} reply has unexpected fields")
    for blob in blobs.values():
        if not pub.is_ciphertext(blob):
            raise FederationError(f"hospital {header.get('hospital')} sent a payload that is not a CKKS ciphertext")
        checked["ciphertexts"] += 1
    checked["headers"] += 1


def _collect(name: str, a: dict, parsed: dict, labels: dict, pub: PublicKeys, disclosure: dict, r: int,
             site_of: dict) -> None:
    entries = {node: header["analyses"].get(name) for node, (header, _) in parsed.items()
               if (a["participants"] is None or node in a["participants"]) and name in header["analyses"]}
    statuses = {e["status"] for e in entries.values()}
    if "error" in statuses:
        a["status"] = "failed"
        a["reason"] = "; ".join(f"{labels[n]}: {e['reason']}" for n, e in entries.items() if e["status"] == "error")
        return
    if r == 1:
        refused = {n for n, e in entries.items() if e["status"] == "refused"}
        if refused:
            a["refused"] = {labels[n]: entries[n]["reason"] for n in refused}
            entries = {n: e for n, e in entries.items() if n not in refused}
        a["participants"] = set(entries)
        a["hospitals"] = sorted(labels[n] for n in entries)
        if len(entries) < disclosure["min_hospitals"]:
            a["status"] = "withheld"
            refusals = "".join(f"; {h}: {m}" for h, m in a.get("refused", {}).items())
            a["reason"] = (f"only {len(entries)} hospital(s) can contribute, the policy needs "
                           f"{disclosure['min_hospitals']}{refusals}")
            return
        statuses = {e["status"] for e in entries.values()}
    if statuses == {"withheld"} or "withheld" in statuses:
        a["status"] = "withheld"
        a["reason"] = next(e["reason"] for e in entries.values() if e["status"] == "withheld")
        return
    if len(statuses) != 1:
        raise FederationError(f"analysis {name}: hospitals are in different states {sorted(statuses)}")
    digests = {e["digest"] for e in entries.values()}
    if len(digests) != 1:
        groups = {}
        for n, e in entries.items():
            groups.setdefault(e["digest"], []).append(labels[n])
        sides = " vs ".join(", ".join(sorted(g)) for g in sorted(groups.values(), key=len))
        raise FederationError(f"analysis {name}: hospitals disagree on the step of round {r} ({sides}; "
                              "different data dictionary or code versions?)")
    if statuses == {"released"}:
        first = next(iter(entries.values()))
        a["status"], a["result"] = "released", first["result"]
        return
    first = next(iter(entries.values()))
    a["sealed"], a["length"], a["chunks"] = first["sealed"], first["length"], first["chunks"]
    chunk_lists = [[parsed[n][1][f"{name}/{i}"] for i in range(e["chunks"])] for n, e in entries.items()]
    a["sum"] = pub.add(chunk_lists)
    a["sum_sites"] = sorted(site_of[n] for n in entries)
    a["rounds"] += 1

