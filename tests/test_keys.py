"""`fedcost keys init` and `fedcost keys fingerprint`: exit codes, the files written, the fingerprint
printed and recomputed by every party. The key ceremony runs once for the module."""
from __future__ import annotations

import contextlib
import hashlib
import io
import re
import stat

import pytest

from fedcost.cli import main
from fedcost.federation.crypto import FINGERPRINT_FILE, PUBLIC_FILE, SECRET_FILE


@pytest.fixture(scope="module")
def ceremony(tmp_path_factory):
    out = tmp_path_factory.mktemp("keys") / "ceremony"            # a folder that does not exist yet
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["keys", "init", "--out", str(out)])
    return out, code, buf.getvalue()


def _printed_fingerprint(stdout: str) -> str:
    m = re.search(r"^fingerprint: (.+)$", stdout, flags=re.M)
    assert m, stdout
    return m.group(1)


def test_init_writes_the_three_files(ceremony):
    out, code, stdout = ceremony
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([SECRET_FILE, PUBLIC_FILE, FINGERPRINT_FILE])
    assert stat.S_IMODE((out / SECRET_FILE).stat().st_mode) == 0o600     # the secret is readable by its owner only
    # the sizes printed are the files' sizes
    secret_line = next(ln for ln in stdout.splitlines() if ln.startswith("secret context"))
    public_line = next(ln for ln in stdout.splitlines() if ln.startswith("public context"))
    assert f"({(out / SECRET_FILE).stat().st_size:,} bytes, mode 600)" in secret_line
    assert f"({(out / PUBLIC_FILE).stat().st_size:,} bytes)" in public_line
    # the public context is far smaller: no secret key in it
    assert (out / PUBLIC_FILE).stat().st_size < (out / SECRET_FILE).stat().st_size


def test_printed_fingerprint_is_the_file_and_the_sha256_of_the_public_context(ceremony):
    out, _, stdout = ceremony
    printed = _printed_fingerprint(stdout)
    assert (out / FINGERPRINT_FILE).read_text(encoding="utf-8") == printed + "\n"
    # the first 128 bits of the SHA-256 of the public context, as 8 groups of 4 hex digits
    assert re.fullmatch(r"([0-9a-f]{4} ){7}[0-9a-f]{4}", printed), printed
    digest = hashlib.sha256((out / PUBLIC_FILE).read_bytes()).hexdigest()
    assert printed.replace(" ", "") == digest[:32]


@pytest.mark.parametrize("which", [SECRET_FILE, PUBLIC_FILE, "."])
def test_every_party_recomputes_the_same_fingerprint(ceremony, capsys, which):
    out, _, stdout = ceremony
    path = out if which == "." else out / which
    assert main(["keys", "fingerprint", str(path)]) == 0
    assert capsys.readouterr().out.strip() == _printed_fingerprint(stdout)


def test_init_refuses_to_replace_keys_and_leaves_them_alone(ceremony, capsys):
    out, _, _ = ceremony
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["keys", "init", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "keys already exist; use --force" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_fingerprint_of_a_file_that_is_not_a_context_is_bad_input(tmp_path, capsys):
    junk = tmp_path / "junk.ctx"
    junk.write_bytes(b"not a context")
    assert main(["keys", "fingerprint", str(junk)]) == 1
    err = capsys.readouterr().err
    assert "not a TenSEAL context" in err and "Traceback" not in err
    assert main(["keys", "fingerprint", str(tmp_path / "missing.ctx")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_keys_needs_an_action_and_init_needs_out(capsys):
    for argv in (["keys"], ["keys", "init"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    assert "--out" in capsys.readouterr().err
