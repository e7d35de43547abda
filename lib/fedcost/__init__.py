"""fedcost: federated hospital cost analysis with encrypted aggregation and policy reports."""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("fedcost")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from fedcost.errors import FedcostError, UsageError, DataError  # noqa: E402

__all__ = ["__version__", "FedcostError", "UsageError", "DataError"]
