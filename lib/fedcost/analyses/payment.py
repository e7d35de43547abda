"""DRG/DIP payment gap: payment standards (a policy input) against the federated cost.

One round. Per group with a payment standard (and the total over them) each
hospital sends n, hospitals (1 if it has cases), sum of cost, the number of
cases costing more than the standard, the sum of the excess (cost - standard
where positive) and the sum of the payment (standard per case). Then:

* gap = standard - mean cost (positive: the standard covers the mean case);
  gap_ratio = gap / standard;
* overspend_rate = share of cases whose cost exceeds the standard (the
  documents' 超支率; one province cut it from 18 % to 7 %);
* overspend_ratio = total excess / total payment;
* surplus = total payment - total cost (the pooled balance of the region).

Groups without a standard are left out and counted (``uncovered_cases``).
Small groups are suppressed with complementary suppression (the total row is
a margin), in `disclose`, at the hospitals.

Per-hospital surplus or deficit is NOT released, not even under pseudonym:
a hospital's payment balance is commercially sensitive and the coordinator
gains nothing from it. Each hospital computes its own figure from its own
rows with `hospital_payment(frame, standards)` (no federation needed: the
standards are public), and sees it next to the pooled figures. Nothing of it
enters the encrypted vector either, so other hospitals cannot read it from
the decrypted sums.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from fedcost.analyses import common as cm
from fedcost.analyses.suppression import suppress_table
from fedcost.errors import DisclosureError, UsageError
from fedcost.contract import Analysis, Tables, tidy


class PaymentAnalysis(Analysis):
    """Payment gap and overspend per group (see the module docstring).

    Parameters: standards ({group code: yuan per case}, from the policy's
    payment_standards.csv), group (drg_code), cost (cost_total).
    """

    kind = "payment"

    def __init__(self, standards: dict | None = None, group: str = "drg_code", cost: str = "cost_total"):
        if not standards:
            raise UsageError("payment: no payment standards given (policy payment_standards)")
        std = {str(k): float(v) for k, v in standards.items() if v is not None and np.isfinite(float(v))}
        super().__init__(standards=std, group=group, cost=cost)
        self.levels_: list[str] = []

    def prepare(self, frame: pd.DataFrame, dictionary):
        d = cm.dictionary_or_default(dictionary)
        levels = d.levels(self.params["group"])
        self.levels_ = [c for c in levels if c in self.params["standards"]]
        cost = cm.as_float(frame, self.params["cost"])
        all_codes = cm.group_codes(frame, self.params["group"], levels, "quarter", "")
        codes = cm.group_codes(frame, self.params["group"], self.levels_, "quarter", "")
        ok = np.isfinite(cost)
        return {"cost": cost[ok], "codes": codes[ok], "uncovered": int(((all_codes >= 0) & (codes < 0) & ok).sum()),
                "n": int(ok.sum())}

    def records(self, block) -> int:
        return int(block["n"])

    def initial_state(self, sites: int) -> dict:
        return {"phase": "sums"}

    def _grid(self) -> cm.Grid:
        return cm.Grid([self.params["group"]], [self.levels_])

    def statistics(self, block, state, site: int):
        g = self._grid()
        cost, codes = block["cost"], block["codes"]
        std = np.array([self.params["standards"][c] for c in self.levels_] + [np.nan])
        cells = g.row_cells([codes], len(codes))
        s = std[np.where(codes >= 0, codes, len(self.levels_))]
        s = np.nan_to_num(s)
        over = (cost > s) & (codes >= 0)
        n = cm.cell_sums(cells, np.ones(len(cost)), g.size)
        parts = [n, (n > 0).astype(float), cm.cell_sums(cells, cost, g.size), cm.cell_sums(cells, over * 1.0, g.size),
                 cm.cell_sums(cells, np.where(over, cost - s, 0.0), g.size), cm.cell_sums(cells, s, g.size)]
        return np.concatenate([np.stack(parts, axis=1).ravel(), [block["uncovered"]]])

    def advance(self, state, total):
        g = self._grid()
        total = np.asarray(total, dtype=float)
        m = total[:-1].reshape(g.size, 6)
        n, hosp = np.round(m[:, 0]), np.round(m[:, 1])
        cost, over_n, over_amt, pay = m[:, 2], np.round(m[:, 3]), m[:, 4], m[:, 5]
        std = np.array([self.params["standards"][c] for c in self.levels_] + [np.nan])
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, cost / n, np.nan)
            std_all = np.where(n > 0, pay / n, np.nan)  # the total row: case-weighted mean standard
            std_col = np.where(np.isnan(std), std_all, std)
            gap = std_col - mean
            table = {
                self.params["group"]: self.levels_ + [cm.ALL],
                "n": [int(x) for x in n], "hospitals": [int(x) for x in hosp],
                "payment_standard": _clean(std_col), "mean_cost": _clean(mean),
                "gap": _clean(gap), "gap_ratio": _clean(gap / std_col),
                "overspend_cases": [int(x) for x in over_n], "overspend_rate": _clean(np.where(n > 0, over_n / n, np.nan)),
                "overspend_amount": _clean(over_amt), "payment_total": _clean(pay), "cost_total": _clean(cost),
                "overspend_ratio": _clean(np.where(pay > 0, over_amt / pay, np.nan)),
                "surplus": _clean(pay - cost),
            }
        result = {"by": [self.params["group"]], "levels": [self.levels_], "table": table,
                  "n": int(n[-1]), "hospitals": int(hosp[-1]), "uncovered_cases": int(round(total[-1])),
                  "method": ("gap = standard - mean cost; overspend_rate = cases above the standard / cases; "
                             "overspend_ratio = sum of excess over the standard / sum of payments; surplus = "
                             "payments - costs (pooled). The 'All' row's standard is the case-weighted mean "
                             "standard. Per-hospital balances are not released (see hospital_payment)."),
                  "per_hospital": "not released: each hospital computes its own with hospital_payment()"}
        return {"phase": "done", "done": True, "result": result}

    def local_report(self, frame, result):
        """The hospital's own balance per group (computed and kept at the hospital)."""
        return hospital_payment(frame, self.params["standards"], self.params["group"], self.params["cost"])

    def tables(self, name: str, result: dict, labels=None) -> Tables:
        out = Tables()
        t = pd.DataFrame(result["table"])
        out.add("payment_gap", tidy(t.to_dict("list"), analysis=name),
                "DRG payment standard against mean cost: gap, overspend rate and ratio (pooled)")
        tot = t.iloc[-1]
        out.kpi("overspend_rate", tot["overspend_rate"], "share", name, "share of cases costing more than the standard")
        out.kpi("overspend_ratio", tot["overspend_ratio"], "share", name, "excess cost / payments")
        out.kpi("payment_gap_per_case", tot["gap"], "yuan", name, "mean standard minus mean cost per case")
        out.kpi("payment_surplus", tot["surplus"], "yuan", name, "payments minus costs, all covered cases")
        return out

    def disclose(self, result, disclosure):
        if result["hospitals"] < disclosure["min_hospitals"]:
            raise DisclosureError(f"{result['hospitals']} hospitals contributed; the policy needs at least "
                                  f"{disclosure['min_hospitals']}")
        grid = cm.Grid(result["by"], result["levels"])
        return suppress_table(result, grid, disclosure, keep=["payment_standard"])


def _clean(a) -> list:
    return [cm.nan_to_none(float(x)) for x in np.asarray(a, dtype=float)]


def hospital_payment(frame: pd.DataFrame, standards: dict | pd.DataFrame, group: str = "drg_code",
                     cost: str = "cost_total") -> pd.DataFrame:
    """A hospital's own payment balance per group and in total, from its own rows only.

    Run at the hospital (it needs no federation: the standards are public);
    the result never leaves the hospital. Columns as the released
    payment_gap table plus nothing about other hospitals.
    """
    if isinstance(standards, pd.DataFrame):
        standards = dict(zip(standards[group].astype(str), standards["payment_standard"]))
    df = pd.DataFrame({"g": frame[group].astype(str), "c": pd.to_numeric(frame[cost], errors="coerce")})
    df = df[df.g.isin(standards.keys()) & df.c.notna()]
    df["s"] = df.g.map(standards).astype(float)
    df["excess"] = (df.c - df.s).clip(lower=0)
    rows = []
    for key, sub in list(df.groupby("g", sort=True)) + [(cm.ALL, df)]:
        n = len(sub)
        pay, c = sub.s.sum(), sub.c.sum()
        rows.append({group: key, "n": n, "payment_standard": pay / n if n else np.nan,
                     "mean_cost": c / n if n else np.nan, "overspend_cases": int((sub.c > sub.s).sum()),
                     "overspend_rate": (sub.c > sub.s).mean() if n else np.nan,
                     "overspend_amount": sub.excess.sum(), "payment_total": pay, "cost_total": c,
                     "surplus": pay - c})
    return pd.DataFrame(rows)
