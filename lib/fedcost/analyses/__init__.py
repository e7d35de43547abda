"""Policy analyses of the standard study plan, each a federated state machine (``fedcost.contract``).

``descriptive`` tables, ``benchmark`` (O/E funnel, DRG weights, CMI, cost
coefficient), ``warning`` (growth alerts, SPC), ``payment`` (DRG payment gap)
and ``cea`` (ICER, CEAC), with ``common`` helpers and ``suppression`` of small
cells; ``kinds`` is the table of every kind a study may name (the GLM of
``fedcost.models`` among them); ``plan`` loads a study plan.

Must not import the federation, engines, results or reporting.
"""
