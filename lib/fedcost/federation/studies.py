"""Signed studies: a hospital answers only what a researcher it trusts signed, and only as signed.

Open-source Flower does not authenticate who submits a run, and the
coordinator relays every request; either could ask the hospitals for more
than a researcher planned. So the researcher signs the study (Ed25519, the
``cryptography`` package) and the signed plan travels with every request:

    {"study": {study_id, requester, analyses, participants, expires, issued,
               dictionary_fingerprint, disclosure},
     "key": the researcher's public key (hex), "signature": hex}

A hospital whose policy lists trusted researcher keys (`admit`) refuses a
request that is unsigned, signed by another key, expired, not addressed to
it, or that asks for an analysis or a parameter the plan does not hold; the
disclosure rules it applies start from the signed ones, never the relayed
header's. With ``approval: manual`` each new study waits in the hospital's
work folder until its operator approves or rejects it (`pending`,
`decide`, ``fedcost hospital approve|reject``).
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fedcost.errors import UsageError
from fedcost.federation.audit import digest
from fedcost.federation.reasons import Refused
from fedcost.files import canonical_json, write_bytes, write_json

KEY_FILE = "researcher.key"  # the signing key: stays with the researcher (mode 600)
PUBLIC_FILE = "researcher.pub"  # one line of hex: what hospitals list in their policy
DEFAULT_DAYS = 30  # a signed study expires this many days after signing unless told otherwise
APPROVALS = "studies"  # in the hospital's work folder: pending/, approved/, rejected/


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# -- the researcher's side ----------------------------------------------------------------
def init_researcher(out: str | Path) -> tuple[Path, Path]:
    """A new signing key pair in ``out``: researcher.key (private, 600) and researcher.pub (hex)."""
    out = Path(out)
    key_path, pub_path = out / KEY_FILE, out / PUBLIC_FILE
    if key_path.exists():
        raise UsageError(f"{key_path} exists already: keep it, or remove it on purpose to make a new one")
    key = Ed25519PrivateKey.generate()
    write_bytes(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()), mode=0o600)
    write_bytes(pub_path, (public_hex(key) + "\n").encode())
    return key_path, pub_path


def load_key(path: str | Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"{path}: not a researcher signing key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path}: not an Ed25519 key; make one with `fedcost researcher init`")
    return key


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def sign(job: dict, key: Ed25519PrivateKey, study_id: str, participants: list[str] | None = None,
         days: float = DEFAULT_DAYS, now: dt.datetime | None = None) -> dict:
    """The signed envelope of a study job (its analyses, dictionary and disclosure rules)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    plan = {"study_id": study_id, "requester": job.get("requester"), "analyses": job["analyses"],
            "participants": sorted(participants) if participants else None,
            "issued": now.isoformat(timespec="seconds"),
            "expires": (now + dt.timedelta(days=days)).isoformat(timespec="seconds"),
            "dictionary_fingerprint": job.get("dictionary_fingerprint"), "disclosure": job["disclosure"]}
    return {"study": plan, "key": public_hex(key), "signature": key.sign(canonical_json(plan)).hex()}


# -- the hospital's side ------------------------------------------------------------------
def trusted_keys(node: dict) -> set[str]:
    """The researcher keys a hospital trusts (node setting ``trusted-researchers``: hex keys, comma-separated)."""
    raw = node.get("trusted-researchers") or ""
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return {k.strip().lower() for k in items if k.strip()}


def admit(header: dict, node: dict, label: str, now: dt.datetime | None = None) -> dict | None:
    """The signed plan this request may be answered under, or None where the hospital asks for none.

    A hospital asks for signatures when its node settings list trusted keys or
    say ``require-signed-study``. Raises Refused (codes in `reasons`) otherwise.
    """
    trusted = trusted_keys(node)
    envelope = header.get("study")
    if not trusted and not node.get("require-signed-study"):
        return None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("study"), dict):
        raise Refused("unsigned_study", "the request carries no signed study")
    plan, key = envelope["study"], str(envelope.get("key", "")).lower()
    if key not in trusted:
        raise Refused("untrusted_study", f"signed by {key[:16]}..., which this hospital's policy does not list")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(key)).verify(bytes.fromhex(str(envelope["signature"])),
                                                                       canonical_json(plan))
    except (InvalidSignature, ValueError, KeyError, TypeError):
        raise Refused("untrusted_study", "the signature does not match the study") from None
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        expired = dt.datetime.fromisoformat(str(plan["expires"])) < now
    except (KeyError, ValueError, TypeError):
        raise Refused("untrusted_study", "the study states no valid expiry") from None
    if expired:
        raise Refused("study_expired", f"the study expired at {plan['expires']}")
    if plan.get("participants") is not None and label not in plan["participants"]:
        raise Refused("not_a_participant", f"the study names {', '.join(plan['participants'])}, not {label}")
    for name, item in (header.get("analyses") or {}).items():
        if (plan.get("analyses") or {}).get(name) != item.get("spec"):
            raise Refused("not_signed", f"analysis {name!r} as asked is not the one the researcher signed")
    if header.get("dictionary_fingerprint") != plan.get("dictionary_fingerprint"):
        raise Refused("not_signed", "the dictionary asked for is not the one the researcher signed")
    if node.get("approval") == "manual":
        _approved(Path(node["work-dir"]), plan, key)
    return plan


def _approved(work: Path, plan: dict, key: str) -> None:
    d = digest(plan)
    root = work / APPROVALS
    if (root / "approved" / f"{d}.json").exists():
        return
    if (root / "rejected" / f"{d}.json").exists():
        raise Refused("study_rejected", f"study {plan.get('study_id')} ({d[:12]}) was rejected here")
    pending = root / "pending" / f"{d}.json"
    if not pending.exists():
        write_json(pending, {"digest": d, "key": key, "study": plan, "first_asked": _now()}, 0o600)
    raise Refused("awaiting_approval", f"study {plan.get('study_id')} ({d[:12]}) waits for the operator's "
                                       f"approval: fedcost hospital approve {d[:12]}")


def work_folder(workdir: str | Path) -> Path:
    """The worker's folder of a hospital: WORKDIR/work under `fedcost hospital start`, else WORKDIR itself."""
    workdir = Path(workdir)
    return workdir / "work" if (workdir / "work").is_dir() else workdir


def pending(work: str | Path) -> list[dict]:
    """The studies waiting for this hospital's operator, oldest first."""
    folder = Path(work) / APPROVALS / "pending"
    items = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    return sorted(items, key=lambda e: e["first_asked"])


def find(work: str | Path, prefix: str) -> dict:
    """The pending study whose digest or study id starts with ``prefix`` (exactly one)."""
    # the digest is recomputed from the plan shown, never taken from the file (the worker's user writes it)
    entries = [{**e, "digest": digest(e["study"])} for e in pending(work) if isinstance(e.get("study"), dict)]
    hits = [e for e in entries if e["digest"].startswith(prefix) or str(e["study"].get("study_id")) == prefix]
    if len(hits) != 1:
        raise UsageError(f"{'no' if not hits else len(hits)} pending studies match {prefix!r} in {work}; "
                         "`fedcost hospital approve --workdir DIR` lists them")
    return hits[0]


def decide(work: str | Path, entry: dict, verdict: str) -> Path:
    """Move a pending study to approved/ or rejected/; the next request for it is answered accordingly."""
    assert verdict in ("approved", "rejected")
    entry = {**entry, "digest": digest(entry["study"])}  # 64 hex digits: a file name inside the folder
    root = Path(work) / APPROVALS
    target = root / verdict / f"{entry['digest']}.json"
    write_json(target, {**entry, verdict: _now()}, 0o600)
    for path in (root / "pending").glob("*.json"):  # the pending file of this plan, whatever it was named
        try:
            if digest(json.loads(path.read_text(encoding="utf-8")).get("study")) == entry["digest"]:
                path.unlink()
        except (OSError, ValueError, AttributeError):
            continue
    return target


def columns_used(plan: dict, fields) -> list[str]:
    """The data columns a plan's analyses read (formula terms and named columns), for the operator to check."""
    from fedcost.models.formula import parse

    fields = set(fields)
    cols: set[str] = set()
    for spec in (plan.get("analyses") or {}).values():
        for k, v in spec.items():
            if k == "formula" and isinstance(v, str):
                cols.update(parse(v, fields).fields)
            for x in (v if isinstance(v, list) else [v]):
                if isinstance(x, str) and x in fields:
                    cols.add(x)
    return sorted(cols)
