"""Where the project's default inputs live (the source tree: the package is installed editable)."""
from pathlib import Path
import os

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parents[1]


def default_dictionary_dir() -> Path:
    """The default data dictionary: $FEDCOST_DICTIONARY or data_dictionary/ of the project."""
    return Path(os.environ.get("FEDCOST_DICTIONARY", PROJECT_ROOT / "data_dictionary"))


def default_policy_file() -> Path:
    """The default policy inputs: $FEDCOST_POLICY or policy/policy.yaml of the project."""
    return Path(os.environ.get("FEDCOST_POLICY", PROJECT_ROOT / "policy" / "policy.yaml"))


# The Quarto project of the reports (templates, _quarto.yml): $FEDCOST_REPORTS_DIR or reports/ of the project.
REPORTS_DIR = Path(os.environ.get("FEDCOST_REPORTS_DIR", PROJECT_ROOT / "reports"))


def git_commit() -> str | None:
    """The git commit of the source tree that runs ("+modified" when it has uncommitted changes), or None."""
    import subprocess

    try:
        out = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("+modified" if dirty else "")
