"""Independent oracles: statsmodels fits on the pooled rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf

SM_FAMILIES = {
    "gaussian": lambda: sm.families.Gaussian(),
    "gamma": lambda: sm.families.Gamma(sm.families.links.Log()),
    "poisson": lambda: sm.families.Poisson(),
    "binomial": lambda: sm.families.Binomial(),
}

# One model per family on the default dictionary's columns.
MODELS = {
    "gaussian": "np.log(cost_total) ~ age + los + comorbidity_score + C(drg_code)",
    "gamma": "cost_total ~ age + los + comorbidity_score + C(drg_code) + C(hospital_level)",
    "poisson": "los ~ age + comorbidity_score + C(admission_type)",
    "binomial": "readmission_30d ~ age + comorbidity_score + C(sex)",
}


def statsmodels_fit(formula: str, family: str, data: pd.DataFrame, cov_type: str = "nonrobust",
                    cov_kwds=None, **kw):
    """statsmodels GLM with a tight tolerance, so the reference itself is converged to ~1e-12."""
    model = smf.glm(formula, data, family=SM_FAMILIES[family](), **kw)
    return model.fit(tol=1e-13, maxiter=100, cov_type=cov_type, cov_kwds=cov_kwds)


def max_rel(ours: dict | pd.Series, ref: pd.Series) -> float:
    ours = pd.Series(ours, dtype=float)
    assert sorted(ours.index) == sorted(ref.index), (sorted(ours.index), sorted(ref.index))
    ref = ref[ours.index]
    return float(np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-300)))


# The precision contract (README, "Precision and rounds"): each coefficient within
# 1e-6 max(|beta|, SE(beta)) of pooled statsmodels, each standard error within 1e-6 SE.
# Measured against a coefficient's own size alone it is ill posed near zero.
CONTRACT = 1e-6


def contract_error(coef: dict, se: dict, ref) -> float:
    """The largest error of a fit against a statsmodels result `ref`, in units of the contract's scale."""
    b, s = pd.Series(coef, dtype=float), pd.Series(se, dtype=float)
    assert sorted(b.index) == sorted(ref.params.index), (sorted(b.index), sorted(ref.params.index))
    rb, rs = ref.params[b.index], ref.bse[b.index]
    coef_err = np.abs(b - rb) / np.maximum(np.abs(rb), rs)
    se_err = np.abs(s[b.index] - rs) / rs
    return float(max(coef_err.max(), se_err.max()))
