"""No differencing: one query released over hospital sets that differ by fewer than the minimum is refused."""
from __future__ import annotations

import pytest

from fedcost.engines.local import LocalTransport
from fedcost.federation import hospital, releases
from fedcost.federation.coordinator import serve
from fedcost.federation.crypto import PUBLIC_FILE, SECRET_FILE, init_keys
from fedcost.federation.reasons import REASONS, Refused
from fedcost.models.irls import GLMAnalysis
from fedcost.policy import Policy
from fedcost.researcher import study_job


def test_counts_that_differ_by_fewer_than_the_minimum_are_refused(tmp_path):
    releases.admit(tmp_path, "q", 5, 3)
    releases.admit(tmp_path, "q", 5, 3)  # a rerun over as many hospitals: allowed
    releases.admit(tmp_path, "q", 8, 3)  # 8 - 5 = 3: the difference rests on three hospitals
    for n in (4, 6, 7, 3):  # each within 2 of 5 or of 8
        with pytest.raises(Refused) as info:
            releases.admit(tmp_path, "q", n, 3)
        assert info.value.code == "differencing"
    releases.admit(tmp_path, "other query", 4, 3)  # another query has its own history
    releases.admit(None, "q", 4, 3)  # no work folder (pooled, in-process tests): nothing kept


def test_one_run_one_slot_and_a_signed_study_releases_once(tmp_path):
    releases.one_slot(tmp_path, "run-1", 2)
    releases.one_slot(tmp_path, "run-1", 2)  # every round of the run: the same slot
    with pytest.raises(Refused) as info:  # the coordinator asks the same hospital to fill slot 0 too
        releases.one_slot(tmp_path, "run-1", 0)
    assert info.value.code == "forged_sum"
    releases.one_slot(tmp_path, "run-2", 0)  # another run, another slot
    releases.admit(tmp_path, "q", 5, 3, study_id="s1")
    with pytest.raises(Refused) as info:  # the same signed study replayed over another set of five
        releases.admit(tmp_path, "q", 5, 3, study_id="s1")
    assert info.value.code == "differencing"
    releases.admit(tmp_path, "q", 5, 3, study_id="s2")  # a new signed study of the same query: allowed


def test_a_study_rerun_without_one_hospital_is_withheld(tmp_path, dictionary):
    from fedcost.data.synth import write

    write(tmp_path / "data", 4, 400, 11)
    init_keys(tmp_path / "keys")
    paths = sorted((tmp_path / "data").glob("H*.csv"))
    nodes = [{"hospital": p.stem, "data-path": str(p), "key-path": str(tmp_path / "keys" / SECRET_FILE),
              "work-dir": str(tmp_path / p.stem)} for p in paths]
    job = {**study_job({"m": GLMAnalysis("cost_total ~ age + los", "gamma")}, dictionary, Policy.default()),
           "public_key": str(tmp_path / "keys" / PUBLIC_FILE)}
    first = serve(job, LocalTransport(nodes, hospital.handle))
    assert first["analyses"]["m"]["status"] == "released" and first["analyses"]["m"]["result"]["hospitals"] == 4
    # the study has ended: no pickled copy of any hospital's rows is left in its work folder
    for n in nodes:
        assert list((tmp_path / n["hospital"] / "cache").glob("*.pkl")) == []
        assert (tmp_path / n["hospital"] / releases.LOG).stat().st_mode & 0o777 == 0o600
    # the same query over the first three hospitals would reveal the fourth's contribution by subtraction
    second = serve(job, LocalTransport(nodes[:3], hospital.handle))
    assert second["analyses"]["m"]["status"] == "withheld" and "result" not in second["analyses"]["m"]
    assert second["analyses"]["m"]["reason"] == REASONS["differencing"]
    # over all four again: the same count as before, released
    assert serve(job, LocalTransport(nodes, hospital.handle))["analyses"]["m"]["status"] == "released"
