"""The table of analysis kinds: the one place a spec's ``kind`` becomes a class.

A hospital rebuilds every analysis of a study from its spec; only the kinds
listed here can be built, and adding a kind means adding it here, not
importing a module for its side effects.
"""
from __future__ import annotations

from fedcost.analyses.benchmark import BenchmarkAnalysis
from fedcost.analyses.cea import CEAAnalysis
from fedcost.analyses.descriptive import DescriptiveAnalysis
from fedcost.analyses.payment import PaymentAnalysis
from fedcost.analyses.warning import WarningAnalysis
from fedcost.contract import Analysis
from fedcost.errors import UsageError
from fedcost.models.irls import GLMAnalysis

KINDS: dict[str, type[Analysis]] = {cls.kind: cls for cls in (
    GLMAnalysis, DescriptiveAnalysis, BenchmarkAnalysis, WarningAnalysis, PaymentAnalysis, CEAAnalysis)}


def from_spec(spec: dict) -> Analysis:
    """The analysis a spec describes (``{"kind": ..., **params}``); an unknown kind is a UsageError."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind not in KINDS:
        raise UsageError(f"unknown analysis kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    return KINDS[kind](**spec)
