"""Small-cell suppression of released tables, applied at the hospitals in `disclose`.

Primary suppression: a non-empty cell with fewer than ``min_cell_records``
records or fewer than ``min_hospitals`` contributing hospitals (one hospital
alone in a cell would be identifiable; two could each subtract their own
figures and read the other's).

Complementary suppression: released margins tie cells together (a row total
minus the released cells of the row gives back the one suppressed cell), so
every line - a row with its row total, a column with its column total, a
one-way table with its grand total - must have no suppressed cell or at
least two. When a line has exactly one, the smallest other non-empty cell of
the line is suppressed too (interior cells before margins, because margins
are usually released in other tables of the plan as well), and the rows and
columns are swept again until nothing changes. Every additive statistic (n,
sums of cost, of components, of squares) shares the pattern, so none of them
can be recovered by subtraction (`common.recover_by_subtraction` is the
attack the tests run).

Empty cells (no records) are released as n = 0: they describe nobody.
Suppressed cells keep their labels, with every statistic set to None (NaN in
the tables) and ``suppressed`` = True, ``suppression`` = 'primary' or
'complementary'.

Known limit: protection is per table. Two tables of one plan that share a
margin are consistent as long as complementary suppression did not have to
choose a margin cell; the result counts such cases in
``suppression_summary['margin_complementary']``.
"""
from __future__ import annotations

import copy

import numpy as np

from fedcost.analyses import common as cm

REASONS = {0: "", 1: "primary", 2: "complementary"}


def suppression_codes(n, hospitals, grid: cm.Grid, disclosure: dict) -> np.ndarray:
    """0 released, 1 primary, 2 complementary, per flat cell of `grid`."""
    n = np.asarray([np.nan if x is None else x for x in n], dtype=float)
    h = np.asarray([np.nan if x is None else x for x in hospitals], dtype=float)
    primary = cm.primary_suppression(np.nan_to_num(n), np.nan_to_num(h), disclosure)
    margins = {c for c in range(grid.size) if grid.is_margin(c)}
    return cm.complementary_suppression(np.nan_to_num(n), primary, grid.lines(), margins=margins)


def suppress_table(result: dict, grid: cm.Grid, disclosure: dict, keep=None) -> dict:
    """A copy of `result` whose `table` has suppressed cells blanked and marked."""
    out = copy.deepcopy(result)
    table = out["table"]
    codes = suppression_codes(table["n"], table["hospitals"], grid, disclosure)
    keep = set(keep or []) | set(result.get("by") or [])
    for col, values in table.items():
        if col in keep:
            continue
        table[col] = [None if codes[i] else v for i, v in enumerate(values)]
    table["suppressed"] = [bool(c) for c in codes]
    table["suppression"] = [REASONS[int(c)] for c in codes]
    out["suppression_summary"] = {
        "primary": int((codes == 1).sum()),
        "complementary": int((codes == 2).sum()),
        "margin_complementary": int(sum(1 for i, c in enumerate(codes) if c == 2 and grid.is_margin(i))),
        "min_cell_records": disclosure["min_cell_records"],
        "min_hospitals": disclosure["min_hospitals"],
        "rule": "primary: n < min_cell_records or hospitals < min_hospitals; complementary: no row/column "
                "(with its margin) has exactly one suppressed cell",
    }
    return out
