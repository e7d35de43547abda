"""Signed studies: each hospital answers only what a researcher it trusts signed, as signed, before it expires."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from fedcost.cli import main
from fedcost.engines.local import LocalTransport
from fedcost.errors import FederationError, UsageError
from fedcost.federation import hospital, studies
from fedcost.federation.coordinator import serve
from fedcost.federation.crypto import PUBLIC_FILE, SECRET_FILE, init_keys
from fedcost.federation.reasons import REASONS, Refused
from fedcost.models.irls import GLMAnalysis
from fedcost.policy import Policy
from fedcost.researcher import signed, study_job

NOW = dt.datetime(2026, 12, 4, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def job(dictionary):
    return study_job({"m": GLMAnalysis("cost_total ~ age + los", "gamma")}, dictionary, Policy.default())


@pytest.fixture(scope="module")
def researcher():
    return studies.Ed25519PrivateKey.generate()


def _header(envelope, job):
    return {"study": envelope, "analyses": {n: {"spec": s} for n, s in job["analyses"].items()},
            "dictionary_fingerprint": job["dictionary_fingerprint"]}


def _node(tmp_path, key, **extra):
    return {"hospital": "H01", "work-dir": str(tmp_path), "trusted-researchers": studies.public_hex(key), **extra}


def _code(fn):
    with pytest.raises(Refused) as info:
        fn()
    return info.value.code


def test_a_signed_study_is_admitted_as_signed(tmp_path, job, researcher):
    env = studies.sign(job, researcher, "s1", ["H01", "H02", "H03"], days=30, now=NOW)
    plan = studies.admit(_header(env, job), _node(tmp_path, researcher), "H01", now=NOW)
    assert plan["analyses"] == job["analyses"] and plan["disclosure"] == job["disclosure"]
    assert plan["expires"] == "2027-01-03T00:00:00+00:00" and plan["participants"] == ["H01", "H02", "H03"]
    # a hospital that asks for no signature answers unsigned requests as before
    assert studies.admit({"analyses": {}}, {"hospital": "H01"}, "H01") is None


def test_every_way_around_the_signature_is_refused(tmp_path, job, researcher):
    node = _node(tmp_path, researcher)
    env = studies.sign(job, researcher, "s1", ["H01", "H02"], now=NOW)
    ok = _header(env, job)
    assert _code(lambda: studies.admit({**ok, "study": None}, node, "H01", now=NOW)) == "unsigned_study"
    assert _code(lambda: studies.admit(ok, {**node, "trusted-researchers": "", "require-signed-study": True},
                                       "H01", now=NOW)) == "untrusted_study"
    other = studies.Ed25519PrivateKey.generate()
    assert _code(lambda: studies.admit(_header(studies.sign(job, other, "s1", now=NOW), job), node, "H01",
                                       now=NOW)) == "untrusted_study"
    # the coordinator edits the signed plan (lowers a minimum): the signature no longer matches
    edited = {**env, "study": {**env["study"], "disclosure": {**job["disclosure"], "min_hospitals": 1}}}
    assert _code(lambda: studies.admit({**ok, "study": edited}, node, "H01", now=NOW)) == "untrusted_study"
    # ... or asks for another formula under the signed plan
    other_spec = {"m": {"spec": {**job["analyses"]["m"], "formula": "cost_total ~ I(age == 97)"}}}
    assert _code(lambda: studies.admit({**ok, "analyses": other_spec}, node, "H01", now=NOW)) == "not_signed"
    assert _code(lambda: studies.admit({**ok, "analyses": {"extra": {"spec": {"kind": "glm"}}}}, node, "H01",
                                       now=NOW)) == "not_signed"
    assert _code(lambda: studies.admit({**ok, "dictionary_fingerprint": "x"}, node, "H01", now=NOW)) == "not_signed"
    assert _code(lambda: studies.admit(ok, node, "H03", now=NOW)) == "not_a_participant"
    later = NOW + dt.timedelta(days=studies.DEFAULT_DAYS, seconds=1)
    assert _code(lambda: studies.admit(ok, node, "H01", now=later)) == "study_expired"


def test_manual_approval_queues_then_answers(tmp_path, job, researcher, capsys):
    node = _node(tmp_path, researcher, approval="manual")
    env = studies.sign(job, researcher, "s-manual", now=NOW)
    assert _code(lambda: studies.admit(_header(env, job), node, "H01", now=NOW)) == "awaiting_approval"
    (entry,) = studies.pending(tmp_path)
    assert entry["study"]["study_id"] == "s-manual"
    # the operator sees the plan, its columns and its digest, then approves by a digest prefix
    assert main(["hospital", "approve", "--workdir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert entry["digest"][:12] in listing and "s-manual" in listing
    assert main(["hospital", "approve", entry["digest"][:12], "--workdir", str(tmp_path)]) == 0
    shown = capsys.readouterr().out
    assert "cost_total ~ age + los" in shown and "columns: age, cost_total, los" in shown
    assert studies.admit(_header(env, job), node, "H01", now=NOW)["study_id"] == "s-manual"
    # another study is rejected: its requests are refused from then on
    env2 = studies.sign(job, researcher, "s-reject", now=NOW)
    assert _code(lambda: studies.admit(_header(env2, job), node, "H01", now=NOW)) == "awaiting_approval"
    assert main(["hospital", "reject", "s-reject", "--workdir", str(tmp_path)]) == 0
    assert _code(lambda: studies.admit(_header(env2, job), node, "H01", now=NOW)) == "study_rejected"
    assert studies.pending(tmp_path) == []
    assert main(["hospital", "approve", "nothing-like-this", "--workdir", str(tmp_path)]) == 2


def test_researcher_init_writes_a_key_pair_once(tmp_path, capsys):
    assert main(["researcher", "init", "--out", str(tmp_path)]) == 0
    key = studies.load_key(tmp_path / studies.KEY_FILE)
    assert (tmp_path / studies.PUBLIC_FILE).read_text().strip() == studies.public_hex(key)
    assert (tmp_path / studies.KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert studies.public_hex(key) in capsys.readouterr().out
    assert main(["researcher", "init", "--out", str(tmp_path)]) == 2  # never overwrites a key
    with pytest.raises(UsageError):
        studies.load_key(tmp_path / studies.PUBLIC_FILE)


def test_a_dishonest_coordinator_cannot_change_the_signed_query(tmp_path, hospital_paths, dictionary, job,
                                                               researcher):
    init_keys(tmp_path / "keys")
    nodes = [{"hospital": p.stem, "data-path": str(p), "key-path": str(tmp_path / "keys" / SECRET_FILE),
              "work-dir": str(tmp_path / p.stem), "trusted-researchers": studies.public_hex(researcher)}
             for p in hospital_paths]
    honest = {**signed(job, researcher), "public_key": str(tmp_path / "keys" / PUBLIC_FILE)}
    out = serve(honest, LocalTransport(nodes, hospital.handle))
    assert out["analyses"]["m"]["status"] == "released" and out["analyses"]["m"]["result"]["n"] == 4501
    # the same signed study, but the coordinator asks for a term on four patients instead
    forged = {**honest, "analyses": {"m": {**job["analyses"]["m"], "formula": "cost_total ~ I(age == 97)"}}}
    with pytest.raises(FederationError) as info:
        serve(forged, LocalTransport(nodes, hospital.handle))
    assert REASONS["not_signed"] in str(info.value)
    logged = [json.loads(x) for x in (tmp_path / hospital_paths[0].stem / hospital.AUDIT_LOG).read_text().splitlines()]
    assert logged[-1]["code"] == "not_signed" and "m" in logged[-1]["details"]["query"]
