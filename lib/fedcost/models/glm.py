"""GLM estimator and results, the way researchers call it from a notebook.

`GLM(...).fit(frames)` is the pooled fit (all rows in one process, statistics
summed in plaintext); `GLM(...).fit_federated(paths)` runs the same IRLS over
a federation where only encrypted sums leave the hospitals. Both return self
with `results_` (a `GLMResults`), as scikit-learn estimators do.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from scipy import stats as sps

from fedcost.errors import UsageError
from fedcost.models.irls import GLMAnalysis
from fedcost.models.release import coefficient_table
from fedcost.contract import run_pooled


class GLMResults:
    """Fitted GLM: coefficients, standard errors, fit statistics; `summary()` prints a table."""

    def __init__(self, result: dict):
        self.result = dict(result)
        cols = result["columns"]
        self.params = pd.Series(result["coef"], index=cols, dtype=float)[cols]
        self.bse = pd.Series(result["se"], index=cols, dtype=float)[cols]
        self.cov = pd.DataFrame(result["cov"], index=cols, columns=cols)
        self.bse_cluster = (pd.Series(result["se_cluster"], dtype=float)[cols]
                            if result.get("se_cluster") else None)
        for key in ("deviance", "null_deviance", "dispersion", "n", "df_resid", "family", "link", "formula",
                    "converged", "hospitals", "iterations"):
            setattr(self, key, result.get(key))
        self.rounds = result.get("rounds")
        self._wald = coefficient_table(result).set_index("term")

    @property
    def tvalues(self) -> pd.Series:
        return self._wald["z"]

    @property
    def pvalues(self) -> pd.Series:
        return self._wald["p_value"]

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        if alpha == 0.05:
            return self._wald[["ci_lower", "ci_upper"]].set_axis(["lower", "upper"], axis=1)
        z = sps.norm.ppf(1 - alpha / 2)
        return pd.DataFrame({"lower": self.params - z * self.bse, "upper": self.params + z * self.bse})

    def cov_params(self) -> pd.DataFrame:
        return self.cov

    def table(self) -> pd.DataFrame:
        ci = self.conf_int()
        out = pd.DataFrame({"coef": self.params, "std err": self.bse, "z": self.tvalues, "P>|z|": self.pvalues,
                            "[0.025": ci["lower"], "0.975]": ci["upper"]})
        if self.bse_cluster is not None:
            out["se (hospital-clustered)"] = self.bse_cluster
        return out

    def summary(self) -> str:
        """A plain-text summary in the spirit of statsmodels' GLM summary."""
        r = self.result
        head = [
            "Generalized Linear Model Results" + (" (federated)" if r.get("engine") else ""),
            "=" * 78,
            f"Formula:        {self.formula}",
            f"Family / link:  {self.family} / {self.link}",
            f"Observations:   {self.n}     Hospitals: {self.hospitals}     Df residuals: {self.df_resid:g}",
            f"Deviance:       {self.deviance:.6g}     Null deviance: "
            f"{'n/a' if self.null_deviance is None else format(self.null_deviance, '.6g')}",
            f"Dispersion:     {self.dispersion:.6g}     Converged: {self.converged}     Iterations: {self.iterations}",
        ]
        if r.get("engine"):
            priv = r.get("privacy", {})
            head.append(f"Engine:         {r['engine']}     Rounds: {r.get('rounds')}     "
                        f"Coordinator saw only ciphertexts: {not priv.get('plaintext_statistics_sent_to_server', True)}")
        for term, level in (r.get("baselines") or {}).items():
            head.append(f"Baseline level: {term} = {level}")
        reasons = r.get("dropped_reasons") or {}
        for col in r.get("dropped_columns") or []:
            head.append(f"Dropped: {col} ({reasons.get(col, 'no records at any hospital')})")
        head.append("-" * 78)
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            body = self.table().to_string(float_format=lambda v: f"{v:.4g}")
        return "\n".join(head) + "\n" + body + "\n" + "=" * 78

    def __repr__(self) -> str:
        return f"<GLMResults {self.family}/{self.link} n={self.n} p={len(self.params)}>"

    def to_dict(self) -> dict:
        return dict(self.result)

    def save(self, path: str | Path) -> Path:
        from fedcost.files import write_json

        return write_json(path, self.result)

    @classmethod
    def load(cls, path: str | Path) -> "GLMResults":
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))


class GLM:
    """A GLM cost model. Parameters are stored as given; `fit*` return self with `results_`."""

    def __init__(self, formula: str, family: str = "gaussian", link: str | None = None,
                 weights: str | None = None, offset: str | None = None, dictionary=None,
                 robust: bool | None = None):
        self.formula = formula
        self.family = family
        self.link = link
        self.weights = weights
        self.offset = offset
        self.dictionary = dictionary
        self.robust = robust

    def _analysis(self, start: str) -> GLMAnalysis:
        return GLMAnalysis(self.formula, self.family, self.link, weights=self.weights, offset=self.offset,
                           start=start, robust=self.robust)

    def _dictionary(self):
        from fedcost.data.dictionary import Dictionary

        if self.dictionary is None or isinstance(self.dictionary, (str, Path)):
            return Dictionary.load(self.dictionary)
        return self.dictionary

    def fit(self, data, start: str = "naive") -> "GLM":
        """Pooled fit on a DataFrame or a list of DataFrames (one per hospital, the clusters)."""
        frames = [data] if isinstance(data, pd.DataFrame) else list(data)
        out = run_pooled({"glm": self._analysis(start)}, frames, self._dictionary())
        result = out["results"]["glm"]
        result["rounds"] = out["rounds"]["glm"]
        self.results_ = GLMResults(result)
        return self

    def fit_federated(self, paths=None, engine: str = "deployment", coordinator: str | None = None,
                      ca=None, **kwargs) -> "GLM":
        """Federated fit: over hospital files on a one-machine federation (`researcher.run_study`), or
        submitted to a running federation with ``coordinator=HOST:PORT, ca=FILE`` (`researcher.submit_study`;
        ``sign_key=`` signs it for hospitals that ask for signed studies)."""
        from fedcost.researcher import run_study, submit_study

        if coordinator is not None:
            if paths is not None:
                raise UsageError("give either hospital files or coordinator=, not both")
            study = submit_study({"glm": self._analysis("local")}, coordinator, ca, dictionary=self.dictionary,
                                 **kwargs)
        else:
            study = run_study({"glm": self._analysis("local")}, paths, engine=engine, dictionary=self.dictionary,
                              **kwargs)
        self.results_ = GLMResults(study.result_json("glm"))
        self.study_ = study
        return self
