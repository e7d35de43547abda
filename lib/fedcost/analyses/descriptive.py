"""Descriptive cost tables by one or two groupings, from federated sums only.

Per cell (with row/column margins 'All' and the grand total): records, the
number of contributing hospitals, mean and SD of the per-case cost and of the
length of stay, cost-structure shares (sum of a component / sum of the total
cost, the way 药占比 and 耗占比 are defined, not a mean of per-case shares) and
the median and 90th percentile of the cost.

Rounds (all sums over rows, so hospitals' vectors add up):

1. ``scan`` (only when grouped by period): records per discharge year over
   the dictionary's date range, so that every hospital builds the same list
   of periods (the contiguous years from the first to the last observed).
2. ``moments``: per cell n, hospitals (each hospital adds 1 where it has
   records), sums of cost, LOS and components, and a histogram of cost over
   fixed log-spaced bins (10 per decade, the same at every hospital).
3. ``refine``: per cell the sums of squared deviations from the now known
   means (an exact two-pass SD, free of the cancellation of sum-of-squares
   formulas) and, for each wanted quantile, counts in SUB_BINS equal parts of
   the bin holding each of the two order statistics pandas interpolates
   between. A quantile is then known to within the width of its sub-bin
   (reported per cell as ``quantile_accuracy``: the true pandas value lies
   within that many yuan of the released one; about 0.8 % of the value).

Suppression happens in `disclose`, at the hospitals, before anything leaves:
see `fedcost.analyses.suppression`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from fedcost.analyses import common as cm
from fedcost.analyses.suppression import suppress_table
from fedcost.errors import DisclosureError, UsageError
from fedcost.contract import Analysis, Tables


class Block:
    """A hospital's rows reduced to what the tables need (kept between rounds)."""

    def __init__(self, n, codes, years, cost, los, comps, bins):
        self.n, self.codes, self.years, self.cost, self.los, self.comps, self.bins = \
            n, codes, years, cost, los, comps, bins


class DescriptiveAnalysis(Analysis):
    """Counts, means, SDs, shares and quantiles by up to two groupings (see the module docstring).

    Parameters: by (column or list of up to two: category columns of the
    dictionary or 'period'), period ('quarter' -> '2023Q1', or 'year'),
    date_column (discharge_date), cost (cost_total), los (los), components
    (cost component columns for the shares), quantiles ([0.5, 0.9]), sd (True).
    """

    kind = "descriptive"

    def __init__(self, by=None, period: str = "quarter", date_column: str = "discharge_date",
                 cost: str = "cost_total", los: str | None = "los", components=cm.DEFAULT_COMPONENTS,
                 quantiles=(0.5, 0.9), sd: bool = True):
        by = [by] if isinstance(by, str) else list(by or [])
        if len(by) > 2:
            raise UsageError("a descriptive table is grouped by one or two columns")
        if period not in ("quarter", "year"):
            raise UsageError("period must be 'quarter' or 'year'")
        qs = [float(q) for q in (quantiles or [])]
        if any(not 0 < q < 1 for q in qs):
            raise UsageError("quantiles must lie strictly between 0 and 1")
        super().__init__(by=by, period=period, date_column=date_column, cost=cost, los=los,
                         components=list(components or []), quantiles=qs, sd=bool(sd))
        self.edges_ = cm.cost_edges()
        self.levels_: dict[str, list[str]] = {}
        self.years_: tuple[int, int] | None = None

    # -- hospital side ----------------------------------------------------------------
    def prepare(self, frame: pd.DataFrame, dictionary) -> Block:
        d = cm.dictionary_or_default(dictionary)
        p = self.params
        by = cm.check_by(p["by"], d)
        self.levels_ = {c: d.levels(c) for c in by if c != cm.PERIOD}
        cost = cm.as_float(frame, p["cost"])
        los = cm.as_float(frame, p["los"]) if p["los"] else np.zeros(len(frame))
        comps = np.column_stack([cm.as_float(frame, c) for c in p["components"]]) if p["components"] \
            else np.zeros((len(frame), 0))
        keep = np.isfinite(cost) & np.isfinite(los) & np.all(np.isfinite(comps), axis=1) & (cost >= 0)
        years = None
        if cm.PERIOD in by:
            self.years_ = cm.year_range(d, p["date_column"])
            dates = pd.to_datetime(frame[p["date_column"]], errors="coerce")
            keep &= dates.notna().to_numpy()
            years = dates.dt.year.to_numpy(dtype=float, na_value=np.nan)[keep].astype(int)
        codes = {}
        f = frame.loc[keep].reset_index(drop=True)
        for c in by:
            if c != cm.PERIOD:
                codes[c] = cm.group_codes(f, c, self.levels_[c], p["period"], p["date_column"])
        if cm.PERIOD in by:
            codes[cm.PERIOD] = cm.period_labels(f[p["date_column"]], p["period"]).to_numpy(dtype=object)
        cost, los, comps = cost[keep], los[keep], comps[keep]
        return Block(int(keep.sum()), codes, years, cost, los, comps, cm.bin_index(cost, self.edges_))

    def records(self, block) -> int:
        return int(block.n)

    def initial_state(self, sites: int) -> dict:
        if cm.PERIOD in self.params["by"]:
            return {"phase": "scan"}
        return {"phase": "moments", "levels": self._levels(None)}

    def _levels(self, periods) -> list[list[str]]:
        return [periods if c == cm.PERIOD else self.levels_[c] for c in self.params["by"]]

    def grid(self, state) -> cm.Grid:
        return cm.Grid(self.params["by"], state["levels"])

    def _cells(self, block: Block, grid: cm.Grid) -> np.ndarray:
        codes = []
        for c, lv in zip(self.params["by"], grid.levels):
            if c == cm.PERIOD:
                lab = block.codes[c]
                pos = {v: i for i, v in enumerate(lv)}
                codes.append(np.array([pos.get(v, -1) if isinstance(v, str) else -1 for v in lab], dtype=np.int64))
            else:
                codes.append(block.codes[c])
        return grid.row_cells(codes, block.n)

    @property
    def n_bins(self) -> int:
        """Histogram bins per cell (none when no quantile is wanted)."""
        return len(self.edges_) - 1 if self.params["quantiles"] else 0

    def size(self, state) -> int:
        """Length of this round's statistics vector (known from the state alone)."""
        phase = state["phase"]
        if phase == "scan":
            lo, hi = self.years_
            return hi - lo + 1
        g = self.grid(state)
        k = len(self.params["components"])
        if phase == "moments":
            return g.size * (4 + k + self.n_bins)
        return g.size * (2 + 2 * len(self.params["quantiles"]) * cm.SUB_BINS)

    def statistics(self, block: Block, state: dict, site: int = 0) -> np.ndarray:
        phase = state["phase"]
        if phase == "scan":
            lo, hi = self.years_
            y = np.clip(block.years - lo, 0, hi - lo)
            return np.bincount(y, minlength=hi - lo + 1).astype(float)
        g = self.grid(state)
        cells = self._cells(block, g)
        if phase == "moments":
            n = cm.cell_sums(cells, np.ones(block.n), g.size)
            parts = [n, (n > 0).astype(float), cm.cell_sums(cells, block.cost, g.size),
                     cm.cell_sums(cells, block.los, g.size)]
            parts += [cm.cell_sums(cells, block.comps[:, j], g.size) for j in range(block.comps.shape[1])]
            hist = cm.cell_bin_counts(cells, block.bins, self.n_bins, g.size).reshape(g.size, self.n_bins) \
                if self.n_bins else np.zeros((g.size, 0))
            return np.concatenate([np.stack(parts, axis=1), hist], axis=1).ravel()
        # refine
        mean_c = np.array([cm.num(x) for x in state["mean_cost"]])
        mean_l = np.array([cm.num(x) for x in state["mean_los"]])
        out = np.zeros((g.size, 2 + 2 * len(self.params["quantiles"]) * cm.SUB_BINS))
        k = cells.shape[1]
        for col in range(k):
            c = cells[:, col]
            ok = c >= 0
            cc = c[ok]
            mc, ml = np.nan_to_num(mean_c[cc]), np.nan_to_num(mean_l[cc])
            # deviations in units of the cell mean: slots of order n keep the CKKS error small
            uc, ul = _unit(mc), _unit(ml)
            out[:, 0] += np.bincount(cc, weights=((block.cost[ok] - mc) / uc) ** 2, minlength=g.size)
            out[:, 1] += np.bincount(cc, weights=((block.los[ok] - ml) / ul) ** 2, minlength=g.size)
        targets = state["targets"]  # per quantile, per rank (lo, hi): list over cells of bin (or -1)
        slot = 2
        for tq in targets:
            for tr in tq:
                tb = np.asarray(tr, dtype=np.int64)
                for col in range(k):
                    c = cells[:, col]
                    rows = np.nonzero(c >= 0)[0]
                    cc = c[rows]
                    sel = tb[cc] == block.bins[rows]
                    rows, cc = rows[sel], cc[sel]
                    if not len(rows):
                        continue
                    s = cm.sub_bin(block.cost[rows], self.edges_, tb[cc])
                    out[:, slot:slot + cm.SUB_BINS] += np.bincount(
                        cc * cm.SUB_BINS + s, minlength=g.size * cm.SUB_BINS).reshape(g.size, cm.SUB_BINS)
                slot += cm.SUB_BINS
        return out.ravel()

    # -- shared side ----------------------------------------------------------------------
    def advance(self, state: dict, total: np.ndarray) -> dict:
        phase = state["phase"]
        total = np.asarray(total, dtype=float)
        if phase == "scan":
            lo, _ = self.years_
            years = [lo + i for i, v in enumerate(total) if round(v) > 0]
            return {"phase": "moments", "levels": self._levels(cm.period_levels(years, self.params["period"]))}
        g = self.grid(state)
        if phase == "moments":
            k = len(self.params["components"])
            m = total.reshape(g.size, 4 + k + self.n_bins)
            n = np.round(m[:, 0])
            hosp = np.round(m[:, 1])
            with np.errstate(invalid="ignore", divide="ignore"):
                mean_cost = np.where(n > 0, m[:, 2] / n, np.nan)
                mean_los = np.where(n > 0, m[:, 3] / n, np.nan)
            hist = np.round(m[:, 4 + k:])
            new = {"phase": "refine", "levels": state["levels"], "n": n.tolist(), "hospitals": hosp.tolist(),
                   "sum_cost": m[:, 2].tolist(), "sum_los": m[:, 3].tolist(),
                   "sum_components": m[:, 4:4 + k].tolist(),
                   "mean_cost": [cm.nan_to_none(float(x)) for x in mean_cost],
                   "mean_los": [cm.nan_to_none(float(x)) for x in mean_los]}
            targets, ranks = [], []
            for q in self.params["quantiles"]:
                tq, rq = [[], []], [[], []]
                for cell in range(g.size):
                    if n[cell] <= 0:
                        for i in (0, 1):
                            tq[i].append(-1)
                            rq[i].append(-1)
                        continue
                    lo, hi, _ = cm.quantile_ranks(int(n[cell]), q)
                    for i, r in enumerate((lo, hi)):
                        j, rin = cm.bin_of_rank(hist[cell], r)
                        tq[i].append(j)
                        rq[i].append(rin)
                targets.append(tq)
                ranks.append(rq)
            new["targets"], new["ranks"] = targets, ranks
            if not self.params["quantiles"] and not self.params["sd"]:
                return self._finish(new, None)
            return new
        m = total.reshape(g.size, -1).copy()
        m[:, 0] *= _unit(np.array([cm.num(x) for x in state["mean_cost"]])) ** 2
        m[:, 1] *= _unit(np.array([cm.num(x) for x in state["mean_los"]])) ** 2
        return self._finish(state, m)

    def _finish(self, state: dict, m) -> dict:
        g = self.grid(state)
        n = np.asarray(state["n"])
        cols: dict[str, list] = {c: [] for c in self.params["by"]}
        for flat in range(g.size):
            for axis, c in enumerate(self.params["by"]):
                cols[c].append(g.labels(axis)[g.coords(flat)[axis]])
        table = dict(cols)
        table["n"] = [int(x) for x in n]
        table["hospitals"] = [int(x) for x in state["hospitals"]]
        table["cost_sum"] = state["sum_cost"]
        table["cost_mean"] = state["mean_cost"]
        if m is not None and self.params["sd"]:
            with np.errstate(invalid="ignore", divide="ignore"):
                sd_c = np.where(n > 1, np.sqrt(np.maximum(m[:, 0], 0) / (n - 1)), np.nan)
                sd_l = np.where(n > 1, np.sqrt(np.maximum(m[:, 1], 0) / (n - 1)), np.nan)
            table["cost_sd"] = [cm.nan_to_none(float(x)) for x in sd_c]
        if self.params["los"]:
            table["los_mean"] = state["mean_los"]
            if m is not None and self.params["sd"]:
                table["los_sd"] = [cm.nan_to_none(float(x)) for x in sd_l]
        comp = np.asarray(state["sum_components"], dtype=float).reshape(g.size, -1)
        sc = np.asarray(state["sum_cost"], dtype=float)
        for j, c in enumerate(self.params["components"]):
            name = "share_" + (c[5:] if c.startswith("cost_") else c)
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(sc > 0, comp[:, j] / sc, np.nan)
            table[name] = [cm.nan_to_none(float(x)) for x in share]
        if m is not None and self.params["quantiles"]:
            for qi, q in enumerate(self.params["quantiles"]):
                vals, acc = [], np.zeros(g.size)
                for cell in range(g.size):
                    if n[cell] <= 0:
                        vals.append(None)
                        continue
                    lo, hi, frac = cm.quantile_ranks(int(n[cell]), q)
                    est = []
                    for i in (0, 1):
                        j = state["targets"][qi][i][cell]
                        base = 2 + (2 * qi + i) * cm.SUB_BINS
                        sub = np.round(m[cell, base:base + cm.SUB_BINS])
                        v, w = cm.value_of_rank(sub, cm.sub_edges(self.edges_, j), state["ranks"][qi][i][cell])
                        est.append(v)
                        acc[cell] = max(acc[cell], w)
                    vals.append(est[0] + frac * (est[1] - est[0]))
                table[_qname(q)] = vals
                table[_qname(q) + "_accuracy"] = [float(a) if n[c] > 0 else None for c, a in enumerate(acc)]
        result = {
            "by": self.params["by"],
            "period": self.params["period"] if cm.PERIOD in self.params["by"] else None,
            "levels": state["levels"],
            "table": table,
            "n": int(n[-1]),
            "hospitals": int(state["hospitals"][-1]),
            "method": ("Federated sums per cell (margins 'All' included); SD by a second pass over deviations "
                       "from the federated mean; shares = sum of component / sum of total cost; quantiles "
                       "from a log-spaced histogram (10 bins per decade) refined once into "
                       f"{cm.SUB_BINS} equal sub-bins: the released quantile is within its <quantile>_accuracy "
                       "yuan of pandas' linear-interpolation quantile."),
        }
        return {"phase": "done", "done": True, "result": result, "levels": state["levels"]}

    def tables(self, name: str, result: dict, labels=None) -> Tables:
        """descriptive_<name>: the released cells plus the 95% interval of the per-case cost and, with a
        period grouping, the growth of the per-case cost on the group's previous period."""
        out = Tables()
        table = name if name.startswith("descriptive") else f"descriptive_{name}"
        df = pd.DataFrame(result["table"])
        se = pd.to_numeric(df["cost_sd"], errors="coerce") / np.sqrt(pd.to_numeric(df["n"], errors="coerce"))
        mean = pd.to_numeric(df["cost_mean"], errors="coerce")
        df["cost_mean_lower95"], df["cost_mean_upper95"] = mean - Z95 * se, mean + Z95 * se
        by = list(result["by"] or [])
        if cm.PERIOD in by:
            others = [c for c in by if c != cm.PERIOD]
            ordered = df[df[cm.PERIOD].astype(str) != cm.ALL]
            keys = [ordered[c].astype(str) for c in others] or [pd.Series(0, index=ordered.index)]
            prev = mean[ordered.index].groupby(keys).shift(1)
            df["growth"] = (mean[ordered.index] / prev - 1).reindex(df.index)
        out.add(table, df, f"Descriptive cost table by {' x '.join(by or ['all admissions'])} "
                           "(margins 'All'; small cells suppressed)")
        if not by:
            t = df.iloc[-1]
            out.kpi("admissions", t["n"], "cases", name, "records in the federation")
            out.kpi("hospitals", t["hospitals"], "hospitals", name, "hospitals contributing")
            out.kpi("per_case_cost", t["cost_mean"], "yuan", name, "mean total cost per admission")
            for col, unit, d in (("cost_median", "yuan", "median cost per admission"),
                                 ("cost_p90", "yuan", "90th percentile of cost"),
                                 ("los_mean", "days", "mean length of stay"),
                                 ("share_drugs", "share", "drug share of total cost"),
                                 ("share_consumables", "share", "consumables share of total cost"),
                                 ("share_exams", "share", "examinations share of total cost")):
                if col in t:
                    out.kpi(col, t[col], unit, name, d)
        return out

    def disclose(self, result: dict, disclosure: dict) -> dict:
        """Withhold below min_hospitals overall; suppress small cells with complementary suppression."""
        if result["hospitals"] < disclosure["min_hospitals"]:
            raise DisclosureError(f"{result['hospitals']} hospitals contributed; the policy needs at least "
                                  f"{disclosure['min_hospitals']}")
        grid = cm.Grid(result["by"], [lv for lv in result["levels"]])
        return suppress_table(result, grid, disclosure)


def _unit(mean: np.ndarray) -> np.ndarray:
    """Scale of the deviations sent in the refine round: |mean|, or 1 where it is 0 or unknown."""
    mean = np.nan_to_num(np.abs(np.asarray(mean, dtype=float)))
    return np.where(mean > 0, mean, 1.0)


def _qname(q: float) -> str:
    return "cost_median" if abs(q - 0.5) < 1e-12 else f"cost_p{round(q * 100):d}"


Z95 = 1.959963984540054  # the normal 97.5% quantile
