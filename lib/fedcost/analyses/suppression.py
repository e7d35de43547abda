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
the line is suppressed too, and the rows and columns are swept again until
nothing changes. In a two-way table the margins are first suppressed as the
one-way tables of the same groupings are, then held fixed while the interior
is protected (see `suppression_codes`), so the tables of one plan agree. Every additive statistic (n,
sums of cost, of components, of squares) shares the pattern, so none of them
can be recovered by subtraction (`common.recover_by_subtraction` is the
attack the tests run).

Empty cells (no records) keep n = 0 and hospitals = 0, which describe nobody
and are exact (counts are recovered by rounding), but every other statistic of
theirs is None and they are marked ``suppression`` = 'empty': a sum decrypted
from an empty cell is CKKS noise (~1e-9), and a share or mean computed from it
is noise divided by almost nothing (shares of 1.25 and 4.28 were released).
Suppressed cells keep their labels, with every statistic set to None (NaN in
the tables) and ``suppressed`` = True, ``suppression`` = 'primary' or
'complementary'.

Known limit: tables at different granularities of the same dimension (a
quarter table and a year table, whose quarters sum to years) are not
coordinated; ``suppression_summary['margin_complementary']`` counts margin
cells suppressed as complementary.
"""
from __future__ import annotations

import copy

import numpy as np

from fedcost.analyses import common as cm

REASONS = {0: "", 1: "primary", 2: "complementary", 3: "empty"}
EMPTY = 3
COUNTS = ("n", "hospitals")  # what an empty cell keeps: its exact zero counts


def suppression_codes(n, hospitals, grid: cm.Grid, disclosure: dict) -> np.ndarray:
    """0 released, 1 primary, 2 complementary, per flat cell of `grid`.

    One-way tables: complementary suppression over the line of cells plus the
    grand total. Two-way tables are protected so that they agree with the
    one-way tables of the same plan: first each margin line (the row totals
    with the grand total, the column totals with the grand total) is
    suppressed exactly as the one-way table of that grouping would be (same
    counts, same rule, same choice), then the interior is protected with the
    margins held fixed (complementary cells are chosen among interior cells
    only). So a margin released here is released there too, and a margin
    suppressed there is suppressed here: combining the tables of a plan
    recovers nothing that one table hides.
    """
    n = np.nan_to_num(np.asarray([np.nan if x is None else x for x in n], dtype=float))
    h = np.nan_to_num(np.asarray([np.nan if x is None else x for x in hospitals], dtype=float))
    primary = cm.primary_suppression(n, h, disclosure)
    if len(grid.shape) != 2:
        margins = {c for c in range(grid.size) if grid.is_margin(c)}
        return cm.complementary_suppression(n, primary, grid.lines(), margins=margins)
    A, B = grid.shape
    code = np.where(primary, 1, 0)
    for line in ([a * B + (B - 1) for a in range(A)], [(A - 1) * B + b for b in range(B)]):
        idx = np.asarray(line)
        sub = cm.complementary_suppression(n[idx], primary[idx], [list(range(len(line)))], margins={len(line) - 1})
        code[idx] = np.maximum(code[idx], sub)
    interior_lines = [[a * B + b for b in range(B)] for a in range(A - 1)] + \
                     [[a * B + b for a in range(A)] for b in range(B - 1)]
    margin = {c for c in range(grid.size) if grid.is_margin(c)}
    changed = True
    while changed:
        changed = False
        for line in interior_lines:
            if sum(1 for c in line if code[c]) != 1:
                continue
            cands = [c for c in line if code[c] == 0 and n[c] > 0 and c not in margin]
            if not cands:
                continue
            cands.sort(key=lambda c: (n[c], c))
            code[cands[0]] = 2
            changed = True
    return code


def suppress_table(result: dict, grid: cm.Grid, disclosure: dict, keep=None) -> dict:
    """A copy of `result` whose `table` has suppressed cells blanked and marked."""
    out = copy.deepcopy(result)
    table = out["table"]
    codes = suppression_codes(table["n"], table["hospitals"], grid, disclosure)
    empty = [i for i, v in enumerate(table["n"]) if v is not None and v <= 0]
    codes[empty] = EMPTY
    keep = set(keep or []) | set(result.get("by") or [])
    for col, values in table.items():
        if col in keep:
            continue
        table[col] = [(0 if col in COUNTS else None) if codes[i] == EMPTY else None if codes[i] else v
                      for i, v in enumerate(values)]
    table["suppressed"] = [bool(c) for c in codes]
    table["suppression"] = [REASONS[int(c)] for c in codes]
    out["suppression_summary"] = {
        "primary": int((codes == 1).sum()),
        "complementary": int((codes == 2).sum()),
        "empty": int((codes == EMPTY).sum()),
        "margin_complementary": int(sum(1 for i, c in enumerate(codes) if c == 2 and grid.is_margin(i))),
        "min_cell_records": disclosure["min_cell_records"],
        "min_hospitals": disclosure["min_hospitals"],
        "rule": "primary: n < min_cell_records or hospitals < min_hospitals; complementary: no row/column "
                "(with its margin) has exactly one suppressed cell; empty: no records, only the zero counts "
                "are released",
    }
    return out
