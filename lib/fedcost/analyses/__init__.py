"""Policy analyses of the standard study plan (issue 5), each a federated state machine.

Importing this package registers every analysis kind with `fedcost.contract`:
``descriptive`` tables, ``benchmark`` (O/E funnel, DRG weights, CMI, cost
coefficient), ``warning`` (growth alerts, SPC), ``payment`` (DRG payment
gap) and ``cea`` (ICER, CEAC); `plan` loads a study plan, `tables` writes
and reads the tidy result tables.
"""
from fedcost.analyses import common, suppression  # noqa: F401
from fedcost.analyses import descriptive, benchmark, warning, payment, cea  # noqa: F401
import fedcost.models.irls  # noqa: F401  (the GLM kind used by plans)

__all__ = ["common", "suppression", "descriptive", "benchmark", "warning", "payment", "cea"]
