"""CKKS keys, encryption of statistics vectors, and sealing of shared state.

Trust model (DESIGN.md): hospitals hold the secret CKKS context from one key
ceremony; the coordinator holds the public context only (no secret key, no
relinearisation keys: it only adds ciphertexts). Everyone compares the same
fingerprint, the SHA-256 of the public context, which a hospital can
recompute from its secret context.

Hospitals also share an authenticated symmetric key derived from the secret
context file, used to seal the small analysis state (current coefficients)
that the coordinator relays between rounds without being able to read it, and
to compute digests by which the coordinator checks that hospitals agree.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tenseal as ts
from cryptography.fernet import Fernet, InvalidToken

from fedcost.errors import DataError
from fedcost.files import canonical_json, write_bytes

POLY_MODULUS = 8192
COEFF_MOD_BITS = [60, 40, 40, 60]
SCALE_BITS = 40
SLOTS = POLY_MODULUS // 2
SECRET_FILE = "hospital_secret.ctx"
PUBLIC_FILE = "coordinator_public.ctx"
FINGERPRINT_FILE = "fingerprint.txt"


def new_context() -> ts.Context:
    ctx = ts.context(ts.SCHEME_TYPE.CKKS, poly_modulus_degree=POLY_MODULUS, coeff_mod_bit_sizes=COEFF_MOD_BITS)
    ctx.global_scale = 2**SCALE_BITS
    return ctx


def public_bytes(secret_ctx_bytes: bytes) -> bytes:
    """The public context (no secret key, no relinearisation keys) of a secret context."""
    ctx = ts.context_from(secret_ctx_bytes)
    ctx.make_context_public()
    return ctx.serialize(save_relin_keys=False)


def fingerprint(public_ctx_bytes: bytes) -> str:
    h = hashlib.sha256(public_ctx_bytes).hexdigest()
    return " ".join(h[i:i + 4] for i in range(0, 32, 4))


def init_keys(out_dir: str | Path, force: bool = False) -> dict:
    """Key ceremony: write the hospitals' secret context, the coordinator's public one, the fingerprint."""
    out = Path(out_dir)
    if out.exists() and (out / SECRET_FILE).exists() and not force:
        raise DataError(f"{out}: keys already exist; use --force to replace them (hospitals must then get the new ones)")
    out.mkdir(parents=True, exist_ok=True)
    ctx = new_context()
    secret = ctx.serialize(save_secret_key=True)
    public = public_bytes(secret)
    fp = fingerprint(public)
    write_bytes(out / SECRET_FILE, secret, 0o600)
    write_bytes(out / PUBLIC_FILE, public)
    write_bytes(out / FINGERPRINT_FILE, (fp + "\n").encode())
    return {"secret": out / SECRET_FILE, "public": out / PUBLIC_FILE, "fingerprint": fp,
            "secret_bytes": len(secret), "public_bytes": len(public)}


def _load_context(path: str | Path, secret: bool) -> tuple[ts.Context, bytes]:
    """Read a context file (or the right file in a keys folder), insisting on its kind."""
    what = "secret" if secret else "public"
    p = Path(path)
    if p.is_dir():
        p = p / (SECRET_FILE if secret else PUBLIC_FILE)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise DataError(f"{p}: cannot read the {what} CKKS context: {exc.strerror}") from None
    try:
        ctx = ts.context_from(raw)
    except Exception:  # noqa: BLE001
        raise DataError(f"{p}: not a TenSEAL context") from None
    if ctx.is_private() != secret:
        raise DataError(f"{p}: this context holds a secret key; the coordinator must get the public one" if not secret
                        else f"{p}: this context has no secret key; hospitals need the secret context")
    return ctx, raw


@dataclass
class PublicKeys:
    """What the coordinator holds: it can add ciphertexts and nothing else."""

    context: ts.Context
    raw: bytes

    @classmethod
    def load(cls, path: str | Path) -> "PublicKeys":
        return cls(*_load_context(path, secret=False))

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw)

    def add(self, chunk_lists: list[list[bytes]]) -> list[bytes]:
        """Homomorphic sum, chunk by chunk, of several parties' encrypted vectors."""
        n_chunks = {len(c) for c in chunk_lists}
        if len(n_chunks) != 1:
            raise DataError("parties sent different numbers of ciphertext chunks")
        out = []
        for parts in zip(*chunk_lists):
            acc = ts.ckks_vector_from(self.context, parts[0])
            for part in parts[1:]:
                acc = acc + ts.ckks_vector_from(self.context, part)
            out.append(acc.serialize())
        return out

    def is_ciphertext(self, blob: bytes) -> bool:
        """True if blob is exactly a CKKS vector under this context (evidence it is not plaintext).

        Parsing alone is not enough: protobuf skips unknown fields, so a real
        ciphertext followed by an unknown field carrying any bytes would parse.
        The blob must be what the parsed vector serialises to, byte for byte.
        """
        try:
            return bool(blob) and ts.ckks_vector_from(self.context, blob).serialize() == blob
        except Exception:  # noqa: BLE001
            return False


@dataclass
class SecretKeys:
    """What a hospital holds: encrypt, decrypt, seal and open shared state."""

    context: ts.Context
    raw: bytes

    @classmethod
    def load(cls, path: str | Path) -> "SecretKeys":
        return cls(*_load_context(path, secret=True))

    @property
    def fingerprint(self) -> str:
        return fingerprint(public_bytes(self.raw))

    def fingerprint_cached(self, folder: str | Path | None) -> str:
        """`fingerprint`, remembered in the hospital's work folder (it costs a context round trip)."""
        if not folder:
            return self.fingerprint
        file = Path(folder) / f"key-fingerprint-{hashlib.sha256(self.raw).hexdigest()[:16]}.txt"
        if file.exists():
            return file.read_text().strip()
        fp = self.fingerprint
        file.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(file, fp.encode())
        return fp

    def encrypt(self, vec: np.ndarray) -> list[bytes]:
        """Encrypt a float vector as ceil(len/4096) ciphertexts."""
        vec = np.asarray(vec, dtype=float).ravel()
        if not np.all(np.isfinite(vec)):
            raise DataError("statistics contain NaN or infinite values; refusing to encrypt them")
        chunks = [vec[i:i + SLOTS] for i in range(0, max(len(vec), 1), SLOTS)]
        return [ts.ckks_vector(self.context, c.tolist()).serialize() for c in chunks]

    def decrypt(self, chunks: list[bytes], length: int) -> np.ndarray:
        out = []
        for c in chunks:
            out.extend(ts.ckks_vector_from(self.context, c).decrypt())
        return np.asarray(out[:length], dtype=float)

    # -- shared state ------------------------------------------------------------------
    def _key(self, label: bytes) -> bytes:
        return hmac.new(hashlib.sha256(self.raw).digest(), label, hashlib.sha256).digest()

    def seal(self, state: dict) -> str:
        key = base64.urlsafe_b64encode(self._key(b"fedcost-state-v1"))
        return Fernet(key).encrypt(canonical_json(state)).decode()

    def open(self, token: str) -> dict:
        key = base64.urlsafe_b64encode(self._key(b"fedcost-state-v1"))
        try:
            return json.loads(Fernet(key).decrypt(token.encode()))
        except (InvalidToken, ValueError):
            raise DataError("the relayed analysis state does not open with this hospital's key "
                            "(different key ceremony, or tampered in transit)") from None

    def tag_key(self) -> bytes:
        """The key of the contribution tags (``fedcost.federation.sums``): the coordinator cannot derive it."""
        return self._key(b"fedcost-tags-v1")

    def digest(self, obj) -> str:
        return hmac.new(self._key(b"fedcost-digest-v1"), canonical_json(obj), hashlib.sha256).hexdigest()
