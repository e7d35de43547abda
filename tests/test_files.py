"""Atomic writers: a failure leaves the target as it was; modes are a normal file's unless asked."""
import json
import os

import numpy as np
import pytest

from fedcost.files import atomic_path, json_safe, replace_folder, write_bytes, write_json


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_modes(tmp_path):
    old = os.umask(0o022)
    try:
        assert oct(write_bytes(tmp_path / "public", b"x").stat().st_mode & 0o777) == "0o644"
        assert oct(write_bytes(tmp_path / "secret", b"x", 0o600).stat().st_mode & 0o777) == "0o600"
    finally:
        os.umask(old)


def test_json_has_no_nan_and_no_numpy(tmp_path):
    write_json(tmp_path / "r.json", {"a": np.float64(1.5), "b": float("nan"), "c": np.arange(2), 3: np.int64(4)})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1.5, "b": None, "c": [0, 1], "3": 4}
    assert json_safe([float("inf")]) == [None]


def test_replace_folder_swaps_whole_folders(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("1")
    (tmp_path / "staged").mkdir()
    (tmp_path / "staged" / "new.txt").write_text("2")
    replace_folder(tmp_path / "staged", tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
