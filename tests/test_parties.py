"""The three parties as separate processes on 127.0.0.1, each with its own folder, TLS and node auth on.

A coordinator (`fedcost coordinator start`), four hospitals (`fedcost hospital
start`, each a supervisor, a worker and a SuperNode) and researcher processes
(`fedcost run` / `fedcost fit --coordinator`). Oracles: the same plan on the
in-process engine over the same files (the same protocol, one process) and a
pooled statsmodels fit on the concatenated rows.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from oracle import statsmodels_fit

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
FEDCOST = [sys.executable, "-m", "fedcost.cli"]
HOSPITALS = ["H01", "H02", "H03", "H04"]  # four: a dropout leaves three, one more freezes below
GLM = "cost_total ~ age + los + C(sex)"
RELAY_USER, WORKER_USER = "fedcost-relay-test", "fedcost-worker-test"


def _runs_as(user: str, python: str) -> bool:
    probe = subprocess.run(["runuser", "-u", user, "--", python, "-c", "import flwr, tenseal, fedcost.engines.entrypoints"],
                           capture_output=True, text=True)
    return probe.returncode == 0


def shared_python(folder: Path) -> str | None:
    """An interpreter the other users can run, with this venv's packages: this one, or a venv in ``folder``.

    A venv whose base interpreter lies under a private home (pyenv in /root, mode 0700) cannot be run by
    another user, as a hospital's install in /opt could. The same packages (world-readable here) are then
    reached from a venv of the system's python of the same minor version: a .pth file adds this venv's
    site-packages, and Flower's console scripts are copied with their first line pointing at it.
    """
    if _runs_as(RELAY_USER, sys.executable):
        return sys.executable
    base = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not base.exists():
        return None
    import site
    import venv

    venv.create(folder, with_pip=False)
    python = folder / "bin" / "python"
    packages = Path(site.getsitepackages()[0])
    target = folder / "lib" / packages.parent.name / "site-packages"
    (target / "fedcost_shared.pth").write_text(f"import site; site.addsitedir({str(packages)!r})\n")
    for script in Path(sys.executable).parent.glob("fl*"):  # flower-supernode, flwr-clientapp, ...
        text = script.read_text()
        (folder / "bin" / script.name).write_text(f"#!{python}\n" + text.split("\n", 1)[1])
        os.chmod(folder / "bin" / script.name, 0o755)
    return str(python) if _runs_as(RELAY_USER, str(python)) else None


def relay_user(folder: Path) -> tuple[str | None, str]:
    """Users other than root for the SuperNodes and the workers, when the test runs as root (as CI does),
    and the interpreter the hospitals run on."""
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("runuser") is None:
        return None, sys.executable
    for user in (RELAY_USER, WORKER_USER):
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
                       capture_output=True)  # exists already: fine
    python = shared_python(folder)
    return (RELAY_USER, python) if python else (None, sys.executable)


def cli(*args, cwd, timeout=300, check=True):
    out = subprocess.run([*FEDCOST, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def start(*args, cwd, log, python=sys.executable):
    fh = open(log, "w")
    return subprocess.Popen([python, "-m", "fedcost.cli", *map(str, args)], cwd=cwd, stdout=fh,
                            stderr=subprocess.STDOUT, start_new_session=True)


def online(root) -> int:
    out = cli("coordinator", "status", "--workdir", root / "coord", "--json", cwd=root)
    return sum(r["status"] == "online" for r in json.loads(out.stdout))


def supernode_of(proc: subprocess.Popen) -> psutil.Process:
    return next(c for c in psutil.Process(proc.pid).children() if "flower-supernode" in " ".join(c.cmdline()))


def ours(root: Path) -> list[psutil.Process]:
    """Processes (other than this one) whose command line or folder lies under the test's folder."""
    found = []
    for p in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            text = " ".join(p.info["cmdline"] or []) + " " + (p.info["cwd"] or "")
        except (psutil.Error, TypeError):
            continue
        if str(root) in text and p.pid != os.getpid():
            found.append(p)
    return found


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    from fedcost.data.synth import write

    # pytest's temporary folders are private to root; the relay user must reach its SuperNode's folder
    root = Path(tempfile.mkdtemp(prefix="fedcost-parties-"))
    os.chmod(root, 0o711)
    relay, python = relay_user(root / "venv")
    write(root / "data", len(HOSPITALS), 875, 11)  # 3,500 records: enough that no DRG of the cost model rests on < 5 records
    cli("keys", "init", "--out", root / "keys", cwd=root)
    for private in [*(root / "data").glob("*.csv"), root / "keys" / "hospital_secret.ctx"]:
        os.chmod(private, 0o600)  # the hospital's data and secret key: its worker's user alone
        if relay:
            os.chown(private, pwd.getpwnam(WORKER_USER).pw_uid, pwd.getpwnam(WORKER_USER).pw_gid)
    cli("certs", "init", "--out", root / "certs", "--host", "127.0.0.1", cwd=root)
    (root / "public").mkdir()
    (root / "public" / "coordinator_public.ctx").write_bytes((root / "keys" / "coordinator_public.ctx").read_bytes())
    from fedcost.engines.processes import free_ports

    address = f"127.0.0.1:{free_ports(1)[0]}"
    procs = {"coordinator": start("coordinator", "start", "--workdir", root / "coord", "--address", address,
                                  "--certs", root / "certs", "--public-keys", root / "public",
                                  cwd=root, log=root / "coordinator.out")}
    deadline = time.monotonic() + 60
    while "listening" not in (root / "coordinator.out").read_text():
        assert procs["coordinator"].poll() is None and time.monotonic() < deadline, \
            (root / "coordinator.out").read_text()
        time.sleep(0.2)
    cli("researcher", "init", "--out", root / "researcher", cwd=root)
    for h in HOSPITALS:
        cli("hospital", "init", "--name", h, "--out", root / "hosp" / h, cwd=root)
        policy = root / "hosp" / h / "policy.yaml"  # the hospital trusts this researcher's signature
        text = policy.read_text()
        assert "trusted_researchers: []" in text
        policy.write_text(text.replace("trusted_researchers: []",
                                       f"trusted_researchers: [{root / 'researcher' / 'researcher.pub'}]"))
        cli("coordinator", "add-hospital", h, root / "hosp" / h / "node.pub", "--workdir", root / "coord", cwd=root)
        procs[h] = start("hospital", "start", "--data", root / "data" / f"{h}.csv", "--keys", root / "keys",
                         "--coordinator", address, "--ca", root / "certs" / "ca.crt",
                         "--auth-key", root / "hosp" / h / "node.key", "--policy", root / "hosp" / h / "policy.yaml",
                         "--workdir", root / "work" / h, *(["--relay-user", relay, "--worker-user", WORKER_USER] if relay else []),
                         cwd=root, log=root / f"{h}.out", python=python)
    deadline = time.monotonic() + 120
    while online(root) < len(HOSPITALS):
        assert time.monotonic() < deadline, {h: (root / f"{h}.out").read_text() for h in HOSPITALS}
        time.sleep(1)
    yield {"root": root, "address": address, "procs": procs, "relay": relay, "python": python}
    for p in procs.values():
        if p.poll() is None:
            for child in psutil.Process(p.pid).children(recursive=True):
                child.resume() if child.status() == psutil.STATUS_STOPPED else None
            p.send_signal(signal.SIGTERM)
    for name, p in procs.items():
        p.wait(timeout=60)
    time.sleep(1)
    left = ours(root)
    assert not left, f"left over: {[(p.pid, p.info['cmdline']) for p in left]}"
    shutil.rmtree(root, ignore_errors=True)


def researcher(federation, *args, timeout=600, sign=True):
    root = federation["root"]
    signing = ["--sign-key", root / "researcher" / "researcher.key"] if sign else []
    return subprocess.run([*FEDCOST, *map(str, args), "--coordinator", federation["address"],
                           "--ca", root / "certs" / "ca.crt", *signing], cwd=root, capture_output=True, text=True,
                          timeout=timeout)


def test_a_researcher_runs_the_standard_plan_and_gets_the_one_process_results(federation, tmp_path):
    from fedcost.analyses.plan import load_plan
    from fedcost.results import StudyResult
    from fedcost.researcher import run_study

    root = federation["root"]
    out = researcher(federation, "run", ROOT / "plans" / "standard.toml", "--hospitals", len(HOSPITALS), "--out",
                     root / "results", "--quiet")
    assert out.returncode == 0, out.stdout + out.stderr
    got = StudyResult.read(root / "results")
    paths = [root / "data" / f"{h}.csv" for h in HOSPITALS]
    run_study(load_plan(ROOT / "plans" / "standard.toml"), paths, engine="local").write(tmp_path / "ref")
    ref = StudyResult.read(tmp_path / "ref")  # written and read like the researcher's, so the dtypes match
    assert {n: a["status"] for n, a in got.analyses.items()} == {n: a["status"] for n, a in ref.analyses.items()}
    assert sum(a["status"] == "released" for a in got.analyses.values()) >= 10
    assert sorted(got.run["hospital_labels"]) == HOSPITALS
    b, b_ref = pd.Series(got.analyses["cost_model"]["result"]["coef"]), pd.Series(ref.analyses["cost_model"]["result"]["coef"])
    np.testing.assert_allclose(b[b_ref.index], b_ref, rtol=1e-6)
    # the pooled oracle: statsmodels on the concatenated rows
    pooled = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    sm = statsmodels_fit(ref.specs["cost_model"]["formula"], "gamma", pooled)
    np.testing.assert_allclose(b[sm.params.index], sm.params, rtol=1e-6, atol=1e-6 * sm.bse.max())
    for name in ("descriptive_overall", "descriptive_by_level"):
        pd.testing.assert_frame_equal(got.tables[name].reset_index(drop=True), ref.tables[name].reset_index(drop=True),
                                      check_exact=False, rtol=1e-9, check_dtype=False)

    # the coordinator's folder and logs: no secret key, no data path, no plaintext statistic of a hospital
    coord = root / "coord"
    blobs = b"".join(p.read_bytes() for p in coord.rglob("*") if p.is_file())
    assert not list(coord.rglob("hospital_secret.ctx"))
    # the secret context also holds the public parts: look for the pieces that only it holds
    secret = (root / "keys" / "hospital_secret.ctx").read_bytes()
    public = (root / "keys" / "coordinator_public.ctx").read_bytes()
    only_secret = [secret[i:i + 64] for i in range(0, len(secret) - 64, 4096) if secret[i:i + 64] not in public]
    assert len(only_secret) >= 3
    assert not [w for w in only_secret if w in blobs]
    for h in HOSPITALS:
        frame = pd.read_csv(root / "data" / f"{h}.csv")
        assert str(root / "data" / f"{h}.csv").encode() not in blobs
        assert f"{frame['cost_total'].sum():.2f}".encode() not in blobs  # a hospital's total cost
    # every party's audit log verifies
    cli("audit", "verify", coord / "audit.jsonl", cwd=root)
    for h in HOSPITALS:
        cli("audit", "verify", root / "work" / h / "work" / "audit.jsonl", cwd=root)
    # the SuperNode's node config (what a study's ClientApp can read) names no data file and no key
    config = (root / "work" / "H01" / "node_config.toml").read_text()
    assert "csv" not in config and "secret" not in config


def test_an_unregistered_hospital_is_refused(federation):
    root = federation["root"]
    cli("hospital", "init", "--name", "H99", "--out", root / "hosp" / "H99", cwd=root)
    out = cli("hospital", "start", "--data", root / "data" / "H01.csv", "--keys", root / "keys",
              "--coordinator", federation["address"], "--ca", root / "certs" / "ca.crt",
              "--auth-key", root / "hosp" / "H99" / "node.key", "--policy", root / "hosp" / "H99" / "policy.yaml",
              "--workdir", root / "work" / "H99", cwd=root, timeout=120, check=False)
    assert out.returncode == 1
    assert "not registered" in out.stderr and "Traceback" not in out.stderr
    assert online(root) == len(HOSPITALS)


PROBE = """
import json, socket, sys
out = {}
for path in sys.argv[1:]:
    try:
        open(path, "rb").read(1)
        out[path] = "read"
    except OSError as exc:
        out[path] = type(exc).__name__
print(json.dumps(out))
"""


def test_the_supernode_and_its_clientapps_can_read_neither_data_nor_keys(federation):
    relay = federation["relay"]
    if relay is None:
        pytest.skip("needs root and an interpreter another user can run (CI runs as root)")
    root, procs = federation["root"], federation["procs"]
    uid = pwd.getpwnam(relay).pw_uid
    for h in HOSPITALS[:2]:
        supervisor = psutil.Process(procs[h].pid)
        worker = next(c for c in supervisor.children() if "fedcost.federation.worker" in " ".join(c.cmdline()))
        assert supernode_of(procs[h]).uids().real == uid
        assert worker.uids().real == pwd.getpwnam(WORKER_USER).pw_uid
    # what a study's ClientApp, running as the SuperNode's user, gets when it tries
    secret = [root / "data" / "H01.csv", root / "keys" / "hospital_secret.ctx", root / "work" / "H01" / "work" /
              "node.json", root / "work" / "H01" / "work" / "audit.jsonl", root / "hosp" / "H01" / "node.key"]
    out = subprocess.run(["runuser", "-u", relay, "--", federation["python"], "-c", PROBE, *map(str, secret)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert set(json.loads(out.stdout).values()) == {"PermissionError"}, out.stdout
    # and the worker's socket is the one thing of the worker's it reaches (the studies above went through it)
    sock = root / "work" / "H01" / "socket" / "worker.sock"
    assert sock.stat().st_mode & 0o777 == 0o660 and sock.stat().st_gid == pwd.getpwnam(relay).pw_gid


def test_an_unsigned_or_foreign_study_is_refused_by_every_hospital(federation):
    from fedcost.federation.reasons import REASONS

    root = federation["root"]
    out = researcher(federation, "fit", "--hospitals", len(HOSPITALS), "--formula", GLM, "--family", "gamma",
                     "--out", root / "unsigned.json", sign=False)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    for h in HOSPITALS:  # every hospital refused it, with the code's text only
        assert f"{h}: {REASONS['unsigned_study']}" in out.stderr, out.stderr
    cli("researcher", "init", "--out", root / "stranger", cwd=root)
    out = researcher(federation, "fit", "--hospitals", len(HOSPITALS), "--formula", GLM, "--family", "gamma",
                     "--out", root / "foreign.json", "--sign-key", root / "stranger" / "researcher.key", sign=False)
    assert out.returncode == 1
    for h in HOSPITALS:
        assert f"{h}: {REASONS['untrusted_study']}" in out.stderr, out.stderr
    assert not (root / "unsigned.json").exists() and not (root / "foreign.json").exists()


def _started_round(workdir: Path, timeout=300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = workdir / "flwr-run.log"
        if log.exists() and '"event": "round"' in log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError("the fit never finished a round")


def test_dropouts_a_killed_hospital_and_a_frozen_one(federation):
    root, procs = federation["root"], federation["procs"]
    # 1. four hospitals, H04 killed with SIGKILL mid-fit: the study starts again on the other three
    sub = root / "fit1"
    fit = subprocess.Popen([*FEDCOST, "fit", "--coordinator", federation["address"], "--ca", root / "certs" / "ca.crt",
                            "--sign-key", root / "researcher" / "researcher.key", "--hospitals", str(len(HOSPITALS)), "--round-timeout", "20", "--formula", GLM, "--family", "gamma",
                            "--out", root / "fit1.json", "--workdir", sub],
                           cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _started_round(sub)
    supernode_of(procs["H04"]).kill()
    procs["H04"].kill()
    out, err = fit.communicate(timeout=300)
    assert fit.returncode == 0, out + err
    result = json.loads((root / "fit1.json").read_text())
    assert sorted(result["hospital_labels"]) == HOSPITALS[:3]
    assert [d["hospital"] for d in result["dropouts"]] == ["H04"]
    assert "dropped out" in err
    pooled = pd.concat([pd.read_csv(root / "data" / f"{h}.csv") for h in HOSPITALS[:3]], ignore_index=True)
    sm = statsmodels_fit(GLM, "gamma", pooled)
    np.testing.assert_allclose(pd.Series(result["coef"])[sm.params.index], sm.params, rtol=1e-6)
    # H04's supervisor is gone, and so are its SuperNode and its worker
    time.sleep(2)
    assert not ours(root / "work" / "H04")

    # 2. three hospitals, one frozen with SIGSTOP: the study ends with a reason within the stated bound
    frozen = [supernode_of(procs[h]) for h in ("H03",)]
    for p in frozen:
        p.suspend()
    try:
        t0 = time.monotonic()
        out = researcher(federation, "fit", "--hospitals", "3", "--round-timeout", "15", "--formula", GLM,
                         "--family", "gamma", "--out", root / "fit2.json", timeout=300)
        took = time.monotonic() - t0
    finally:
        for p in frozen:
            p.resume()
    assert out.returncode == 1, out.stdout + out.stderr
    assert "dropped out" in out.stderr and "the policy needs at least 3" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert took < 15 + 60  # the round's time limit plus start-up and one round
    assert not (root / "fit2.json").exists()
