"""Small-cell suppression: primary rules, complementary suppression, and the margin attack it defeats."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fedcost.analyses import common as cm
from fedcost.analyses.descriptive import DescriptiveAnalysis
from fedcost.errors import DisclosureError
from fedcost.contract import run_pooled

RULES = {"min_hospitals": 3, "min_cell_records": 5, "max_parameter_fraction": 0.2, "name_hospitals": False}


def _frames(dictionary, counts: dict[tuple[str, str], list[int]], seed=0) -> list[pd.DataFrame]:
    """One frame per hospital; counts[(region, payer)] = records per hospital."""
    rng = np.random.default_rng(seed)
    n_h = len(next(iter(counts.values())))
    frames = []
    for h in range(n_h):
        rows = []
        for (region, payer), per in counts.items():
            for _ in range(per[h]):
                c = float(rng.gamma(2.0, 4000.0)) + 100
                rows.append({"hospital_id": f"H{h}", "region": region, "payer_type": payer, "cost_total": c,
                             "los": int(rng.integers(1, 20)), "cost_drugs": 0.3 * c, "cost_consumables": 0.7 * c})
        df = pd.DataFrame(rows)
        for col in ("region", "payer_type"):
            df[col] = pd.Categorical(df[col], categories=dictionary.levels(col))
        frames.append(df)
    return frames


def _run(frames, dictionary, by):
    a = DescriptiveAnalysis(by=by, components=["cost_drugs", "cost_consumables"], quantiles=[0.5])
    raw = run_pooled({"t": a}, frames, dictionary)["results"]["t"]
    return a, raw


def _lines_ok(codes, grid):
    for line in grid.lines():
        k = sum(1 for c in line if codes[c])
        assert k == 0 or k >= 2, f"line {line} has exactly one suppressed cell"


def test_one_way_primary_and_complementary(dictionary):
    counts = {("east", "uebmi"): [10, 10, 10], ("east", "urrbmi"): [1, 1, 1],  # 3 records: primary
              ("east", "self_pay"): [4, 4, 4], ("east", "commercial"): [20, 20, 20]}
    a, raw = _run(_frames(dictionary, counts), dictionary, ["payer_type"])
    out = a.disclose(raw, RULES)
    t = pd.DataFrame(out["table"]).set_index("payer_type")
    assert t.loc["urrbmi", "suppression"] == "primary"
    # the smallest other non-empty cell (self_pay, 12) is suppressed to protect it
    assert t.loc["self_pay", "suppression"] == "complementary"
    assert not t.loc["uebmi", "suppressed"] and not t.loc["All", "suppressed"]
    assert pd.isna(t.loc["urrbmi", "cost_mean"]) and pd.isna(t.loc["urrbmi", "n"])
    assert out["suppression_summary"]["primary"] == 1 and out["suppression_summary"]["complementary"] == 1


def test_margin_attack_fails_after_complementary_suppression(dictionary):
    regions, payers = ["central", "east", "west"], ["commercial", "self_pay", "uebmi", "urrbmi"]
    counts = {(r, p): [8, 7, 9] for r in regions for p in payers}
    counts[("east", "self_pay")] = [1, 1, 0]      # 2 records from 2 hospitals: primary
    counts[("west", "commercial")] = [12, 0, 0]   # 12 records but one hospital: primary
    a, raw = _run(_frames(dictionary, counts, seed=3), dictionary, ["region", "payer_type"])
    grid = cm.Grid(["region", "payer_type"], raw["levels"])
    truth_n = np.asarray(raw["table"]["n"], dtype=float)
    truth_sum = np.asarray(raw["table"]["cost_sum"], dtype=float)

    # Primary suppression alone leaks: the attacker subtracts released cells from released margins.
    primary = cm.primary_suppression(truth_n, np.asarray(raw["table"]["hospitals"]), RULES)
    assert primary.sum() == 2
    leaked = cm.recover_by_subtraction(np.where(primary, np.nan, truth_n), primary, grid.lines())
    assert set(np.nonzero(primary)[0]) <= set(leaked)
    for c in np.nonzero(primary)[0]:
        assert leaked[c] == pytest.approx(truth_n[c])
    leaked_sum = cm.recover_by_subtraction(np.where(primary, np.nan, truth_sum), primary, grid.lines())
    assert all(leaked_sum[c] == pytest.approx(truth_sum[c]) for c in np.nonzero(primary)[0])

    # After complementary suppression (what disclose releases) the same attack recovers nothing.
    out = a.disclose(raw, RULES)
    t = out["table"]
    sup = np.asarray(t["suppressed"])
    assert sup.sum() > primary.sum()
    _lines_ok(sup, grid)
    released_n = np.array([np.nan if v is None else v for v in t["n"]], dtype=float)
    released_sum = np.array([np.nan if v is None else v for v in t["cost_sum"]], dtype=float)
    assert cm.recover_by_subtraction(released_n, sup, grid.lines()) == {}
    assert cm.recover_by_subtraction(released_sum, sup, grid.lines()) == {}
    # and the released values are the true ones
    np.testing.assert_allclose(released_n[~sup], truth_n[~sup])
    # several different tables fit the released figures: move one record around a rectangle of suppressed cells
    sup_cells = [grid.coords(c) for c in np.nonzero(sup)[0] if not grid.is_margin(c)]
    assert len(sup_cells) >= 4


def test_complementary_iterates_rows_and_columns():
    # 3x3 interior + margins; one primary cell in the middle
    grid = cm.Grid(["a", "b"], [["x", "y", "z"], ["p", "q", "r"]])
    n = np.zeros(grid.size)
    A, B = grid.shape
    for i in range(3):
        for j in range(3):
            n[i * B + j] = 10 + i * 3 + j
    n[1 * B + 1] = 2
    for i in range(3):
        n[i * B + 3] = n[i * B:i * B + 3].sum()
    for j in range(4):
        n[3 * B + j] = n[[i * B + j for i in range(3)]].sum()
    primary = n < 5
    codes = cm.complementary_suppression(n, primary, grid.lines(), margins={c for c in range(grid.size) if grid.is_margin(c)})
    _lines_ok(codes, grid)
    assert (codes == 1).sum() == 1 and (codes == 2).sum() == 3  # a 2x2 rectangle
    assert not any(codes[c] for c in range(grid.size) if grid.is_margin(c))


def test_too_few_hospitals_withheld(dictionary):
    counts = {("east", "uebmi"): [10, 10]}
    a, raw = _run(_frames(dictionary, counts), dictionary, ["payer_type"])
    with pytest.raises(DisclosureError):
        a.disclose(raw, RULES)


def test_two_way_margins_agree_with_one_way_tables(dictionary):
    """Releasing a one-way table next to the two-way table of the same rows leaks nothing either."""
    regions, payers = ["central", "east", "west"], ["commercial", "self_pay", "uebmi", "urrbmi"]
    counts = {(r, p): [3, 3, 3] for r in regions for p in payers}
    counts[("east", "urrbmi")] = [1, 0, 1]          # primary inside
    for p in payers:                                  # east as a whole has only two hospitals: primary margin
        counts[("east", p)] = [counts[("east", p)][0], 0, counts[("east", p)][2]]
    frames = _frames(dictionary, counts, seed=5)
    a2, raw2 = _run(frames, dictionary, ["region", "payer_type"])
    a1, raw1 = _run(frames, dictionary, ["region"])
    two = pd.DataFrame(a2.disclose(raw2, RULES)["table"])
    one = pd.DataFrame(a1.disclose(raw1, RULES)["table"])
    margin = two[two["payer_type"] == "All"].set_index("region")["suppressed"]
    assert margin.to_dict() == one.set_index("region")["suppressed"].to_dict()
    assert margin["east"] and margin.sum() >= 2  # east primary, and a partner so the total cannot give it back
    grid = cm.Grid(["region", "payer_type"], raw2["levels"])
    sup = two["suppressed"].to_numpy()
    _lines_ok(sup, grid)
    n = np.array([np.nan if v is None or pd.isna(v) else v for v in two["n"]], dtype=float)
    assert cm.recover_by_subtraction(n, sup, grid.lines()) == {}
