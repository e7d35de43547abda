"""Files written atomically: a crash or a failure never leaves half a file (or folder) behind.

Every writer of fedcost that replaces a file goes through ``atomic_path``: the
content is written to a temporary file beside the target and moved over it in
one ``os.replace``; on failure the temporary file is removed and the target is
as it was.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np


def json_safe(obj):
    """Plain JSON values: numpy scalars to Python, NaN/inf to None (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def canonical_json(obj) -> bytes:
    """Deterministic JSON bytes (sorted keys, no spaces, NaN as null): what seals, digests and audit hashes
    are taken of, so the same content always gives the same bytes."""
    return json.dumps(json_safe(obj), sort_keys=True, separators=(",", ":")).encode()


@contextlib.contextmanager
def atomic_path(path: str | Path, mode: int | None = None) -> Iterator[Path]:
    """A temporary path beside ``path``; write it inside the block, and it replaces ``path`` at the end.

    ``mode`` (e.g. 0o600 for keys) is set before the file takes the target's name; by default the
    mode an ordinary new file would get (0o666 less the umask), not mkstemp's private 0o600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _default_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _default_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_text(path: str | Path, text: str, mode: int | None = None) -> Path:
    with atomic_path(path, mode) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | Path, data: bytes, mode: int | None = None) -> Path:
    with atomic_path(path, mode) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(path: str | Path, data: dict, mode: int | None = None) -> Path:
    """JSON (NaN as null, numpy as Python) written atomically (``mode`` as in `atomic_path`)."""
    return write_text(path, json.dumps(json_safe(data), indent=2, ensure_ascii=False), mode)


def replace_folder(staged: str | Path, out: str | Path) -> Path:
    """Move a fully written folder into place, replacing `out` without a half-written moment."""
    import shutil

    staged, out = Path(staged), Path(out)
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(staged, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staged, out)
    return out
