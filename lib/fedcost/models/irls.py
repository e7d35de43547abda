"""The one GLM fitting algorithm, used by the pooled and the federated fit alike.

A round costs seconds in a federation and arithmetic costs milliseconds, so
the path is chosen to spend few rounds (DESIGN.md, "Round budget"):

* gaussian with identity link: one round of X'WX, X'Wz, z'Wz solves it exactly;
* otherwise, start ``local`` (the federated default): each hospital fits its own
  rows to convergence (with this same code, start ``naive``) and sends its
  information H_k and H_k b_k; b0 = (sum H_k)^-1 sum H_k b_k is already close;
* start ``naive`` (the pooled default, as statsmodels): mu0 = (y + mean y)/2
  and one weighted least-squares step;
* then full Newton steps with the observed information (quadratic convergence
  for non-canonical links; it equals Fisher scoring for canonical ones), falling
  back to the expected information where the observed one is not positive
  definite, and halving a step that raised the deviance.

Convergence is R's glm rule: |dev - dev_old| / (|dev| + 0.1) < tol (1e-8),
at most `max_iter` (25) iterations. The standard errors use the expected
information at the final coefficients (as statsmodels' IRLS does) and the
Pearson dispersion for gaussian and gamma.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from fedcost.models import formula as formula_grammar
from fedcost.models import statistics as st
from fedcost.models.design import Design, build_design
from fedcost.errors import DataError, UsageError
from fedcost.models.families import get_family
from fedcost.models.release import check_own_rows, check_release, coefficient_table, records_behind, released
from fedcost.contract import Analysis, Tables, run_prepared, tidy


# Encrypted sums come back with an absolute error of about 1e-7 (CKKS, scale 2^40).
# A deviance change below this floor is noise: it neither signals divergence
# (no step halving) nor keeps the iteration going. The free final Newton step
# still takes the coefficients to the optimum.
NOISE_FLOOR = 1e-6
# CKKS decodes with an absolute error of about 1e-16 times the largest value of
# a ciphertext; a gaussian solution whose estimated relative error from that
# exceeds this bound gets one refinement round on scaled columns.
CKKS_RELATIVE_ERROR = 2e-16
# The contract is 1e-6 (|d beta| <= 1e-6 max(|beta|, SE)). Measured on the
# synthetic data over fresh keys, the estimate (~1.2e-7) runs only 2.5-3x above
# the error seen (~2e-8..5e-8), so it is no bound to lean on: refine unless the
# estimate is ten times inside the contract. A refined fit lands at ~1e-10.
LINEAR_ERROR_MAX = 1e-7
# A hospital's own fit only starts the shared Newton steps, whose b0 sits as far from the pooled optimum as
# the hospitals differ (~1e-2): converging it beyond 1e-5 costs Newton steps (0.13 s each at 330k rows) and
# no shared round (the 1M-row bench takes 4 rounds either way).
LOCAL_TOL = 1e-5


class GLMAnalysis(Analysis):
    """A generalised linear model fitted from summed statistics.

    Parameters: formula (patsy syntax), family, link, weights (a column of prior
    weights, statsmodels' var_weights), offset (a column), start ('local' or
    'naive'), robust (None: hospital-clustered standard errors whenever they
    cost no extra round; True: always; False: never), max_iter, tol.
    """

    kind = "glm"

    def __init__(self, formula: str, family: str = "gaussian", link: str | None = None,
                 weights: str | None = None, offset: str | None = None, start: str = "local",
                 robust: bool | None = None, max_iter: int = 25, tol: float = 1e-8):
        self.family, self.link = get_family(family, link)
        if start not in ("local", "naive"):
            raise UsageError("start must be 'local' or 'naive'")
        formula_grammar.parse(formula)  # fail before any round; each hospital checks again with its fields
        super().__init__(formula=formula, family=family, link=self.link.name, weights=weights, offset=offset,
                         start=start, robust=robust, max_iter=max_iter, tol=tol)
        self.columns_: list[str] | None = None
        self.factor_slices_: dict = {}

    # -- hospital side -------------------------------------------------------------
    def prepare(self, frame, dictionary) -> Design:
        d = build_design(frame, self.params["formula"], dictionary, self.params["weights"], self.params["offset"])
        problem = self.family.check_response(d.y)
        if problem:
            raise DataError(f"formula {self.params['formula']!r}: {problem}")
        if np.any(d.weights < 0) or not np.all(np.isfinite(d.weights)):
            raise DataError("weights must be finite and non-negative")
        self.columns_, self.factor_slices_, self.factor_levels_ = d.columns, d.factor_slices, d.factor_levels
        return d

    @property
    def linear(self) -> bool:
        return self.family.name == "gaussian" and self.link.name == "identity"

    def initial_state(self, sites: int) -> dict:
        phase = "linear" if self.linear else ("local" if self.params["start"] == "local" else "mean")
        return {"phase": phase, "iteration": 0}

    def _layout(self, phase: str, p: int) -> st.Layout:
        m = st.moments_layout(p).slots
        if phase == "mean":
            return st.Layout(m)
        if phase == "linear":
            return st.Layout(m + st.wls_layout(p).slots + (("swz", 1),))
        if phase == "wls0":
            return st.wls_layout(p)
        if phase == "local":
            return st.Layout(m + (("h", "sym", p), ("hb", p)))
        return st.point_layout(p)  # point, robust

    def statistics(self, d: Design, state: dict, site: int = 0) -> np.ndarray:
        phase, p = state["phase"], d.X.shape[1]
        lay = self._layout(phase, p)
        if phase == "mean":
            return lay.pack(**st.moments(d))
        if phase == "linear":
            z = d.y - d.offset
            return lay.pack(**st.moments(d), **st.wls(d.X, z, d.weights), swz=(d.weights * z).sum())
        if phase == "wls0":
            mu0 = self.family.starting_mu(d.y, state["ybar"])
            z, W = st.working_response(d, self.family, self.link, mu0)
            return lay.pack(**st.wls(d.X, z, W))
        if phase == "local":
            h, hb = self._local_information(d)
            return lay.pack(**st.moments(d), h=h, hb=hb)
        scale = np.asarray(state.get("col_scale") or np.ones(p))
        return lay.pack(**st.scale_point(st.glm_point(d, self.family, self.link, np.asarray(state["beta"]),
                                                      _null_mu(state)), scale))

    def _local_information(self, d: Design) -> tuple[np.ndarray, np.ndarray]:
        """This hospital's own fit b_k and information H_k, for the shared start b0."""
        p = d.X.shape[1]
        if d.n == 0:
            return np.zeros((p, p)), np.zeros(p)
        local = GLMAnalysis(**{**self.params, "start": "naive", "robust": False, "tol": LOCAL_TOL})
        local.columns_, local.factor_slices_ = self.columns_, self.factor_slices_
        local.factor_levels_ = getattr(self, "factor_levels_", None)
        try:
            out = run_prepared({"fit": local}, {"fit": [d]}, max_rounds=60)
            beta = np.asarray(out["results"]["fit"]["beta_full"])
        except (DataError, np.linalg.LinAlgError, FloatingPointError):
            beta = None
        if beta is None or not np.all(np.isfinite(beta)):
            return np.zeros((p, p)), np.zeros(p)  # contributes rows to later rounds only
        pt = st.glm_point(d, self.family, self.link, beta, None)
        return pt["h_exp"], pt["h_exp"] @ beta

    # -- shared side: every hospital runs this on the same decrypted sum --------------
    def advance(self, state: dict, total: np.ndarray) -> dict:
        phase = state["phase"]
        p = len(self.columns_)
        s = self._layout(phase, p).unpack(total)
        new = dict(state)
        if "n" in s:
            new.update(_moment_summary(s, self))
            new["kept"], new["dropped"], new["baselines"] = self._kept_columns(s["colsum"], s["n"])
            new["records_behind"] = records_behind(s["colsum"], s["colbin"], s["n"], self.columns_, new["kept"],
                                                   self.factor_slices_, new["baselines"])
            rms = np.sqrt(np.maximum(s["colss"], 0) / max(s["n"], 1))
            new["col_scale"] = np.where(rms > 0, 1 / np.where(rms > 0, rms, 1), 1.0).tolist()
        elif phase in ("point", "robust"):
            s = st.unscale_point(s, np.asarray(state.get("col_scale") or np.ones(p)))
        kept = np.asarray(new.get("kept", [True] * p), dtype=bool)
        if phase == "mean":
            new.update(phase="wls0")
            return new
        if phase == "wls0":
            beta = _solve_kept(s["xtwx"], s["xtwz"], kept, self.columns_)
            new.update(phase="point", beta=beta.tolist(), iteration=1)
            return new
        if phase == "local":
            beta = _solve_kept(s["h"], s["hb"], kept, self.columns_)
            new.update(phase="point", beta=beta.tolist(), iteration=1)
            return new
        if phase == "linear":
            return self._advance_linear(new, s, kept)
        if phase == "robust":
            return self._finish(new, s, kept)
        return self._advance_point(new, s, kept)

    def _advance_linear(self, state, s, kept) -> dict:
        beta = _solve_kept(s["xtwx"], s["xtwz"], kept, self.columns_)
        dev = float(s["ztwz"] - 2 * beta @ s["xtwz"] + beta @ s["xtwx"] @ beta)
        null = float(s["ztwz"] - s["swz"] ** 2 / s["sw"]) if s["sw"] > 0 else float("nan")
        state.update(beta=beta.tolist(), iteration=1, linear_null=null)
        if _linear_error(s, beta, dev, kept, int(kept.sum())) > LINEAR_ERROR_MAX:
            # Badly scaled columns: one refinement round on unit-scaled columns
            # at the residuals of this solution (iterative refinement).
            state.update(phase="point")
            return state
        point = {"U": s["xtwz"] - s["xtwx"] @ beta, "h_obs": s["xtwx"], "h_exp": s["xtwx"], "meat": None,
                 "deviance": max(dev, 0.0), "pearson": max(dev, 0.0), "null_deviance": null}
        return self._linear_done(state, point, kept)

    def _linear_done(self, state, point, kept) -> dict:
        if self.params["robust"]:
            state.update(phase="robust")
            return state
        return self._finish(state, point, kept)

    def _refine_linear(self, state, s, kept) -> dict:
        """A gaussian model's residual round: exact step, deviance by the quadratic identity."""
        step = _newton_step(s["h_obs"], s["h_exp"], s["U"], kept)
        dev = max(float(s["deviance"] - step @ s["U"]), 0.0)
        null = s["null_deviance"] if state.get("null_mu") else state["linear_null"]
        state.update(beta=(np.asarray(state["beta"]) + step).tolist(), iteration=2)
        return self._linear_done(state, dict(s, deviance=dev, pearson=dev, null_deviance=null), kept)

    def _advance_point(self, state, s, kept) -> dict:
        if self.linear:
            return self._refine_linear(state, s, kept)
        dev = s["deviance"]
        beta = np.asarray(state["beta"])
        prev = state.get("dev_prev")
        it = state["iteration"]
        if prev is not None and (not np.isfinite(dev) or dev > prev + max(1e-10 * (abs(prev) + 0.1), NOISE_FLOOR)) \
                and state.get("halvings", 0) < 20:
            beta_prev = np.asarray(state["beta_prev"])
            state.update(beta=((beta + beta_prev) / 2).tolist(), halvings=state.get("halvings", 0) + 1)
            return state
        if not np.isfinite(dev):
            raise DataError("the fit diverged (non-finite deviance); check the formula and the family")
        change = abs(dev - prev) if prev is not None else np.inf
        if change / (abs(dev) + 0.1) < self.params["tol"] or change < NOISE_FLOOR:
            state["converged"] = True
            return self._finish(state, s, kept)
        if it >= self.params["max_iter"]:
            state["converged"] = False
            return self._finish(state, s, kept)
        step = _newton_step(s["h_obs"], s["h_exp"], s["U"], kept)
        state.update(beta_prev=beta.tolist(), beta=(beta + step).tolist(), dev_prev=dev, iteration=it + 1,
                     halvings=0)
        return state

    def _kept_columns(self, colsum: np.ndarray, n: float) -> tuple[list[bool], dict[str, str], dict[str, str]]:
        """Columns estimable from the pooled rows, named as statsmodels would name them.

        A level no hospital observed gives an all-zero column: drop it. If the
        reference level (first in sorted order) was observed nowhere, statsmodels
        on the pooled rows would take the first observed level as reference, so
        drop that level's column too and the names and values match. Returns
        (kept, why each dropped column was dropped, the baseline level of each
        categorical term): a reader must learn which level the ratios compare with.
        """
        kept = colsum > 0.5  # counts: CKKS noise is far below 0.5
        dropped = {c: "no records at any hospital" for c, k in zip(self.columns_, kept) if not k}
        baselines = {}
        levels_of = getattr(self, "factor_levels_", None) or {}
        for term, (lo, hi) in self.factor_slices_.items():
            if not any("[T." in c for c in self.columns_[lo:hi]):
                continue  # full-rank coding (no intercept): no baseline level
            levels = levels_of.get(term) or []
            reference = levels[0] if levels else "the first level"
            baselines[term] = reference
            ref_count = n - colsum[lo:hi].sum()
            if ref_count <= 0.5:
                present = [j for j in range(lo, hi) if colsum[j] > 0.5]
                if present:
                    kept[present[0]] = False
                    baselines[term] = _level_of(self.columns_[present[0]])
                    dropped[self.columns_[present[0]]] = (
                        f"baseline: the reference level {reference} has no records, so "
                        f"{baselines[term]} is the level the others are compared with")
        return kept.tolist(), dropped, baselines

    def _finish(self, state: dict, s: dict, kept: np.ndarray) -> dict:
        cols = [c for c, k in zip(self.columns_, kept) if k]
        beta = np.asarray(state["beta"])
        if not self.linear:
            # The statistics at beta give one more Newton step for free: it takes
            # the coefficients from "deviance converged" to machine precision.
            beta = beta + _newton_step(s["h_obs"], s["h_exp"], s["U"], kept)
        n, pk = state["n"], int(kept.sum())
        df_resid = n - pk
        scale = s["pearson"] / df_resid if self.family.has_dispersion and df_resid > 0 else 1.0
        hk = s["h_exp"][np.ix_(kept, kept)]
        try:
            hinv = np.linalg.inv(hk)
        except np.linalg.LinAlgError:
            raise DataError(f"the information matrix is singular: columns {', '.join(cols)} are collinear") from None
        cov = scale * hinv
        result = {
            "coef": dict(zip(cols, beta[kept].tolist())),
            "se": dict(zip(cols, np.sqrt(np.diag(cov)).tolist())),
            "cov": cov.tolist(),
            "columns": cols,
            "dropped_columns": [c for c, k in zip(self.columns_, kept) if not k],
            "dropped_reasons": dict(state.get("dropped") or {}),
            "baselines": dict(state.get("baselines") or {}),
            "beta_full": beta.tolist(),
            "records_behind": dict(state.get("records_behind") or {}),
            "dispersion": float(scale),
            "deviance": float(s["deviance"]),
            "null_deviance": float(s["null_deviance"]) if state.get("null_mu") or self.linear else None,
            "pearson_chi2": float(s["pearson"]),
            "n": int(round(n)),
            "df_resid": float(df_resid),
            "df_model": pk - 1,
            "hospitals": int(round(state["hospitals"])),
            "iterations": int(state["iteration"]),
            "converged": bool(state.get("converged", self.linear)),
            "family": self.family.name,
            "link": self.link.name,
            "formula": self.params["formula"],
        }
        meat = s.get("meat")
        G = result["hospitals"]
        if meat is not None and G >= 2 and self.params["robust"] is not False:
            # statsmodels' sandwich uses the observed information as the bread
            bread = np.linalg.inv(s["h_obs"][np.ix_(kept, kept)])
            mk = meat[np.ix_(kept, kept)]
            correction = G / (G - 1) * (n - 1) / (n - pk)
            rcov = correction * bread @ mk @ bread
            result["cov_cluster"] = rcov.tolist()
            result["se_cluster"] = dict(zip(cols, np.sqrt(np.diag(rcov)).tolist()))
        state.update(done=True, result=result)
        return state

    def tables(self, name: str, result: dict, labels=None) -> Tables:
        out = Tables()
        out.add("glm_coefficients", tidy(coefficient_table(result).to_dict("list"), analysis=name),
                "Cost model coefficients (log scale for log links) with SE, z, p and 95% CI")
        out.add("models", pd.DataFrame([{
            "analysis": name, **{k: result.get(k) for k in ("formula", "family", "link", "n", "hospitals",
                                                             "dispersion", "deviance", "iterations", "converged")}}]),
            "Fitted cost models: formula, family, n, hospitals, dispersion, deviance, convergence")
        return out

    def check_own_rows(self, block: Design, result: dict, disclosure: dict) -> None:
        check_own_rows(block, self.family, self.link, result, int(disclosure["min_cell_records"]))

    def disclose(self, result: dict, disclosure: dict) -> dict:
        """Release only when enough hospitals and records stand behind the model and each of its terms."""
        check_release(result, disclosure)
        return released(result)


def _moment_summary(s: dict, analysis: GLMAnalysis) -> dict:
    sw, swy = s["sw"], s["swy"]
    ybar = swy / sw if sw > 0 else float("nan")
    offset = analysis.params["offset"]
    null = None
    if not offset:
        null = ["constant", ybar]
    elif analysis.link.name == "log" and analysis.family.name == "gamma" and sw > 0:
        null = ["offset", s["swy_eoff"] / sw]
    elif analysis.link.name == "log" and analysis.family.name == "poisson" and s["sw_eoff"] > 0:
        null = ["offset", swy / s["sw_eoff"]]
    return {"n": s["n"], "hospitals": s["hospitals"], "ybar": ybar, "null_mu": null}


def _linear_error(s: dict, beta: np.ndarray, dev: float, kept: np.ndarray, n_kept: int) -> float:
    """First-order bound on the error CKKS noise puts on a one-round gaussian fit, in contract units.

    The contract (README, "Precision"): |d beta| <= 1e-6 max(|beta|, SE(beta)) and
    |d SE| <= 1e-6 SE, so a coefficient near zero is measured against its SE.
    """
    eps = CKKS_RELATIVE_ERROR * max(float(np.max(np.abs(v))) for v in s.values() if np.size(v))
    a_inv = np.abs(np.linalg.inv(s["xtwx"][np.ix_(kept, kept)]))
    b = beta[kept]
    t = 1.0 + np.abs(b).sum()
    rows = np.sqrt((a_inv ** 2).sum(axis=1))  # errors of random sign add like a 2-norm
    df_resid = max(float(s["n"]) - n_kept, 1.0)
    se = np.sqrt(max(dev, 0.0) / df_resid * np.diag(a_inv))
    coef = eps * t * rows / np.maximum(np.maximum(np.abs(b), se), 1e-300)
    var = eps * rows ** 2 / np.diag(a_inv)
    return float(max(coef.max(), var.max(), eps * t * t / max(dev, 1e-300)))


def _level_of(column: str) -> str:
    """'C(hospital_level)[T.secondary]' -> 'secondary'."""
    inside = column[column.rfind("[") + 1:-1] if column.endswith("]") else column
    return inside[2:] if inside.startswith("T.") else inside


def _null_mu(state):
    return tuple(state["null_mu"]) if state.get("null_mu") else None


def _solve_kept(a: np.ndarray, b: np.ndarray, kept: np.ndarray, columns) -> np.ndarray:
    out = np.zeros(len(b))
    ak = a[np.ix_(kept, kept)]
    try:
        out[kept] = np.linalg.solve(ak, b[kept])
    except np.linalg.LinAlgError:
        names = [c for c, k in zip(columns, kept) if k]
        raise DataError(f"the design is singular (collinear columns among {', '.join(names)})") from None
    if np.linalg.cond(ak) > 1e13:
        raise DataError("the design is numerically singular (collinear columns); simplify the formula")
    return out


def _newton_step(h_obs, h_exp, U, kept) -> np.ndarray:
    step = np.zeros(len(U))
    ho = h_obs[np.ix_(kept, kept)]
    try:
        np.linalg.cholesky(ho)
        h = ho
    except np.linalg.LinAlgError:  # observed information not positive definite far from the optimum
        h = h_exp[np.ix_(kept, kept)]
    step[kept] = np.linalg.solve(h, U[kept])
    return step

