"""Study plans: a declarative TOML file listing analyses and their parameters.

::

    [plan]
    name = "standard"
    description = "..."

    [analyses.cost_model]
    kind = "glm"
    formula = "cost_total ~ age + los + C(drg_code)"
    family = "gamma"

    [analyses.descriptive_by_level]
    kind = "descriptive"
    by = ["hospital_level"]

Policy inputs fill the parameters a plan leaves out, so that every hospital
receives them in the analysis spec (hospitals see only the spec and the
disclosure rules, never the policy file): ``warning.thresholds`` from the
policy's ``alerts`` section, ``benchmark.band`` and ``trim`` from
``benchmark``, ``payment.standards`` from ``payment_standards``, and
``cea.wtp`` = ``wtp_multiple`` x ``gdp_per_capita`` from
``cost_effectiveness`` (with the basis stated).
"""
from __future__ import annotations

from pathlib import Path

from fedcost.config import load_mapping
from fedcost.errors import DataError
from fedcost.policy import Policy
from fedcost.analyses.kinds import KINDS
from fedcost.contract import Analysis


def read_plan(path: str | Path) -> dict:
    """The plan file as a dict ({'plan': {...}, 'analyses': {name: params}})."""
    path = Path(path)
    raw = load_mapping(path, "plan")
    if not isinstance(raw.get("analyses"), dict) or not raw["analyses"]:
        raise DataError(f"{path}: the plan lists no [analyses.NAME] tables")
    return raw


def with_policy(kind: str, params: dict, policy: Policy) -> dict:
    """Parameters completed from the policy where the plan is silent."""
    p = dict(params)
    if kind == "warning":
        th = dict(policy.section("alerts"))
        th.update(p.get("thresholds") or {})
        p["thresholds"] = th
    elif kind == "benchmark":
        b = policy.section("benchmark")
        if "band" not in p and b.get("cost_coefficient_band"):
            p["band"] = list(b["cost_coefficient_band"])
        if "trim" not in p and b.get("trim_percentiles"):
            p["trim"] = list(b["trim_percentiles"])
    elif kind == "payment":
        if "standards" not in p:
            table = policy.payment_standards()
            group = p.get("group", "drg_code")
            if group not in table.columns:
                table = table.rename(columns={table.columns[0]: group})
            p["standards"] = {str(k): float(v) for k, v in zip(table[group], table["payment_standard"])}
    elif kind == "cea":
        ce = policy.section("cost_effectiveness")
        if "wtp" not in p:
            if "wtp" in ce:
                p["wtp"] = float(ce["wtp"])
                p.setdefault("wtp_basis", f"policy wtp {float(ce['wtp']):,.0f} yuan per QALY")
            elif "gdp_per_capita" in ce:
                mult = float(ce.get("wtp_multiple", 3))
                p["wtp"] = mult * float(ce["gdp_per_capita"])
                p.setdefault("wtp_basis", f"{mult:g} x GDP per capita ({float(ce['gdp_per_capita']):,.0f} yuan) "
                                          "per QALY")
    return p


def load_plan(path: str | Path, policy: Policy | str | Path | None = None) -> dict[str, Analysis]:
    """{name: Analysis} of a plan file, parameters completed from the policy (default policy file)."""
    raw = read_plan(path)
    policy = policy if isinstance(policy, Policy) else Policy.load(policy)
    out: dict[str, Analysis] = {}
    for name, spec in raw["analyses"].items():
        if not isinstance(spec, dict) or "kind" not in spec:
            raise DataError(f"{path}: analysis {name!r} needs a kind ({', '.join(sorted(KINDS))})")
        spec = dict(spec)
        kind = spec.pop("kind")
        spec.pop("description", None)
        if kind not in KINDS:
            raise DataError(f"{path}: analysis {name!r} has unknown kind {kind!r}; known: {', '.join(sorted(KINDS))}")
        try:
            out[name] = KINDS[kind](**with_policy(kind, spec, policy))
        except TypeError as exc:
            raise DataError(f"{path}: analysis {name!r}: {exc}") from None
    return out


def plan_info(path: str | Path) -> dict:
    """The [plan] table and each analysis' description (for results.json and reports)."""
    raw = read_plan(path)
    return {"plan": dict(raw.get("plan") or {}), "path": str(Path(path)),
            "descriptions": {n: s.get("description", "") for n, s in raw["analyses"].items()}}
