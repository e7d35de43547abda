"""What a fitted model may release, and the Wald table of what was released.

A hospital runs `check_release` on the decrypted result before a model's
coefficients leave it (through `GLMAnalysis.disclose` and every analysis that
composes a GLM). Three rules, each with the hospital's stricter minimum:

* at least ``min_hospitals`` hospitals contributed;
* at most ``max_parameter_fraction`` parameters per record;
* no released term rests on fewer than ``min_cell_records`` records. The
  coefficient of ``I(age == 97)`` or of a DRG with two cases is, in effect,
  those patients' mean cost, so a fit that would publish it is refused.

How many records a column rests on (`records_behind`), from pooled counts
only (`statistics.moments`): a 0/1 indicator rests on the smaller of its ones
and its zeros (``I(age != 97)`` identifies the 97-year-olds as well as
``I(age == 97)`` does); a constant column on every record; any other column on
its non-zero entries. The reference level of a categorical term, which every
contrast of that term compares with, rests on the records at that level.

Counts see only indicator columns: ``I((age == 97) * 5)`` or a narrow spike
``I(np.exp(-30 * (age - 97) ** 2))`` is not 0/1, yet its coefficient is fixed
by the few 97-year-olds all the same. So each hospital also checks its own
rows' leverage (`check_own_rows`), the share of a record's fitted value that
comes from the record itself. In a cell of k records with its own parameter
every record has leverage at least 1/k, whatever the column's values; a
leverage of 1/(floor - 1/2) or more therefore means the fit rests on fewer
than ``floor`` records there (the half record keeps a cell of exactly
``floor`` records, whose leverage is 1/floor plus the small share of the
continuous terms, releasable).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps

from fedcost.errors import DisclosureError

Z95 = 1.959963984540054  # the normal 97.5% quantile


def records_behind(colsum, colbin, n: float, columns, kept, factor_slices: dict, baselines: dict) -> dict[str, int]:
    """Records each kept column, and each categorical term's reference level, rests on.

    colsum: non-zero entries per column; colbin: entries outside {0, 1}; both
    summed over the hospitals, so rounded (CKKS noise is far below 0.5).
    """
    nz, nonbinary, n = np.round(colsum), np.round(colbin), round(float(n))
    out = {}
    for j, (c, k) in enumerate(zip(columns, kept)):
        if not k:
            continue
        if nonbinary[j] > 0:
            out[c] = int(nz[j])
        else:
            zeros = n - nz[j]
            out[c] = int(n if zeros == 0 else min(nz[j], zeros))
    for term, level in baselines.items():
        lo, hi = factor_slices[term]
        # a level column is dropped for having no records, or as the baseline that replaced an empty reference
        moved = [j for j in range(lo, hi) if not kept[j] and nz[j] > 0]
        ref = nz[moved[0]] if moved else n - nz[lo:hi].sum()
        out[f"{term} (reference level {level})"] = int(ref)
    return out


def check_release(model: dict, disclosure: dict) -> None:
    """Raise DisclosureError unless a fitted model's result may leave the hospital."""
    if model["hospitals"] < disclosure["min_hospitals"]:
        raise DisclosureError(f"{model['hospitals']} hospitals contributed; the policy needs at least "
                              f"{disclosure['min_hospitals']}")
    p = len(model["columns"])
    if p > disclosure["max_parameter_fraction"] * model["n"]:
        raise DisclosureError(f"{p} parameters for {model['n']} records: the policy allows at most "
                              f"{disclosure['max_parameter_fraction']:.0%} of the records")
    floor = disclosure["min_cell_records"]
    thin = {t: r for t, r in (model.get("records_behind") or {}).items() if r < floor}
    if thin:
        listed = ", ".join(f"{t} ({r})" for t, r in sorted(thin.items(), key=lambda kv: kv[1]))
        raise DisclosureError(f"model terms rest on fewer than {floor} records: {listed}")


LEVERAGE_CHUNK = 200_000  # rows per block: 47 columns x 200k rows is 75 MB of temporaries


def check_own_rows(d, family, link, model: dict, floor: int) -> None:
    """Raise DisclosureError if a record of this hospital's design ``d`` nearly fits itself.

    The leverage h_i = w_i x_i' (X'WX)^-1 x_i of the pooled fit needs only the
    pooled information (the released covariance over the dispersion) and the
    hospital's own rows, so no round is added and nothing leaves.
    """
    if floor <= 1 or d.n == 0:
        return
    kept = np.array([c in set(model["columns"]) for c in d.columns])
    beta = np.asarray(model["beta_full"], dtype=float)
    hinv = np.asarray(model["cov"], dtype=float) / (model["dispersion"] or 1.0)
    limit = 1.0 / (floor - 0.5)
    worst, count = 0.0, 0
    for lo in range(0, d.n, LEVERAGE_CHUNK):
        part = slice(lo, lo + LEVERAGE_CHUNK)
        X = d.X[part]
        mu = family.clip_mu(link.inverse(X @ beta + d.offset[part]))
        w = d.weights[part] * link.d1(link.link(mu)) ** 2 / family.variance(mu)
        Xk = X[:, kept]
        h = w * np.einsum("ij,ij->i", Xk @ hinv, Xk)
        worst, count = max(worst, float(h.max(initial=0.0))), count + int((h >= limit).sum())
    if count:
        raise DisclosureError(f"{count} record{'s' if count > 1 else ''} of this hospital {'have' if count > 1 else 'has'} leverage up to {worst:.2f} (at least "
                              f"{limit:.2f}): the model fits them from fewer than {floor} records; a term "
                              "singles out a few patients")


def released(model: dict) -> dict:
    """The model result without what only the hospitals need (full coefficient vector, record counts)."""
    return {k: v for k, v in model.items() if k not in ("beta_full", "records_behind")}


def coefficient_table(result: dict) -> pd.DataFrame:
    """term, coef, se, z, p_value, ci_lower, ci_upper, exp_coef: the Wald statistics of a released fit.

    The one place they are computed: the results tables, ``GLMResults`` and the reports read them.
    """
    coef = pd.Series(result["coef"], dtype=float)[list(result["columns"])]
    se = pd.Series(result["se"], dtype=float)[coef.index]
    z = coef / se
    return pd.DataFrame({"term": coef.index, "coef": coef.values, "se": se.values, "z": z.values,
                         "p_value": 2 * sps.norm.sf(np.abs(z.values)), "ci_lower": (coef - Z95 * se).values,
                         "ci_upper": (coef + Z95 * se).values, "exp_coef": np.exp(coef.values)})
