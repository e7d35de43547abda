"""Write requirements/hospital.txt: the hospital install (pyproject's base dependencies), pinned with hashes.

    python requirements/lock.py          # then: pip install --require-hashes -r requirements/hospital.txt
                                         #       pip install --no-deps 'fedcost[hospital]'

Resolved by `pip lock` (PEP 751) for the Python and platform it runs on; the file says which. Rerun it after
changing the base dependencies in pyproject.toml (tests/test_install.py checks that the two agree).
"""
from __future__ import annotations

import platform
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "requirements" / "hospital.txt"


def base_dependencies() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        req, lock = Path(tmp) / "hospital.in", Path(tmp) / "pylock.toml"
        req.write_text("\n".join(base_dependencies()) + "\n", encoding="utf-8")
        subprocess.run([sys.executable, "-m", "pip", "lock", "-q", "-r", str(req), "-o", str(lock)], check=True,
                       cwd=tmp)
        packages = tomllib.loads(lock.read_text(encoding="utf-8"))["packages"]
    lines = [f"# fedcost hospital install, locked by requirements/lock.py for CPython "
             f"{platform.python_version()} on {sys.platform}-{platform.machine()}.",
             "# pip install --require-hashes -r requirements/hospital.txt && pip install --no-deps .", ""]
    for pkg in sorted(packages, key=lambda p: p["name"].lower()):
        hashes = sorted({f["hashes"]["sha256"] for f in pkg.get("wheels", [])}
                        | ({pkg["sdist"]["hashes"]["sha256"]} if "sdist" in pkg else set()))
        lines.append(f"{pkg['name']}=={pkg['version']} \\\n" + " \\\n".join(f"    --hash=sha256:{h}" for h in hashes))
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(packages)} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
