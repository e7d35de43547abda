"""Hash-chained audit logs: an untouched log verifies; every kind of tampering is caught and named."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from fedcost.federation import audit
from fedcost.files import canonical_json


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "audit.jsonl"
    a = audit.AuditLog(path)
    for i in range(5):
        a.append("round", round=i + 1, bytes_in={"H01": 100 * i})
    return path


def lines(path):
    return path.read_text().splitlines()


def rewrite(path, new):
    path.write_text("\n".join(new) + "\n")


def test_an_untouched_log_verifies(log):
    assert audit.verify(log) == []
    assert [e["seq"] for e in audit.read(log)] == [1, 2, 3, 4, 5]


def test_an_edited_entry_is_caught(log):
    ls = lines(log)
    e = json.loads(ls[2])
    e["bytes_in"]["H01"] = 1
    ls[2] = json.dumps(e, sort_keys=True)
    rewrite(log, ls)
    problems = audit.verify(log)
    assert any(":3: entry 3 was edited" in p for p in problems)


def test_an_edited_entry_with_a_recomputed_hash_still_breaks_the_chain(log):
    ls = lines(log)
    e = json.loads(ls[1])
    e["bytes_in"]["H01"] = 1
    body = {k: v for k, v in e.items() if k != "hash"}
    e["hash"] = hashlib.sha256(canonical_json(body)).hexdigest()
    ls[1] = json.dumps(e, sort_keys=True)
    rewrite(log, ls)
    assert any("entry 3 does not chain" in p for p in audit.verify(log))


@pytest.mark.parametrize("tamper, expected", [
    (lambda ls: ls[:1] + ls[2:], "entry 3 follows entry 1"),                    # removed
    (lambda ls: ls[:2] + [ls[1]] + ls[2:], "entry 2 follows entry 2"),          # inserted (a copy)
    (lambda ls: [ls[0], ls[2], ls[1]] + ls[3:], "entry 3 follows entry 1"),     # reordered
    (lambda ls: ls[:3], "the log ends at entry 3 but the head is entry 5"),      # truncated tail
])
def test_removed_inserted_reordered_truncated(log, tamper, expected):
    rewrite(log, tamper(lines(log)))
    problems = audit.verify(log)
    assert any(expected in p for p in problems), problems


def test_a_missing_head_is_reported(log):
    audit.head_path(log).unlink()
    assert any("head kept apart from the log is missing" in p for p in audit.verify(log))


def test_cli_verify_and_show(log):
    ok = subprocess.run([sys.executable, "-m", "fedcost.cli", "audit", "verify", str(log)], capture_output=True,
                        text=True)
    assert ok.returncode == 0 and "5 entries, chain and head intact" in ok.stdout
    shown = subprocess.run([sys.executable, "-m", "fedcost.cli", "audit", "show", str(log)], capture_output=True,
                           text=True)
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 5 and "bytes_in: H01=400" in shown.stdout
    rewrite(log, lines(log)[:2])
    bad = subprocess.run([sys.executable, "-m", "fedcost.cli", "audit", "verify", str(log)], capture_output=True,
                         text=True)
    assert bad.returncode == 1 and "truncated" in bad.stderr and "Traceback" not in bad.stderr


def test_a_study_leaves_verified_logs_at_the_coordinator_and_every_hospital(hospital_paths, tmp_path):
    from fedcost.models.irls import GLMAnalysis
    from fedcost.researcher import run_study

    study = run_study({"m": GLMAnalysis("cost_total ~ age", "gamma")}, hospital_paths, engine="local",
                      workdir=tmp_path / "run")
    coordinator = tmp_path / "run" / "coordinator" / "audit.jsonl"
    assert audit.verify(coordinator) == []
    events = [e["event"] for e in audit.read(coordinator)]
    assert events[0] == "study" and events[-2:] == ["release", "end"] and events.count("round") == study.run["messages"]
    entries = audit.read(coordinator)
    assert entries[-2]["result_digest"] == audit.digest(study.result("m"))
    for label in ("H01", "H02", "H03"):
        log = tmp_path / "run" / "hospitals" / label / "audit.jsonl"
        assert audit.verify(log) == []
        sent = audit.read(log)
        assert len(sent) == study.run["messages"] and sent[-1]["analyses"]["m"]["status"] == "released"
        assert sent[-1]["analyses"]["m"]["result_digest"] == entries[-2]["result_digest"]
