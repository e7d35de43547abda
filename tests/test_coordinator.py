"""The coordinator's checks on what hospitals send, its progress lines, and a study every hospital refuses."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fedcost.engines.local import LocalTransport
from fedcost.errors import FederationError
from fedcost.federation import audit, hospital, wire
from fedcost.federation.coordinator import (
    ALLOWED_ENTRY, PROGRESS_LINE, _check_reply, _collect, _exchange, _fresh, _Progress, serve,
)
from fedcost.federation.crypto import PUBLIC_FILE, SECRET_FILE, PublicKeys, SecretKeys, init_keys
from fedcost.federation.reasons import REASONS
from fedcost.models.irls import GLMAnalysis
from fedcost.policy import Policy


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    out = tmp_path_factory.mktemp("keys")
    init_keys(out)
    return out, SecretKeys.load(out / SECRET_FILE), PublicKeys.load(out / PUBLIC_FILE)


def _reply(**extra) -> dict:
    return {"hospital": "H01", "status": "ok", "data_fingerprint": "ab" * 32,
            "analyses": {"m": {"status": "running", "sealed": "tok", "digest": "d", "length": 3, "chunks": 1}},
            **extra}


def test_a_well_formed_reply_with_ciphertexts_passes_and_is_counted(keys):
    _, sec, pub = keys
    checked = {"ciphertexts": 0, "headers": 0}
    blobs = {"m/0": sec.encrypt(np.array([1.0, 2.0, 3.0]))[0], "m/1": sec.encrypt(np.zeros(5))[0]}
    _check_reply(_reply(), blobs, pub, checked)
    assert checked == {"ciphertexts": 2, "headers": 1}
    # every status with exactly its allowed fields passes
    for status, fields in ALLOWED_ENTRY.items():
        _check_reply({"hospital": "H01", "status": "ok", "analyses": {"a": {f: "x" for f in fields} | {
            "status": status}}}, {}, pub, checked)
    assert checked == {"ciphertexts": 2, "headers": 1 + len(ALLOWED_ENTRY)}


@pytest.mark.parametrize("header, match", [
    (_reply(xtx=[1.0, 2.0]), r"unexpected fields \['xtx'\]"),
    (_reply(data_fingerprint="short"), r"unexpected fields \['data_fingerprint'\]"),
    (_reply(data_fingerprint=12345), r"unexpected fields \['data_fingerprint'\]"),
    (_reply(analyses={"m": {"status": "running", "sealed": "t", "digest": "d", "length": 3, "chunks": 1,
                            "result": {"coef": [0.1]}}}), "analysis m reply has unexpected fields"),
    (_reply(analyses={"m": {"status": "done", "result": 1}}), "analysis m reply has unexpected fields"),
    (_reply(analyses={"m": {"status": "refused", "code": "x", "reason": "y", "path": "/data/H01.csv"}}),
     "analysis m reply has unexpected fields"),
])
def test_headers_that_could_carry_statistics_are_refused(keys, header, match):
    checked = {"ciphertexts": 0, "headers": 0}
    with pytest.raises(FederationError, match=match):
        _check_reply(header, {}, keys[2], checked)
    assert checked["headers"] == 0


def test_a_payload_that_is_not_a_ciphertext_is_refused(keys):
    _, sec, pub = keys
    checked = {"ciphertexts": 0, "headers": 0}
    for blob in (np.arange(10.0).tobytes(), json.dumps([1.5, 2.5]).encode(), sec.encrypt([1.0])[0][:-40]):
        with pytest.raises(FederationError, match="H01 sent a payload that is not a CKKS ciphertext"):
            _check_reply(_reply(), {"m/0": blob}, pub, checked)
    assert checked == {"ciphertexts": 0, "headers": 0}


def _varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([low])
        out += bytes([low | 0x80])


def test_plaintext_smuggled_after_a_real_ciphertext_is_refused(keys):
    _, sec, pub = keys
    leak = np.arange(1000.0).tobytes()  # 1,000 plaintext statistics
    # protobuf field 1000, wire type 2 (length-delimited): tag varint, length varint, payload
    blob = sec.encrypt([1.0, 2.0])[0] + _varint((1000 << 3) | 2) + _varint(len(leak)) + leak
    with pytest.raises(FederationError, match="not a CKKS ciphertext"):
        _check_reply(_reply(), {"m/0": blob}, pub, {"ciphertexts": 0, "headers": 0})


def test_progress_lines_on_stdout_or_in_a_file(tmp_path, capsys):
    _Progress("-")(event="round", round=2)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(PROGRESS_LINE)
    event = json.loads(out[0][len(PROGRESS_LINE):])
    assert event["event"] == "round" and event["round"] == 2 and isinstance(event["time"], float)
    path = tmp_path / "progress.jsonl"
    p = _Progress(str(path))
    p(event="nodes", nodes=3)
    p(event="done", rounds=4, time=1.0)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["event"] for x in lines] == ["nodes", "done"] and lines[1]["time"] == 1.0
    _Progress(None)(event="ignored")  # no progress file: nothing written anywhere
    assert capsys.readouterr().out == ""


def test_fresh_state_and_the_exchange_of_a_transport_without_dropouts():
    fresh = _fresh({"analyses": {"a": {"kind": "glm"}, "b": {"kind": "descriptive"}}})
    assert fresh["a"] == {"spec": {"kind": "glm"}, "sealed": None, "sum": None, "length": 0, "chunks": 0,
                          "rounds": 0, "status": "running", "participants": None}

    class Plain:
        def exchange(self, requests):
            return {k: v[::-1] for k, v in requests.items()}

    class Lossy(Plain):
        def exchange_some(self, requests):
            return {1: b"x"}, {2: "timed out"}

    assert _exchange(Plain(), {1: b"ab", 2: b"cd"}) == ({1: b"ba", 2: b"dc"}, {})
    assert _exchange(Lossy(), {1: b"ab", 2: b"cd"}) == ({1: b"x"}, {2: "timed out"})


def test_a_study_every_hospital_refuses_ends_with_the_codes_only(keys, tmp_path, dictionary):
    root, _, _ = keys
    nodes = []
    for h in ("H01", "H02", "H03"):
        data = tmp_path / f"secret-{h}.csv"
        data.write_text("record_id,age\nR1,not-an-age\n", encoding="utf-8")  # lacks required fields: invalid
        nodes.append({"hospital": h, "data-path": str(data), "key-path": str(root / SECRET_FILE),
                      "work-dir": str(tmp_path / "work" / h)})
    job = {"analyses": {"m": GLMAnalysis("cost_total ~ age", "gamma").spec()},
           "public_key": str(root / PUBLIC_FILE), "disclosure": Policy.default().disclosure,
           "dictionary_fingerprint": dictionary.fingerprint, "audit_log": str(tmp_path / "coord" / "audit.jsonl")}
    with pytest.raises(FederationError) as info:
        serve(job, LocalTransport(nodes, hospital.handle))
    message = str(info.value)
    assert message.startswith("only 0 hospital(s) can take part, the policy needs at least 3")
    for h in ("H01", "H02", "H03"):
        assert f"{h}: {REASONS['invalid_data']}" in message
    assert "secret-" not in message and "not-an-age" not in message  # the details stayed at the hospitals
    log = tmp_path / "coord" / "audit.jsonl"
    assert audit.verify(log) == []
    refusals = [e for e in audit.read(log) if e["event"] == "refusal"]
    assert sorted(e["hospital"] for e in refusals) == ["H01", "H02", "H03"]
    assert "secret-" not in log.read_text()


def test_too_few_contributors_without_refusals_is_withheld_not_a_crash():
    # Two hospitals answer round 1 of an analysis that needs three; neither refused it.
    a = _fresh({"analyses": {"m": {"kind": "glm"}}})["m"]
    parsed = {n: ({"analyses": {"m": {"status": "running", "digest": "d"}}}, {}) for n in (1, 2)}
    _collect("m", a, parsed, {1: "H01", 2: "H02"}, None, {"min_hospitals": 3}, 1, {1: 0, 2: 1})
    assert a["status"] == "withheld"
    assert a["reason"] == "only 2 hospital(s) can contribute, the policy needs 3"


class _Tampering(LocalTransport):
    """The coordinator's view of a network that alters H02's reply in round 2 (``how``)."""

    def __init__(self, nodes, how):
        super().__init__(nodes, hospital.handle)
        self.how, self.round, self.first = how, 0, None

    def exchange(self, requests):
        replies = super().exchange(requests)
        self.round += 1
        if self.round == 1:
            self.first = replies[2]
        elif self.round == 2:
            replies[2] = self.how(replies[2], self.first)
        return replies


def _flip_last_byte(raw, _):
    return raw[:-1] + bytes([raw[-1] ^ 0xFF])


@pytest.mark.parametrize("how, says", [
    (_flip_last_byte, "arrived corrupted"),                        # corrupted in transit
    (lambda raw, _: raw[: len(raw) // 2], "arrived unreadable"),   # truncated
    (lambda raw, first: first, "answers round 1"),                 # replayed from the round before
    (lambda raw, _: raw + b"\x00", "arrived unreadable"),          # padded
])
def test_a_corrupted_truncated_or_replayed_reply_is_refused_naming_the_hospital(keys, tmp_path, dictionary,
                                                                                 hospital_paths, how, says):
    root, _, _ = keys
    nodes = [{"hospital": p.stem, "data-path": str(p), "key-path": str(root / SECRET_FILE),
              "work-dir": str(tmp_path / p.stem)} for p in hospital_paths]
    job = {"analyses": {"m": GLMAnalysis("cost_total ~ age", "gamma").spec()},
           "public_key": str(root / PUBLIC_FILE), "disclosure": Policy.default().disclosure,
           "dictionary_fingerprint": dictionary.fingerprint}
    with pytest.raises(FederationError, match=f"hospital H02.*{says}"):
        serve(job, _Tampering(nodes, how))


def test_a_hospital_on_another_dictionary_version_is_named(keys, tmp_path, dictionary, hospital_paths):
    import shutil

    root, _, _ = keys
    other = tmp_path / "dictionary"
    shutil.copytree(dictionary.path, other)
    text = (other / "dictionary.yaml").read_text(encoding="utf-8")
    assert f'version: "{dictionary.version}"' in text
    (other / "dictionary.yaml").write_text(text.replace(f'version: "{dictionary.version}"', 'version: "9.9.9"', 1),
                                           encoding="utf-8")
    nodes = [{"hospital": p.stem, "data-path": str(p), "key-path": str(root / SECRET_FILE),
              "work-dir": str(tmp_path / p.stem), **({"dictionary": str(other)} if p.stem == "H03" else {})}
             for p in hospital_paths]
    job = {"analyses": {"m": GLMAnalysis("cost_total ~ age", "gamma").spec()},
           "public_key": str(root / PUBLIC_FILE), "disclosure": Policy.default().disclosure,
           "dictionary_fingerprint": dictionary.fingerprint, "dictionary_version": dictionary.version}
    with pytest.raises(FederationError) as info:  # the two others are fewer than the minimum of 3
        serve(job, LocalTransport(nodes, hospital.handle))
    assert f"H03: {REASONS['dictionary_mismatch']}" in str(info.value)


def test_a_hospital_lost_after_the_others_released_leaves_the_result_standing(keys, tmp_path, dictionary):
    from fedcost.data.synth import write

    class LostAtRelease(LocalTransport):
        def exchange_some(self, requests):
            replies = self.exchange(requests)
            done = all(e["status"] == "released" for raw in replies.values()
                       for e in wire.unpack(raw)[0]["analyses"].values())
            if not done:
                return replies, {}
            del replies[4]
            return replies, {4: "no reply within the round timeout"}

    root, _, _ = keys
    write(tmp_path / "data", 4, 400, 11)
    nodes = [{"hospital": p.stem, "data-path": str(p), "key-path": str(root / SECRET_FILE),
              "work-dir": str(tmp_path / p.stem)} for p in sorted((tmp_path / "data").glob("H*.csv"))]
    job = {"analyses": {"m": GLMAnalysis("cost_total ~ age", "gamma").spec()},
           "public_key": str(root / PUBLIC_FILE), "disclosure": Policy.default().disclosure,
           "dictionary_fingerprint": dictionary.fingerprint}
    out = serve(job, LostAtRelease(nodes, hospital.handle))
    # the three that answered had released over all four: no restart (it would be refused as differencing)
    assert out["analyses"]["m"]["status"] == "released" and out["analyses"]["m"]["result"]["hospitals"] == 4
    assert [d["hospital"] for d in out["dropouts"]] == ["H04"] and out["hospitals"] == ["H01", "H02", "H03"]
