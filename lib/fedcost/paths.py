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
