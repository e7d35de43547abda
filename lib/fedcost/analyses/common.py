"""Shared machinery of the policy analyses: groupings, histograms, quantiles,
small-cell suppression, pseudonyms and running sub-analyses side by side.

Everything a hospital sends is a sum over its rows (so the federation can add
the hospitals' vectors); everything derived from the sum happens in
`advance`/`disclose`, identically at every hospital.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd

from fedcost.data.dictionary import Dictionary
from fedcost.errors import DataError, UsageError

ALL = "All"  # label of a margin (total over a grouping column)


def site_label(labels, value):
    """A released 'site:i' (a hospital named by its slot) with the run's label for slot i, where known."""
    if isinstance(value, str) and value.startswith("site:") and labels:
        i = int(value[5:])
        return labels[i] if i < len(labels) and labels[i] else value
    return value

DEFAULT_COMPONENTS = ("cost_drugs", "cost_consumables", "cost_exams", "cost_procedures",
                      "cost_nursing_bed", "cost_labour", "cost_other")

# Fixed log-spaced histogram edges for costs: every hospital uses the same bins
# without seeing anyone's data. 10 bins per decade from 1 to 1e9 yuan: a bin is
# 25.9 % of its lower edge wide; the refinement round splits the bin that holds
# a wanted order statistic into SUB_BINS equal parts (0.8 % of the value).
BINS_PER_DECADE = 10
EDGE_LO, EDGE_HI = 0, 9  # decades
SUB_BINS = 32


def cost_edges(bins_per_decade: int = BINS_PER_DECADE) -> np.ndarray:
    """Bin edges [0, 1, 10^0.1, ..., 1e9, inf): bin 0 is [0, 1), the last is [1e9, inf)."""
    inner = np.logspace(EDGE_LO, EDGE_HI, (EDGE_HI - EDGE_LO) * bins_per_decade + 1)
    return np.concatenate([[0.0], inner, [np.inf]])


def bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Index of the bin [edges[j], edges[j+1]) holding each value (values >= 0)."""
    j = np.searchsorted(edges, values, side="right") - 1
    return np.clip(j, 0, len(edges) - 2)


def dictionary_or_default(dictionary) -> Dictionary:
    return dictionary if isinstance(dictionary, Dictionary) else Dictionary.load(dictionary)


def as_float(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        raise DataError(f"column {column!r} is not in the data")
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


# -- groupings ---------------------------------------------------------------------
PERIOD = "period"


def period_labels(dates: pd.Series, period: str) -> pd.Series:
    """'2023Q1' (quarter) or '2023' (year) of each date; NA stays NA."""
    d = pd.to_datetime(dates, errors="coerce")
    if period == "quarter":
        lab = d.dt.year.astype("Int64").astype(str) + "Q" + d.dt.quarter.astype("Int64").astype(str)
    elif period == "year":
        lab = d.dt.year.astype("Int64").astype(str)
    else:
        raise UsageError(f"period must be 'quarter' or 'year', not {period!r}")
    return lab.where(d.notna())


def period_levels(years: list[int], period: str) -> list[str]:
    """All periods of the contiguous range of years from the first to the last observed."""
    if not years:
        return []
    ys = range(min(years), max(years) + 1)
    if period == "year":
        return [str(y) for y in ys]
    return [f"{y}Q{q}" for y in ys for q in range(1, 5)]


def year_range(dictionary: Dictionary, date_column: str) -> tuple[int, int]:
    """Years a date column may take, from the dictionary's min/max (the scan round's bins)."""
    f = dictionary.fields.get(date_column)
    if f is None:
        raise UsageError(f"{date_column!r} is not a field of the data dictionary")
    lo = pd.Timestamp(f.min).year if f.min else 1990
    hi = pd.Timestamp(f.max).year if f.max else 2050
    return lo, hi


def check_by(by, dictionary: Dictionary) -> list[str]:
    by = [by] if isinstance(by, str) else list(by or [])
    if len(by) > 2:
        raise UsageError("a table is grouped by one or two columns")
    for col in by:
        if col == PERIOD:
            continue
        f = dictionary.fields.get(col)
        if f is None or f.type != "category":
            raise UsageError(f"cannot group by {col!r}: group by 'period' or a category column of the "
                             f"dictionary ({', '.join(dictionary.categorical_columns)})")
    return by


def group_codes(frame: pd.DataFrame, col: str, levels: list[str], period: str, date_column: str) -> np.ndarray:
    """Integer code of each row in `levels` (-1: missing or not a level)."""
    if col == PERIOD:
        lab = period_labels(frame[date_column], period)
    else:
        lab = frame[col].astype(object)
    pos = {v: i for i, v in enumerate(levels)}
    return np.array([pos.get(v, -1) if isinstance(v, str) else -1 for v in lab], dtype=np.int64)


class Grid:
    """Cells of a one- or two-way table with margins ('All' is the last level of each axis).

    A row of the data falls in its cell and in each margin that covers it, so
    the margins are sums over the same rows and are released (and protected)
    like any other cell.
    """

    def __init__(self, by: list[str], levels: list[list[str]]):
        self.by = list(by)
        self.levels = [list(lv) for lv in levels]
        self.shape = tuple(len(lv) + 1 for lv in self.levels) or (1,)
        self.margin_free = not self.by  # no grouping: the single cell is the total
        self.size = int(np.prod(self.shape))

    def labels(self, axis: int) -> list[str]:
        return self.levels[axis] + [ALL]

    def row_cells(self, codes: list[np.ndarray], n_rows: int) -> np.ndarray:
        """(rows, k) flat cell indices of each row (k = 1 no grouping, 2 one-way, 4 two-way); -1 excluded."""
        if not self.by:
            return np.zeros((n_rows, 1), dtype=np.int64)
        ok = np.all([c >= 0 for c in codes], axis=0)
        if len(self.by) == 1:
            c = codes[0]
            out = np.stack([c, np.full_like(c, self.shape[0] - 1)], axis=1)
        else:
            a, b = codes
            A, B = self.shape
            out = np.stack([a * B + b, a * B + (B - 1), (A - 1) * B + b, np.full_like(a, (A - 1) * B + (B - 1))], axis=1)
        out[~ok] = -1
        return out

    def coords(self, flat: int) -> tuple:
        return tuple(int(x) for x in np.unravel_index(flat, self.shape))

    def lines(self) -> list[list[int]]:
        """Sets of cells tied by one additive relation (cells of a row plus its margin, ...)."""
        if not self.by:
            return []
        if len(self.shape) == 1:
            return [list(range(self.shape[0]))]
        A, B = self.shape
        rows = [[a * B + b for b in range(B)] for a in range(A)]
        cols = [[a * B + b for a in range(A)] for b in range(B)]
        return rows + cols

    def is_margin(self, flat: int) -> bool:
        if not self.by:
            return True
        return any(c == s - 1 for c, s in zip(self.coords(flat), self.shape))


def cell_sums(cells: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Sum of `values` (rows,) over the cells of each row (cells: rows x k, -1 ignored)."""
    k = cells.shape[1]
    flat = cells.ravel()
    vals = np.repeat(values, k)
    ok = flat >= 0
    return np.bincount(flat[ok], weights=vals[ok], minlength=size)[:size]


def cell_bin_counts(cells: np.ndarray, bins: np.ndarray, n_bins: int, size: int) -> np.ndarray:
    """Counts per (cell, bin), flattened cell-major."""
    k = cells.shape[1]
    flat = cells.ravel()
    b = np.repeat(bins, k)
    ok = flat >= 0
    return np.bincount(flat[ok] * n_bins + b[ok], minlength=size * n_bins)[:size * n_bins].astype(float)


# -- quantiles from a histogram and one refinement ------------------------------------
def quantile_ranks(n: int, q: float) -> tuple[int, int, float]:
    """0-based ranks around pandas' (linear) quantile position h = (n-1) q, and the fraction."""
    h = (n - 1) * q
    lo = int(math.floor(h + 1e-12))
    hi = min(lo + 1, n - 1) if h - lo > 1e-12 else lo
    return lo, hi, h - lo


def bin_of_rank(counts: np.ndarray, rank: int) -> tuple[int, int]:
    """Bin holding the order statistic of 0-based `rank`, and the rank inside that bin."""
    cum = np.cumsum(counts)
    j = int(np.searchsorted(cum, rank, side="right"))
    j = min(j, len(counts) - 1)
    before = int(cum[j - 1]) if j > 0 else 0
    return j, rank - before


def sub_edges(edges: np.ndarray, j: int, sub_bins: int = SUB_BINS) -> np.ndarray:
    lo, hi = edges[j], edges[j + 1]
    if not np.isfinite(hi):
        hi = lo * 10 ** (1 / BINS_PER_DECADE)
    return np.linspace(lo, hi, sub_bins + 1)


def sub_bin(values: np.ndarray, edges: np.ndarray, bins: np.ndarray, sub_bins: int = SUB_BINS) -> np.ndarray:
    """Sub-bin (0..sub_bins-1) of each value inside its bin `bins` (vectorised `sub_edges`)."""
    lo = edges[bins]
    hi = edges[bins + 1]
    hi = np.where(np.isfinite(hi), hi, lo * 10 ** (1 / BINS_PER_DECADE))
    s = np.floor((values - lo) / (hi - lo) * sub_bins).astype(np.int64)
    return np.clip(s, 0, sub_bins - 1)


def value_of_rank(sub_counts: np.ndarray, edges: np.ndarray, rank_in_bin: int) -> tuple[float, float]:
    """Estimate of the order statistic from the refined bin: the middle of its rank's share of the sub-bin.

    Returns (estimate, width of the sub-bin): the true value lies in that sub-bin.
    """
    j, r = bin_of_rank(sub_counts, rank_in_bin)
    c = max(sub_counts[j], 1.0)
    lo, hi = edges[j], edges[j + 1]
    return float(lo + (r + 0.5) / c * (hi - lo)), float(hi - lo)


# -- small-cell suppression ----------------------------------------------------------
def primary_suppression(n: np.ndarray, hospitals: np.ndarray, disclosure: dict) -> np.ndarray:
    """A non-empty cell with fewer than min_cell_records records or min_hospitals hospitals.

    Empty cells (no records) are released as 0: they describe no one.
    """
    n = np.asarray(n, dtype=float)
    h = np.asarray(hospitals, dtype=float)
    return (n > 0) & ((n < disclosure["min_cell_records"]) | (h < disclosure["min_hospitals"]))


def complementary_suppression(n: np.ndarray, primary: np.ndarray, lines: list[list[int]],
                              margins: set[int] | None = None, public: set[int] | None = None) -> np.ndarray:
    """Suppress more cells until no line (cells tied by an additive margin) has exactly one suppressed cell.

    If a line (a row of the table with its row total, a column with its column
    total, or a one-way table with its grand total) has exactly one suppressed
    cell, subtracting the released cells from the released total would give it
    back; so the smallest other non-empty cell of the line is suppressed too
    (interior cells before margins; never a `public` cell, e.g. a total
    released by another table). Repeated over rows and columns until stable.
    Returns the array of suppression codes: 0 none, 1 primary, 2 complementary.
    """
    n = np.asarray(n, dtype=float)
    code = np.where(primary, 1, 0)
    margins = margins or set()
    public = public or set()
    changed = True
    while changed:
        changed = False
        for line in lines:
            sup = [c for c in line if code[c] > 0]
            if len(sup) != 1:
                continue
            cands = [c for c in line if code[c] == 0 and n[c] > 0 and c not in public]
            if not cands:
                continue  # nothing left to hide behind (the caller withholds such a table)
            cands.sort(key=lambda c: (c in margins, n[c], c))
            code[cands[0]] = 2
            changed = True
    return code


def recover_by_subtraction(n: np.ndarray, suppressed: np.ndarray, lines: list[list[int]]) -> dict[int, float]:
    """The attack that complementary suppression defeats: solve lines with one unknown, repeatedly.

    `n` holds released values (any additive statistic) with NaN at suppressed
    cells; each line's last cell is its total. Returns {cell: recovered value}.
    """
    known = ~np.asarray(suppressed, dtype=bool)
    vals = np.asarray(n, dtype=float).copy()
    found: dict[int, float] = {}
    progress = True
    while progress:
        progress = False
        for line in lines:
            unknown = [c for c in line if not known[c]]
            if len(unknown) != 1:
                continue
            c = unknown[0]
            total, parts = line[-1], line[:-1]
            if c == total:
                v = sum(vals[p] for p in parts)
            else:
                v = vals[total] - sum(vals[p] for p in parts if p != c)
            vals[c], known[c] = v, True
            found[c] = float(v)
            progress = True
    return found


# -- pseudonyms ------------------------------------------------------------------------
def pseudonym_order(count: int, secret: str) -> list[int]:
    """A permutation of site indices keyed by a value only the hospitals know.

    `secret` is derived from the decrypted sums (which the coordinator never
    sees), so the coordinator cannot map 'Hospital A' back to a site by the
    order in which it connected.
    """
    keyed = sorted(range(count), key=lambda i: hashlib.sha256(f"{secret}|{i}".encode()).hexdigest())
    return keyed


def letter(k: int) -> str:
    s = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        s = chr(65 + r) + s
    return s


def secret_of(total: np.ndarray) -> str:
    """Deterministic key from decrypted sums, rounded so CKKS noise cannot change it."""
    v = np.round(np.asarray(total, dtype=float), 0)
    return hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()


def pseudonyms(site_count: int, present: list[int], secret: str, name_hospitals: bool) -> dict[int, str]:
    """Site index -> released label: 'Hospital A'... in keyed order, or 'site:i' when names are allowed.

    With name_hospitals the release carries 'site:<i>' and the coordinator's
    table writer turns it into the hospital's own label.
    """
    if name_hospitals:
        return {i: f"site:{i}" for i in present}
    order = [i for i in pseudonym_order(site_count, secret) if i in present]
    return {i: f"Hospital {letter(k)}" for k, i in enumerate(order)}


def nan_to_none(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def num(x) -> float:
    """A JSON value back to float (None -> NaN)."""
    return float("nan") if x is None else float(x)


# -- running sub-machines side by side ----------------------------------------------
class Parallel:
    """Helper for an analysis made of sub-machines advancing in the same rounds.

    Each part is (name, size_fn, stats_fn, advance_fn) over its own sub-state;
    the round's vector is the concatenation of the running parts' vectors, and
    `split` cuts the summed vector back using the sizes known from the states.
    """

    @staticmethod
    def split(total: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
        total = np.asarray(total, dtype=float)
        if sum(sizes) != total.size:
            raise ValueError(f"statistics vector has {total.size} values, parts expect {sum(sizes)}")
        out, i = [], 0
        for s in sizes:
            out.append(total[i:i + s])
            i += s
        return out
