"""The hospital side of a round: refusals leave as a reason code only, the details stay in its audit log."""
from __future__ import annotations

import hashlib
import struct

import pytest

from fedcost.data import synth
from fedcost.federation import audit, hospital, wire
from fedcost.federation.coordinator import _check_reply
from fedcost.federation.crypto import PUBLIC_FILE, SECRET_FILE, PublicKeys, init_keys
from fedcost.federation.reasons import REASONS
from fedcost.models.irls import GLMAnalysis
from fedcost.policy import Policy


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    out = tmp_path_factory.mktemp("keys")
    init_keys(out)
    return out / SECRET_FILE, PublicKeys.load(out / PUBLIC_FILE)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """One small valid hospital file (60 records on average), and the same file cut to 3 records."""
    out = tmp_path_factory.mktemp("data")
    path = synth.write(out / "synth", 1, 60, 4)[0]
    lines = path.read_text(encoding="utf-8").splitlines()
    few = out / "few.csv"
    few.write_text("\n".join(lines[:4]) + "\n", encoding="utf-8")
    return path, few


def _request(pub, dictionary, spec=None, **header) -> bytes:
    spec = spec or GLMAnalysis("cost_total ~ age", "gamma").spec()
    return wire.pack({"run_id": "run-1", "round": 1, "key_fingerprint": pub.fingerprint,
                      "disclosure": Policy.default().disclosure, "dictionary_fingerprint": dictionary.fingerprint,
                      "analyses": {"m": {"spec": spec, "sealed": None, "length": 0, "chunks": 0,
                                         "participants": None}},
                      "site_index": 0, "site_count": 3, **header})


def _refusal(code: str, label: str = "H01") -> dict:
    return {"hospital": label, "status": "refused", "code": code, "reason": REASONS[code]}


def test_an_unreadable_request_gets_a_code_and_the_audit_log_the_details(tmp_path):
    work = tmp_path / "work"
    reply = hospital.handle(b"GET / HTTP/1.1", {"data-path": "/srv/data/H07.csv", "work-dir": str(work)})
    header, blobs = wire.unpack(reply)
    assert header == _refusal("unreadable_request", label="H07") and blobs == {}  # labelled by the file's stem
    log = work / hospital.AUDIT_LOG
    assert audit.verify(log) == []
    (entry,) = audit.read(log)
    assert entry["event"] == "sent" and entry["status"] == "refused" and entry["code"] == "unreadable_request"
    assert entry["bytes"] == len(reply) and entry["ciphertexts"] == 0
    assert entry["details"] == {"request": "not a fedcost message"}


def test_a_hospital_that_cannot_log_sends_nothing_but_that(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    header, blobs = wire.unpack(hospital.handle(b"junk", {"hospital": "H02", "work-dir": str(blocker)}))
    assert header == _refusal("audit_log", label="H02") and blobs == {}


def test_invalid_data_is_refused_without_naming_the_file(keys, dictionary, tmp_path):
    secret, pub = keys
    bad = tmp_path / "patients-2024-secret.csv"
    bad.write_text("record_id,age\nR1,140\n", encoding="utf-8")
    work = tmp_path / "work"
    reply = hospital.handle(_request(pub, dictionary),
                            {"hospital": "H01", "data-path": str(bad), "key-path": str(secret), "work-dir": str(work)})
    assert wire.unpack(reply) == (_refusal("invalid_data"), {})
    assert b"patients-2024-secret" not in reply and str(tmp_path).encode() not in reply
    (entry,) = audit.read(work / hospital.AUDIT_LOG)
    assert entry["run_id"] == "run-1" and entry["round"] == 1 and entry["code"] == "invalid_data"
    assert str(bad) in entry["details"]["query"]  # the operator can see which file failed


def test_a_foreign_key_or_dictionary_is_refused(keys, dictionary, data, tmp_path):
    secret, pub = keys
    node = {"hospital": "H01", "data-path": str(data[0]), "key-path": str(secret), "work-dir": str(tmp_path / "w")}
    other_key = "0000 1111 2222 3333 4444 5555 6666 7777"
    reply = hospital.handle(_request(pub, dictionary, key_fingerprint=other_key), node)
    assert wire.unpack(reply) == (_refusal("key_mismatch"), {})
    assert pub.fingerprint.encode() not in reply
    reply = hospital.handle(_request(pub, dictionary, dictionary_fingerprint="f" * 64), node)
    assert wire.unpack(reply) == (_refusal("dictionary_mismatch"), {})
    entries = audit.read(tmp_path / "w" / hospital.AUDIT_LOG)
    assert [e["code"] for e in entries] == ["key_mismatch", "dictionary_mismatch"]
    assert other_key in entries[0]["details"]["query"] and pub.fingerprint in entries[0]["details"]["query"]


def test_too_few_records_refuse_the_analysis_not_the_hospital(keys, dictionary, data, tmp_path):
    secret, pub = keys
    work = tmp_path / "w"
    node = {"hospital": "H01", "data-path": str(data[1]), "key-path": str(secret), "work-dir": str(work)}
    reply = hospital.handle(_request(pub, dictionary), node)
    header, blobs = wire.unpack(reply)
    assert header["status"] == "ok" and blobs == {}
    assert header["analyses"] == {"m": {"status": "refused", "code": "too_few_records",
                                        "reason": REASONS["too_few_records"]}}
    assert b"3 records" not in reply
    (entry,) = audit.read(work / hospital.AUDIT_LOG)
    assert entry["analyses"] == {"m": {"status": "refused", "code": "too_few_records"}}
    assert entry["details"] == {"m": "3 records for this analysis, fewer than the minimum 5"}


def test_a_first_round_sends_ciphertexts_the_coordinator_accepts(keys, dictionary, data, tmp_path):
    secret, pub = keys
    work = tmp_path / "w"
    node = {"hospital": "H01", "data-path": str(data[0]), "key-path": str(secret), "work-dir": str(work)}
    reply = hospital.handle(_request(pub, dictionary), node)
    header, blobs = wire.unpack(reply)
    entry = header["analyses"]["m"]
    assert header["status"] == "ok" and entry["status"] == "running"
    assert sorted(blobs) == [f"m/{i}" for i in range(entry["chunks"])] and entry["chunks"] >= 1
    checked = {"ciphertexts": 0, "headers": 0}
    _check_reply(header, blobs, pub, checked)  # only allowed fields, every payload a CKKS ciphertext
    assert checked == {"ciphertexts": entry["chunks"], "headers": 1}
    assert header["data_fingerprint"] == hashlib.sha256(data[0].read_bytes()).hexdigest()
    (logged,) = audit.read(work / hospital.AUDIT_LOG)
    assert logged["ciphertexts"] == entry["chunks"] and logged["analyses"] == {"m": {"status": "running"}}


def test_the_hospital_applies_the_stricter_disclosure_rules():
    asked = {"min_hospitals": 1, "min_cell_records": 2, "max_parameter_fraction": 0.5, "name_hospitals": True}
    # a coordinator cannot go below the floors 3 / 5 / 0.2
    assert hospital.stricter(asked, {}) == {"min_hospitals": 3, "min_cell_records": 5,
                                            "max_parameter_fraction": 0.2, "name_hospitals": True}
    # the hospital's own settings can only tighten them
    mine = {"min-hospitals": 6, "min-cell-records": 10, "max-parameter-fraction": 0.05, "name-hospitals": False}
    assert hospital.stricter(asked, mine) == {"min_hospitals": 6, "min_cell_records": 10,
                                              "max_parameter_fraction": 0.05, "name_hospitals": False}
    assert hospital.stricter({"min_hospitals": 8, "min_cell_records": 20}, {"min-hospitals": 4})[
        "min_hospitals"] == 8
    # below the floors only on the hospital's own, explicit say
    own = hospital.stricter(asked, {"allow-below-defaults": True, "min-hospitals": 2})
    assert own["min_hospitals"] == 2 and own["min_cell_records"] == 2


@pytest.mark.parametrize("request_bytes", [b"FCW1\x00", b"FCW1" + struct.pack(">I", 2) + b"{}"])
def test_handle_never_raises_on_a_malformed_message(tmp_path, request_bytes):
    header, _ = wire.unpack(hospital.handle(request_bytes, {"hospital": "H01", "work-dir": str(tmp_path)}))
    assert header == _refusal("unreadable_request")


def test_the_preload_validates_once_and_a_bad_file_is_still_refused_by_the_request(keys, dictionary, data, tmp_path,
                                                                                  monkeypatch):
    import fedcost.data.validation as validation

    secret, pub = keys
    calls = []
    real = validation.load_valid
    monkeypatch.setattr(validation, "load_valid", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    monkeypatch.setattr(hospital, "_MEMO", {})
    monkeypatch.setattr(hospital, "DISK_CACHE", False)  # as in the worker: memory only
    node = {"hospital": "H01", "data-path": str(data[0]), "key-path": str(secret), "work-dir": str(tmp_path / "w")}
    hospital.preload(node)
    assert len(calls) == 1  # validated before any request
    header, _ = wire.unpack(hospital.handle(_request(pub, dictionary), node))
    assert header["status"] == "ok" and len(calls) == 1  # the request used the preloaded table
    assert not (tmp_path / "w" / "cache").exists() or not list((tmp_path / "w" / "cache").iterdir())
    bad = tmp_path / "bad.csv"
    bad.write_text("record_id,age\nR1,140\n", encoding="utf-8")
    node = {**node, "data-path": str(bad), "work-dir": str(tmp_path / "w2")}
    hospital.preload(node)  # swallows the error ...
    assert wire.unpack(hospital.handle(_request(pub, dictionary), node)) == (_refusal("invalid_data"), {})  # ... met again
