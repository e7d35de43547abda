"""Sums the hospitals can verify: a coordinator that forges, trims or replays a sum is caught.

Unit checks with the hospitals' real keys, then a dishonest coordinator over real CKKS (the local
engine's transport, tampering with the requests it hands to the hospitals).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fedcost.engines import local
from fedcost.federation import sums, wire
from fedcost.federation.crypto import SECRET_FILE, SecretKeys, init_keys
from fedcost.federation.reasons import Refused
from fedcost.models.irls import GLMAnalysis
from fedcost.researcher import run_study


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    init_keys(folder, force=True)
    return SecretKeys.load(folder / SECRET_FILE)


def site(i, count=3):
    return {"index": i, "count": count, "run": "run-1", "min_hospitals": 3}


def contributions(keys, digest="d1"):
    return [sums.tagged(np.array([1.0, 10.0 * (i + 1)]), keys, site(i), "m", digest) for i in range(3)]


def refused(detail: str, call, *args):
    """The check refuses with code forged_sum; ``detail`` (kept at the hospital) says why."""
    with pytest.raises(Refused) as err:
        call(*args)
    assert err.value.code == "forged_sum" and detail in err.value.detail, err.value.detail


def test_the_honest_sum_passes_and_loses_its_tags(keys):
    total = sum(contributions(keys))
    np.testing.assert_allclose(sums.check(total, keys, site(0), "m", "d1", [0, 1, 2]), [3.0, 60.0])


def test_tags_survive_ckks_beside_huge_statistics(keys):
    """The reported failure: sums of squared costs (~1e12) in the same ciphertext blurred the tags by ~1e-4.
    The tag block has its own ciphertext, so an honest sum of real ciphertexts passes."""
    parts = [sums.tagged(np.array([1e12 * (i + 1), 3.0]), keys, site(i), "m", "d1") for i in range(3)]
    chunks = [keys.encrypt(p) for p in parts]
    assert all(len(c) == 2 for c in chunks)  # the tag ciphertext, then the statistics
    from fedcost.federation.crypto import PublicKeys
    total = keys.decrypt(PublicKeys(keys.context, keys.raw).add(chunks), len(parts[0]))
    np.testing.assert_allclose(sums.check(total, keys, site(1), "m", "d1", [0, 1, 2]), [6e12, 9.0], rtol=1e-9)


def test_one_hospitals_contribution_as_the_sum_is_caught(keys):
    one = contributions(keys)[1]
    refused("tags do not match", sums.check, one, keys, site(0), "m", "d1", [0, 1, 2])
    # declared as a one-hospital sum, or as a two-hospital one
    refused("without this hospital", sums.check, one, keys, site(0), "m", "d1", [1])
    refused("at least 3", sums.check, sum(contributions(keys)[:2]), keys, site(0), "m", "d1", [0, 1])


def test_last_rounds_sum_is_caught(keys):
    old = sum(contributions(keys, digest="d0"))
    refused("tags do not match", sums.check, old, keys, site(2), "m", "d1", [0, 1, 2])


def test_a_forged_tag_block_is_caught(keys):
    """The coordinator can encrypt, but not compute a tag: any block it makes up is off."""
    forged = contributions(keys)[0].copy()
    forged[:3] = [1.5, 1.5, 1.5]
    refused("tags do not match", sums.check, forged, keys, site(0), "m", "d1", [0, 1, 2])


def test_withholding_flags_are_read_alike_and_cannot_be_flipped(keys):
    """Slot layout for 3 hospitals: tags in 0-2, then one row of 3 slots per group of policy.PER_HOSPITAL.
    H02 (slot 1) withholds its CMI, H03 (slot 2) its O/E."""
    from fedcost.policy import PER_HOSPITAL

    assert PER_HOSPITAL == ("oe", "cmi", "per_case_cost")
    withhold = {0: [], 1: ["cmi"], 2: ["oe"]}
    parts = [sums.tagged(np.array([1.0]), keys, {**site(i), "withhold": withhold[i]}, "m", "d1") for i in range(3)]
    total = sum(parts)
    assert total[3:12].tolist() == [0, 0, 1,  0, 1, 0,  0, 0, 0]  # oe row, cmi row, per_case_cost row
    np.testing.assert_allclose(sums.check(total, keys, site(0), "m", "d1", [0, 1, 2]), [3.0])
    assert sums.withheld(total, 3) == {"oe": [2], "cmi": [1], "per_case_cost": []}
    # the coordinator subtracts an encrypted 1 to release H02's CMI anyway: H02's tag no longer matches
    flipped = total.copy()
    flipped[3 + 3 + 1] -= 1.0
    refused("tags do not match", sums.check, flipped, keys, site(0), "m", "d1", [0, 1, 2])
    half = total.copy()
    half[3 + 1] = 0.5
    refused("other than 0 and 1", sums.check, half, keys, site(0), "m", "d1", [0, 1, 2])


def test_a_withholding_hospital_s_values_are_dropped_at_release(tmp_path, hospital_paths, dictionary):
    from fedcost.analyses.benchmark import WITHHOLDABLE, BenchmarkAnalysis
    from fedcost.federation import hospital
    from fedcost.federation.coordinator import serve
    from fedcost.federation.crypto import PUBLIC_FILE
    from fedcost.policy import Policy
    from fedcost.researcher import study_job

    init_keys(tmp_path / "keys", force=True)
    nodes = [{"hospital": p.stem, "data-path": str(p), "key-path": str(tmp_path / "keys" / SECRET_FILE),
              "work-dir": str(tmp_path / p.stem), **({"withhold-per-hospital": "cmi"} if p.stem == "H02" else {})}
             for p in hospital_paths]
    job = {**study_job({"b": BenchmarkAnalysis()}, dictionary, Policy.default()),
           "public_key": str(tmp_path / "keys" / PUBLIC_FILE)}
    out = serve(job, local.LocalTransport(nodes, hospital.handle))
    table = out["analyses"]["b"]["result"]["hospitals_table"]
    assert len(table["hospital"]) == 3
    h02 = pd.read_csv(hospital_paths[1]).shape[0]  # the hospitals' n differ: rows are matched by n
    smallest_other = min(pd.read_csv(p).shape[0] for p in hospital_paths if p.stem != "H02")
    for column in WITHHOLDABLE["cmi"]:  # H02's own, and a complement (see test_consent)
        assert sorted(n for n, v in zip(table["n"], table[column]) if v is None) == sorted([h02, smallest_other])
    for column in WITHHOLDABLE["oe"] + WITHHOLDABLE["per_case_cost"]:
        assert all(v is not None for v in table[column]), column  # only what H02 withholds is gone


@pytest.mark.parametrize("attack", ["one_hospital", "last_round"])
def test_a_dishonest_coordinator_is_caught_over_real_ckks(hospital_paths, monkeypatch, attack):
    honest = local.LocalTransport.exchange
    seen: dict[str, list] = {"replies": [], "sums": []}

    def dishonest(self, requests):
        tampered = {}
        for node, request in requests.items():
            header, blobs = wire.unpack(request)
            sum_blobs = {k: v for k, v in blobs.items() if k.startswith("sum/")}
            if sum_blobs:
                seen["sums"].append(sum_blobs)
                if attack == "one_hospital":  # H01's own ciphertexts of the last round, as "the sum"
                    h01 = seen["replies"][-1]
                    blobs = {k: h01[k[4:]] for k in sum_blobs}
                elif len(seen["sums"]) > len(requests):  # from round 3 on: round 2's sum again
                    blobs = seen["sums"][0]
            tampered[node] = wire.pack(header, blobs)
        replies = honest(self, tampered)
        seen["replies"].append(wire.unpack(replies[min(replies)])[1])
        return replies

    monkeypatch.setattr(local.LocalTransport, "exchange", dishonest)
    study = run_study({"m": GLMAnalysis("cost_total ~ age", "gamma")}, hospital_paths, engine="local")
    assert study.status("m") == "failed"
    assert study.analyses["m"]["reason"].count(
        "the sum the coordinator sent is not the sum of this round's declared participants") == 3
