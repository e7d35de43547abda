"""The hospital install: small, locked with hashes, and enough for everything a hospital runs."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "hospital.txt"
NOT_AT_A_HOSPITAL = {"ray", "jupyterlab", "jupyter-server", "notebook", "papermill", "nbconvert", "matplotlib",
                     "seaborn", "pypandoc-binary", "typst", "ipykernel"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, list[str]]:
    entries = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text(encoding="utf-8").split("\n\n", 1)[1])
    out = {}
    for entry in entries:
        head = entry.split()[0]
        name, _, version = head.partition("==")
        out[_norm(name)] = re.findall(r"--hash=sha256:([0-9a-f]{64})", entry)
        assert version, head
    return out


def test_the_lock_pins_every_package_with_hashes_and_holds_no_research_tool():
    locked = _locked()
    assert len(locked) > 30
    assert all(hashes for hashes in locked.values()), [n for n, h in locked.items() if not h]
    assert not NOT_AT_A_HOSPITAL & set(locked), NOT_AT_A_HOSPITAL & set(locked)


def test_the_lock_covers_the_base_dependencies_and_the_extras_hold_the_rest():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = {_norm(re.split(r"[\[<>=!~ ]", d, maxsplit=1)[0]) for d in project["dependencies"]}
    assert base <= set(_locked()), base - set(_locked())  # rerun requirements/lock.py after changing them
    assert not base & NOT_AT_A_HOSPITAL and not any("[simulation]" in d for d in project["dependencies"])
    assert project["optional-dependencies"]["hospital"] == []
    research = " ".join(project["optional-dependencies"]["research"])
    assert "flwr[simulation]" in research and "jupyterlab" in research


def test_what_a_hospital_runs_imports_no_research_tool():
    code = ("import sys, json\n"
            "import fedcost.cli.hospital, fedcost.engines.parties, fedcost.federation.worker, "
            "fedcost.federation.hospital, fedcost.federation.relay, fedcost.engines.entrypoints, "
            "fedcost.analyses.kinds, fedcost.data.validation\n"
            "from fedcost.cli import build_parser\n"
            "build_parser()\n"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded = {_norm(m) for m in json.loads(out.stdout)}
    assert not loaded & {"ray", "jupyterlab", "papermill", "nbconvert", "matplotlib", "seaborn", "typst"}, loaded
