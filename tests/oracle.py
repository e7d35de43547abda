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
