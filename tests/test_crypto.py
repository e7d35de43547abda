"""Key ceremony, CKKS round trips, the coordinator's powerlessness, sealed state."""
import os
import stat

import numpy as np
import pytest

from fedcost.federation.crypto import PUBLIC_FILE, SECRET_FILE, PublicKeys, SecretKeys, init_keys
from fedcost.errors import DataError


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    out = tmp_path_factory.mktemp("keys")
    info = init_keys(out)
    return out, info, SecretKeys.load(out / SECRET_FILE), PublicKeys.load(out / PUBLIC_FILE)


def test_ceremony_writes_files_and_matching_fingerprints(keys):
    out, info, sec, pub = keys
    assert stat.S_IMODE(os.stat(out / SECRET_FILE).st_mode) == 0o600
    assert sec.fingerprint == pub.fingerprint == info["fingerprint"]
    assert (out / "fingerprint.txt").read_text().strip() == info["fingerprint"]
    assert not pub.context.is_private() and sec.context.is_private()


def test_ceremony_refuses_to_overwrite(keys):
    with pytest.raises(DataError, match="already exist"):
        init_keys(keys[0])


def test_server_context_cannot_decrypt(keys):
    _, _, sec, pub = keys
    import tenseal as ts

    blob = sec.encrypt(np.arange(5.0))[0]
    with pytest.raises(ValueError):
        ts.ckks_vector_from(pub.context, blob).decrypt()


def test_long_vectors_are_split_and_summed(keys):
    _, _, sec, pub = keys
    rng = np.random.default_rng(0)
    parts = [rng.normal(size=10_000) * 1e4 for _ in range(3)]
    chunks = [sec.encrypt(p) for p in parts]
    assert len(chunks[0]) == 3  # 4096 slots each
    total = sec.decrypt(pub.add(chunks), 10_000)
    assert np.max(np.abs(total - sum(parts))) < 1e-5


def test_is_ciphertext_rejects_plaintext(keys):
    _, _, sec, pub = keys
    assert pub.is_ciphertext(sec.encrypt([1.0, 2.0])[0])
    assert not pub.is_ciphertext(np.arange(10.0).tobytes())


def test_public_context_file_with_secret_is_refused(keys):
    with pytest.raises(DataError, match="secret key"):
        PublicKeys.load(keys[0] / SECRET_FILE)


def test_sealed_state_round_trip_and_tamper(keys, tmp_path):
    _, _, sec, _ = keys
    state = {"beta": [0.1, 1e-17, 3.0], "phase": "point"}
    token = sec.seal(state)
    assert sec.open(token) == state and sec.digest(state) == sec.digest(sec.open(token))
    other = SecretKeys.load(init_keys(tmp_path / "other")["secret"])
    with pytest.raises(DataError, match="does not open"):
        other.open(token)
