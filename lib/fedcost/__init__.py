"""fedcost: federated hospital cost analysis with encrypted aggregation and policy reports."""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("fedcost")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from fedcost.errors import FedcostError, UsageError, DataError  # noqa: E402

__all__ = ["__version__", "FedcostError", "UsageError", "DataError"]

# Lazy exports for notebooks (`fedcost.GLM(...)`) that keep `import fedcost`
# light: the Flower ClientApp imports the package once per message.
_LAZY = {"GLM": "fedcost.models.glm", "GLMResults": "fedcost.models.glm", "run_study": "fedcost.researcher",
         "Dictionary": "fedcost.data.dictionary", "Policy": "fedcost.policy"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fedcost' has no attribute {name!r}")
