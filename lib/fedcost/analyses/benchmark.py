"""Hospital benchmarking: case-mix adjusted O/E, funnel plot, DRG weights, CMI, cost coefficient.

Two chains of rounds run side by side in one analysis (a plan pays for the
longer one only):

* model chain: the federated Gamma(log) case-mix model (a composed
  `GLMAnalysis`, no hospital terms, so the expected cost is what an average
  hospital would spend on the same cases: Manning & Mullahy 2001 for the
  family), then one ``oe`` round in which each hospital writes, in its own
  site slot, n, observed sum O = sum y, expected sum E = sum mu, sum mu^2 (for
  Var(O) = phi sum mu^2 under the Gamma variance), and sum (y - mu)^2.
* weights chain: per DRG a cost histogram (``w_hist``, also per-hospital n and
  cost in site slots), its refinement at the trim percentiles (``w_refine``,
  the policy's [2.5 %, 97.5 %] by default), the trimmed sums between those
  bounds (``w_trim``), and finally each hospital's sum of relative weights of
  its cases (``w_cmi``). Trimming uses percentiles (not mean +- k SD on the
  log scale) because the policy states percentiles; the bounds are histogram
  quantiles accurate to the reported sub-bin width, and the trimmed mean is
  exact given the released bounds.

Definitions (stated in the result):

* O/E = sum y / sum mu per hospital; SE under the null s = sqrt(phi sum mu^2) / E
  (phi the model's Pearson dispersion), 95 % interval O/E +- 1.96 s.
* Funnel plot (Spiegelhalter 2005, Stat Med 24:1185): target 1, precision
  1/s^2 on x; z = (O/E - 1)/s; over-dispersion phi_hat = mean of the squared
  z-scores winsorised at 10 % each side; when phi_hat > 1 the additive random
  effects tau^2 = max(0, (I phi_hat - (I - 1)) / (sum w - sum w^2 / sum w)),
  w = 1/s^2, widens every limit to 1 +- z_a sqrt(s^2 + tau^2) (95 % and
  99.8 %). With few hospitals the estimate is weak: the result says so.
* DRG relative weight = trimmed mean cost of the group / trimmed mean cost of
  all cases (each group trimmed at its own percentiles; all cases = the
  union of the groups' kept cases). Case-mix index = mean weight of a
  hospital's cases; cost per weighted case = cost / sum of weights.
* Cost difference coefficient = hospital per-case cost / per-case cost of
  the whole federation (the region the study covers), flagged outside the
  policy band [0.8, 1.2]; the case-mix adjusted coefficient uses cost per
  weighted case instead. CV across hospitals = SD / mean of the hospitals'
  per-case costs (unweighted, ddof 1).

Hospitals are released as 'Hospital A', 'B', ... in an order keyed by the
decrypted sums (the coordinator, which never sees them, cannot map letters to
connections), or as their own labels when the policy says name_hospitals.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from fedcost.analyses import common as cm, consent
from fedcost.analyses.funnel import Z95, Z998, adjusted_se, flag as oe_flag, funnel_statistics
from fedcost.contract import Analysis, Tables, tidy
from fedcost.errors import UsageError
from fedcost.models.irls import GLMAnalysis
from fedcost.models.release import check_release, released

DEFAULT_FORMULA = ("cost_total ~ age + los + comorbidity_score + C(drg_code) + C(sex) + C(admission_type)")
FUNNEL_COLUMNS = ["hospital", "n", "observed_mean", "expected_mean", "oe", "se", "oe_lower95", "oe_upper95",
                  "precision", "z", "z_adjusted", "limit95_lower", "limit95_upper", "limit998_lower",
                  "limit998_upper", "funnel_flag"]
# The columns of each per-hospital indicator group (policy.PER_HOSPITAL) a hospital may withhold.
WITHHOLDABLE = {
    "oe": ["observed_mean", "expected_mean", "oe", "se", "oe_lower95", "oe_upper95", "precision", "z", "z_adjusted",
           "limit95_lower", "limit95_upper", "limit998_lower", "limit998_upper", "funnel_flag"],
    "cmi": ["cmi", "cost_per_weighted_case", "adjusted_coefficient", "adjusted_coefficient_flag"],
    # what else one hospital's withholding blanks (its other groups, a complement): see analyses.consent
    "per_case_cost": ["per_case_cost", "cost_coefficient", "cost_coefficient_flag"],
}
COST_COLUMNS = ["hospital", "n", "per_case_cost", "cmi", "cost_per_weighted_case", "cost_coefficient",
                "cost_coefficient_flag", "adjusted_coefficient", "adjusted_coefficient_flag"]


def _spread(table: dict) -> dict:
    """CV of the per-case cost and of the cost per weighted case, and hospitals outside the band,
    over the hospitals whose values are shown (a blanked value is None)."""
    def cv(values):
        x = np.array([v for v in values if v is not None], dtype=float)
        return float(x.std(ddof=1) / x.mean()) if x.size > 1 else None

    flags = [f for f in table["cost_coefficient_flag"] if f is not None]
    return {"cv_across_hospitals": cv(table["per_case_cost"]), "cv_adjusted": cv(table["cost_per_weighted_case"]),
            "outside_band": int(sum(f != "within" for f in flags)), "hospitals_shown": len(flags),
            "hospitals_shown_adjusted": sum(v is not None for v in table["cost_per_weighted_case"])}


class BenchmarkAnalysis(Analysis):
    """O/E funnel, DRG relative weights, CMI and cost coefficients (see the module docstring)."""

    kind = "benchmark"

    def __init__(self, formula: str = DEFAULT_FORMULA, family: str = "gamma", link: str | None = "log",
                 cost: str = "cost_total", group: str = "drg_code", trim=(0.025, 0.975), band=(0.8, 1.2),
                 overdispersion: str = "random", max_iter: int = 25):
        if overdispersion not in ("random", "multiplicative", "none"):
            raise UsageError("overdispersion must be 'random', 'multiplicative' or 'none'")
        trim = [float(t) for t in trim]
        if not (len(trim) == 2 and 0 <= trim[0] < trim[1] <= 1):
            raise UsageError("trim must be two percentiles 0 <= lo < hi <= 1")
        super().__init__(formula=formula, family=family, link=link, cost=cost, group=group, trim=trim,
                         band=[float(b) for b in band], overdispersion=overdispersion, max_iter=max_iter)
        # not an attribute ending in "_": the hospital caches those (pickled) between rounds,
        # and a GLMAnalysis holds unpicklable link functions; its fitted columns are kept instead
        self.glm = GLMAnalysis(formula, family, link, start="local", robust=False, max_iter=max_iter)
        self.model_columns_: list[str] | None = None
        self.model_factor_slices_: dict = {}
        self.model_factor_levels_: dict | None = None
        self.edges_ = cm.cost_edges()
        self.levels_: list[str] = []

    # -- hospital side --------------------------------------------------------------------
    def prepare(self, frame: pd.DataFrame, dictionary):
        d = cm.dictionary_or_default(dictionary)
        design = self.glm.prepare(frame, d)
        self.model_columns_, self.model_factor_slices_ = self.glm.columns_, self.glm.factor_slices_
        self.model_factor_levels_ = self.glm.factor_levels_
        self.levels_ = d.levels(self.params["group"])
        cost = cm.as_float(frame, self.params["cost"])
        codes = cm.group_codes(frame, self.params["group"], self.levels_, "quarter", "")
        keep = np.isfinite(cost) & (cost >= 0) & (codes >= 0)
        cost, codes = cost[keep], codes[keep]
        return {"design": design, "cost": cost, "codes": codes, "bins": cm.bin_index(cost, self.edges_),
                "n": int(keep.sum())}

    def records(self, block) -> int:
        return int(min(block["n"], block["design"].n))

    def initial_state(self, sites: int) -> dict:
        return {"model": self.glm.initial_state(sites), "oe": None, "w": {"phase": "w_hist"}, "sites": int(sites)}

    @property
    def model_(self) -> GLMAnalysis:
        """The composed GLM with this hospital's design columns (restored from the cached attributes).

        Every fitted attribute the GLM's steps read must come back here: a hospital whose block came from its
        cache would otherwise name the baseline levels differently from one that had just built it, and the
        hospitals' steps would disagree (factor_levels_ was missing: 'the first level' against 'BR21').
        """
        self.glm.columns_, self.glm.factor_slices_ = self.model_columns_, self.model_factor_slices_
        self.glm.factor_levels_ = self.model_factor_levels_
        return self.glm

    def _parts(self, state) -> list[tuple[str, int]]:
        """Running parts of this round and their vector sizes (from the state alone)."""
        parts, sites = [], int(state["sites"])
        L, S, B = len(self.levels_), cm.SUB_BINS, len(self.edges_) - 1
        if not state["model"].get("done"):
            p = len(self.model_.columns_)
            parts.append(("model", self.model_._layout(state["model"]["phase"], p).size))
        elif state["oe"] is None:
            parts.append(("oe", 5 * sites))
        w = state["w"]["phase"]
        if w == "w_hist":
            parts.append(("w", L * (3 + B) + 2 * sites))
        elif w == "w_refine":
            parts.append(("w", L * 4 * S))
        elif w == "w_trim":
            parts.append(("w", 2 * L))
        elif w == "w_cmi":
            parts.append(("w", 2 * sites))
        return parts

    def statistics(self, block, state: dict, site: int) -> np.ndarray:
        out = []
        i, k = int(site), int(state["sites"])
        for name, size in self._parts(state):
            if name == "model":
                v = self.model_.statistics(block["design"], state["model"], site)
            elif name == "oe":
                v = np.zeros((k, 5))
                d = block["design"]
                beta = np.asarray(state["model"]["result"]["beta_full"])
                mu = self.model_.link.inverse(d.X @ beta + d.offset)
                v[i] = [d.n, d.y.sum(), mu.sum(), (mu * mu).sum(), ((d.y - mu) ** 2).sum()]
                v = v.ravel()
            else:
                v = self._w_stats(block, state["w"], i, k)
            assert v.size == size, (name, v.size, size)
            out.append(np.asarray(v, dtype=float))
        return np.concatenate(out)

    def _w_stats(self, block, w: dict, i: int, k: int) -> np.ndarray:
        L, S, B = len(self.levels_), cm.SUB_BINS, len(self.edges_) - 1
        codes, cost = block["codes"], block["cost"]
        phase = w["phase"]
        if phase == "w_hist":
            n = np.bincount(codes, minlength=L).astype(float)
            head = np.stack([n, (n > 0).astype(float), np.bincount(codes, weights=cost, minlength=L)], axis=1)
            hist = np.bincount(codes * B + block["bins"], minlength=L * B).reshape(L, B).astype(float)
            site = np.zeros((k, 2))
            site[i] = [block["n"], cost.sum()]
            return np.concatenate([np.concatenate([head, hist], axis=1).ravel(), site.ravel()])
        if phase == "w_refine":
            out = np.zeros((L, 4 * S))
            for t, tb in enumerate(w["targets"]):  # 4 lists over groups: (lo-rank, hi-rank) x 2 percentiles
                tb = np.asarray(tb, dtype=np.int64)
                sel = tb[codes] == block["bins"]
                if sel.any():
                    s = cm.sub_bin(cost[sel], self.edges_, tb[codes[sel]])
                    out[:, t * S:(t + 1) * S] += np.bincount(codes[sel] * S + s, minlength=L * S).reshape(L, S)
            return out.ravel()
        if phase == "w_trim":
            lo = np.array([cm.num(x) for x in w["lower"]])[codes]
            hi = np.array([cm.num(x) for x in w["upper"]])[codes]
            kept = (cost >= lo) & (cost <= hi)
            return np.stack([np.bincount(codes[kept], minlength=L),
                             np.bincount(codes[kept], weights=cost[kept], minlength=L)], axis=1).ravel()
        # w_cmi
        weights = np.array([cm.num(x) for x in w["weights"]])[codes]
        site = np.zeros((k, 2))
        site[i] = [np.nansum(weights), np.isfinite(weights).sum()]
        return site.ravel()

    # -- shared side ------------------------------------------------------------------------
    def advance(self, state: dict, total: np.ndarray) -> dict:
        parts = self._parts(state)
        pieces = cm.Parallel.split(total, [s for _, s in parts])
        new = dict(state)
        for (name, _), v in zip(parts, pieces):
            if name == "model":
                new["model"] = self.model_.advance(state["model"], v)
            elif name == "oe":
                new["oe"] = v.tolist()
            else:
                new["w"] = self._w_advance(state["w"], v)
        if new["model"].get("done") and new["oe"] is not None and new["w"]["phase"] == "done":
            new["result"] = self._result(new)
            new["done"] = True
        return new

    def _w_advance(self, w: dict, v: np.ndarray) -> dict:
        L, S, B = len(self.levels_), cm.SUB_BINS, len(self.edges_) - 1
        phase = w["phase"]
        if phase == "w_hist":
            m = v[:L * (3 + B)].reshape(L, 3 + B)
            site = v[L * (3 + B):].reshape(-1, 2)
            n = np.round(m[:, 0])
            hist = np.round(m[:, 3:])
            targets, ranks = [], []
            for q in self.params["trim"]:
                for side in (0, 1):
                    tb, rk = [], []
                    for g in range(L):
                        if n[g] <= 0:
                            tb.append(-1)
                            rk.append(-1)
                            continue
                        r = cm.quantile_ranks(int(n[g]), q)[side]
                        j, rin = cm.bin_of_rank(hist[g], r)
                        tb.append(j)
                        rk.append(rin)
                    targets.append(tb)
                    ranks.append(rk)
            return {"phase": "w_refine", "n": n.tolist(), "hospitals": np.round(m[:, 1]).tolist(),
                    "sum_cost": m[:, 2].tolist(), "site_n": np.round(site[:, 0]).tolist(),
                    "site_cost": site[:, 1].tolist(), "targets": targets, "ranks": ranks}
        if phase == "w_refine":
            m = np.round(v.reshape(L, 4, S))
            lower, upper, acc = [], [], []
            for g in range(L):
                n = int(w["n"][g])
                if n <= 0:
                    lower.append(None)
                    upper.append(None)
                    acc.append(None)
                    continue
                vals, width = [], 0.0
                for qi, q in enumerate(self.params["trim"]):
                    est = []
                    for side in (0, 1):
                        t = 2 * qi + side
                        e = cm.sub_edges(self.edges_, w["targets"][t][g])
                        val, wd = cm.value_of_rank(m[g, t], e, w["ranks"][t][g])
                        est.append(val)
                        width = max(width, wd)
                    frac = cm.quantile_ranks(n, q)[2]
                    vals.append(est[0] + frac * (est[1] - est[0]))
                lower.append(vals[0])
                upper.append(vals[1])
                acc.append(width)
            out = {k: w[k] for k in ("n", "hospitals", "sum_cost", "site_n", "site_cost")}
            out.update(phase="w_trim", lower=lower, upper=upper, bound_accuracy=acc)
            return out
        if phase == "w_trim":
            m = v.reshape(L, 2)
            nt = np.round(m[:, 0])
            st = m[:, 1]
            overall = st.sum() / nt.sum() if nt.sum() > 0 else float("nan")
            with np.errstate(invalid="ignore", divide="ignore"):
                tmean = np.where(nt > 0, st / nt, np.nan)
            weights = tmean / overall
            out = dict(w)
            out.update(phase="w_cmi", n_trimmed=nt.tolist(), trimmed_mean=[cm.nan_to_none(float(x)) for x in tmean],
                       weights=[cm.nan_to_none(float(x)) for x in weights], overall_trimmed_mean=float(overall))
            return out
        site = v.reshape(-1, 2)
        out = dict(w)
        out.update(phase="done", site_weight_sum=site[:, 0].tolist())
        return out

    def _result(self, state: dict) -> dict:
        model = state["model"]["result"]
        w = state["w"]
        oe = np.asarray(state["oe"]).reshape(-1, 5)
        present = [i for i in range(oe.shape[0]) if round(oe[i, 0]) > 0]
        phi = float(model["dispersion"])
        n = np.round(oe[present, 0])
        O, E, mu2 = oe[present, 1], oe[present, 2], oe[present, 3]
        ratio = O / E
        s = np.sqrt(phi * mu2) / E
        columns, curve, funnel = self._funnel(ratio, s, n, O, E)
        I = len(present)
        # weights chain per hospital
        site_n = np.asarray(w["site_n"])[present]
        site_cost = np.asarray(w["site_cost"])[present]
        wsum = np.asarray(w["site_weight_sum"]).reshape(-1)[present]
        per_case = site_cost / site_n
        overall = float(np.sum(w["site_cost"]) / np.sum(w["site_n"]))
        cpwc = site_cost / wsum
        overall_cpwc = float(np.sum(w["site_cost"]) / np.sum(w["site_weight_sum"]))
        coef = per_case / overall
        adj = cpwc / overall_cpwc
        lo_b, hi_b = self.params["band"]

        def flag(x):
            return "high" if x > hi_b else ("low" if x < lo_b else "within")

        hospitals = {
            "site": present,
            "n": [int(x) for x in n],
            **columns,
            "per_case_cost": per_case.tolist(), "cmi": (wsum / site_n).tolist(),
            "cost_per_weighted_case": cpwc.tolist(),
            "cost_coefficient": coef.tolist(), "cost_coefficient_flag": [flag(x) for x in coef],
            "adjusted_coefficient": adj.tolist(), "adjusted_coefficient_flag": [flag(x) for x in adj],
        }
        drg = {
            self.params["group"]: list(self.levels_) + [cm.ALL],
            "n": [int(x) for x in w["n"]] + [int(np.sum(w["n"]))],
            "hospitals": [int(x) for x in w["hospitals"]] + [int(len(present))],
            "mean_cost": [cm.nan_to_none(c / nn) if nn > 0 else None for c, nn in zip(w["sum_cost"], w["n"])]
            + [float(np.sum(w["sum_cost"]) / np.sum(w["n"]))],
            "trim_lower": w["lower"] + [None], "trim_upper": w["upper"] + [None],
            "trim_bound_accuracy": w["bound_accuracy"] + [None],
            "n_trimmed": [int(x) for x in w["n_trimmed"]] + [int(np.sum(w["n_trimmed"]))],
            "trimmed_mean": w["trimmed_mean"] + [w["overall_trimmed_mean"]],
            "relative_weight": w["weights"] + [1.0],
        }
        return {
            "hospitals_table": hospitals,
            "funnel_curve": curve,
            "drg_weights": drg,
            "secret": cm.secret_of(oe),
            "model": {k: model[k] for k in ("coef", "se", "dispersion", "deviance", "n", "hospitals", "iterations",
                                            "converged", "family", "link", "formula", "columns", "records_behind",
                                            "cov", "beta_full")},
            "funnel": funnel,
            "cost_coefficient": {"reference_per_case_cost": overall, "band": [lo_b, hi_b],
                                 **_spread(hospitals),
                                 "overall_cmi": float(np.sum(w["site_weight_sum"]) / np.sum(w["site_n"])),
                                 "overall_cost_per_weighted_case": overall_cpwc},
            "trim": {"percentiles": self.params["trim"], "method": "federated histogram percentiles per group"},
            "n": int(np.sum(w["n"])),
            "method": ("O/E from a federated Gamma(log) case-mix model without hospital terms; funnel per "
                       "Spiegelhalter (2005) with 10% winsorised over-dispersion and additive random effects; "
                       "DRG weights from trimmed means at the policy percentiles; CMI = mean weight of a "
                       "hospital's cases; cost coefficient relative to the federation's per-case cost."
                       + (" Few hospitals: the over-dispersion estimate is imprecise." if I < 10 else "")),
        }

    def _funnel(self, ratio, s, n, O, E) -> tuple[dict, dict, dict]:
        """The funnel columns per hospital, the limit curve and the summary, over the hospitals given."""
        mode = self.params["overdispersion"]
        f = funnel_statistics(ratio, s, mode)
        sd = f["sd_adjusted"]
        columns = {
            "observed_mean": (O / n).tolist(), "expected_mean": (E / n).tolist(),
            "oe": ratio.tolist(), "se": s.tolist(),
            "oe_lower95": (ratio - Z95 * s).tolist(), "oe_upper95": (ratio + Z95 * s).tolist(),
            "precision": (1 / s ** 2).tolist(), "z": f["z"].tolist(), "z_adjusted": f["z_adjusted"].tolist(),
            "limit95_lower": (1 - Z95 * sd).tolist(), "limit95_upper": (1 + Z95 * sd).tolist(),
            "limit998_lower": (1 - Z998 * sd).tolist(), "limit998_upper": (1 + Z998 * sd).tolist(),
            "funnel_flag": [oe_flag(x) for x in f["z_adjusted"]],
        }
        curve = {k: [] for k in ("precision", "lower95", "upper95", "lower998", "upper998")}
        if len(ratio):
            grid = np.geomspace(float(np.min(1 / s ** 2)) * 0.5, float(np.max(1 / s ** 2)) * 1.5, 60)
            sga = adjusted_se(1 / np.sqrt(grid), mode if f["applied"] else "none", f["tau2"], f["phi_hat"])
            curve = {"precision": grid.tolist(), "lower95": (1 - Z95 * sga).tolist(),
                     "upper95": (1 + Z95 * sga).tolist(), "lower998": (1 - Z998 * sga).tolist(),
                     "upper998": (1 + Z998 * sga).tolist()}
        summary = {"target": 1.0, "phi_hat": f["phi_hat"], "tau2": float(f["tau2"]),
                   "overdispersion_applied": bool(f["applied"]), "overdispersion_mode": mode,
                   "overdispersion_p": f["p_overdispersion"], "winsorised_each_side": f["k"],
                   "hospitals": len(ratio), "pooled_oe": float(O.sum() / E.sum()) if len(ratio) else None,
                   "z95": Z95, "z998": Z998}
        return columns, curve, summary

    def tables(self, name: str, result: dict, labels=None) -> Tables:
        out = self.glm.tables(name, result["model"])
        h = pd.DataFrame(result["hospitals_table"])
        h["hospital"] = [cm.site_label(labels, v) for v in h["hospital"]]
        out.add("funnel", tidy(h[FUNNEL_COLUMNS].to_dict("list"), analysis=name),
                "Per hospital (pseudonymised) observed/expected cost ratio with 95% CI and funnel limits")
        out.add("funnel_curve", tidy(result["funnel_curve"], analysis=name),
                "Funnel-plot control limits (95%, 99.8%, over-dispersion adjusted) against precision")
        out.add("hospital_costs", tidy(h[COST_COLUMNS].to_dict("list"), analysis=name),
                "Per hospital (pseudonymised): per-case cost, case-mix index, cost coefficient and band flags")
        out.add("drg_weights", tidy(result["drg_weights"], analysis=name),
                "DRG relative weights from trimmed mean costs (small groups suppressed)")
        cc = result["cost_coefficient"]
        out.kpi("cost_cv_across_hospitals", cc["cv_across_hospitals"], "ratio", name,
                "coefficient of variation of hospitals' per-case cost")
        out.kpi("hospitals_outside_band", cc["outside_band"], "hospitals", name,
                f"hospitals with cost coefficient outside {cc['band'][0]}-{cc['band'][1]}")
        flagged = h["funnel_flag"].notna() & (h["funnel_flag"] != "within")  # a withheld O/E is no outlier
        out.kpi("funnel_outliers", int(flagged.sum()), "hospitals", name,
                "hospitals outside the 95% funnel limits (over-dispersion adjusted)")
        out.kpi("overdispersion_phi", result["funnel"]["phi_hat"], "ratio", name, "winsorised over-dispersion estimate")
        return out

    def check_own_rows(self, block, result: dict, disclosure: dict) -> None:
        self.model_.check_own_rows(block["design"], result["model"], disclosure)

    def disclose(self, result: dict, disclosure: dict) -> dict:
        """Pseudonymise hospitals, require min_hospitals, suppress small DRG groups (n or hospitals)."""
        from fedcost.analyses.suppression import suppress_table

        check_release({**result["model"], "hospitals": len(result["hospitals_table"]["site"])}, disclosure)
        out = dict(result, model=released(result["model"]))
        labels = cm.pseudonyms(max(result["hospitals_table"]["site"]) + 1, result["hospitals_table"]["site"],
                               out.pop("secret"), bool(disclosure.get("name_hospitals")))
        table = {k: list(v) for k, v in result["hospitals_table"].items()}
        blank = consent.blanked(table["site"], table["n"], disclosure.get("withheld"))
        for group, slots in blank.items():
            for row, site in enumerate(table["site"]):
                if site in slots:
                    for column in WITHHOLDABLE[group]:
                        table[column][row] = None
        if blank["oe"]:  # the funnel over the hospitals shown: its phi and limits are functions of every O/E
            rows = [r for r, site in enumerate(table["site"]) if site not in blank["oe"]]
            n = np.array([table["n"][r] for r in rows], dtype=float)
            ratio, se = (np.array([table[c][r] for r in rows], dtype=float) for c in ("oe", "se"))
            O, E = (np.array([table[c][r] for r in rows], dtype=float) * n for c in ("observed_mean", "expected_mean"))
            columns, out["funnel_curve"], out["funnel"] = self._funnel(ratio, se, n, O, E)
            for column, values in columns.items():
                for r, v in zip(rows, values):
                    table[column][r] = v
        out["cost_coefficient"] = {**result["cost_coefficient"], **_spread(table)}
        sites = table.pop("site")
        table = {"hospital": [labels[i] for i in sites], **table}
        order = np.argsort(table["hospital"], kind="stable")
        out["hospitals_table"] = {k: [v[j] for j in order] for k, v in table.items()}
        drg = {"by": [self.params["group"]], "table": result["drg_weights"]}
        grid = cm.Grid([self.params["group"]], [list(result["drg_weights"][self.params["group"]][:-1])])
        out["drg_weights"] = suppress_table(drg, grid, disclosure)["table"]
        out["pseudonyms"] = "names" if disclosure.get("name_hospitals") else "keyed letters"
        return out
