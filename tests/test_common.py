"""Shared machinery of the policy analyses: bins, quantile ranks, groupings, cell sums, pseudonyms."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fedcost.analyses import common as cm
from fedcost.errors import UsageError


def test_cost_edges_and_bins():
    edges = cm.cost_edges()
    # [0, 1, 10^0.1, ..., 10^9, inf): 9 decades x 10 bins + 1 inner edges, plus 0 and inf
    assert len(edges) == 93 and edges[0] == 0 and edges[1] == 1 and edges[-2] == pytest.approx(1e9)
    assert edges[-1] == np.inf
    np.testing.assert_allclose(edges[2:-1] / edges[1:-2], 10 ** 0.1)
    values = np.array([0.0, 0.5, 1.0, 10 ** 0.15, 1e9, 1e12])
    # [0,1) is bin 0, [1, 10^0.1) bin 1, 10^0.15 in [10^0.1, 10^0.2) bin 2, [1e9, inf) is the last, 91
    assert cm.bin_index(values, edges).tolist() == [0, 0, 1, 2, 91, 91]


@pytest.mark.parametrize("n", [1, 2, 7, 100])
@pytest.mark.parametrize("q", [0.0, 0.1, 0.5, 0.9, 0.975, 1.0])
def test_quantile_ranks_reproduce_numpy_linear_quantiles(n, q):
    x = np.sort(np.random.default_rng(n).gamma(2.0, 1000.0, n))
    lo, hi, frac = cm.quantile_ranks(n, q)
    assert 0 <= lo <= hi <= n - 1
    assert x[lo] + frac * (x[hi] - x[lo]) == pytest.approx(np.quantile(x, q), rel=1e-12)


def test_the_refined_histogram_brackets_the_order_statistic():
    x = np.random.default_rng(5).gamma(2.0, 4000.0, 501)
    edges = cm.cost_edges()
    bins = cm.bin_index(x, edges)
    counts = np.bincount(bins, minlength=len(edges) - 1).astype(float)
    rank = 250  # the median of 501 values
    j, r = cm.bin_of_rank(counts, rank)
    assert j == cm.bin_index(np.sort(x)[[rank]], edges)[0]
    assert r == rank - counts[:j].sum()
    inside = bins == j
    sub = cm.sub_bin(x[inside], edges, bins[inside])
    fine = cm.sub_edges(edges, j)
    assert (sub == np.searchsorted(fine, x[inside], side="right") - 1).all()  # vectorised = one bin at a time
    estimate, width = cm.value_of_rank(np.bincount(sub, minlength=cm.SUB_BINS).astype(float), fine, r)
    assert abs(estimate - np.median(x)) <= width
    assert width == pytest.approx((edges[j + 1] - edges[j]) / cm.SUB_BINS)
    assert cm.bin_of_rank(np.array([2.0, 0.0, 3.0]), 2) == (2, 0)  # ranks 0-1 in bin 0, 2-4 in bin 2


def test_periods_and_their_levels(dictionary):
    dates = pd.Series(["2023-01-15", "2023-05-01", None, "2024-12-31"])
    lab = cm.period_labels(dates, "quarter")
    assert lab.tolist()[:2] == ["2023Q1", "2023Q2"] and pd.isna(lab[2]) and lab[3] == "2024Q4"
    assert cm.period_labels(dates, "year").tolist()[3] == "2024"
    with pytest.raises(UsageError, match="'quarter' or 'year'"):
        cm.period_labels(dates, "month")
    assert cm.period_levels([2024, 2022], "year") == ["2022", "2023", "2024"]  # the gap year included
    assert cm.period_levels([2023], "quarter") == ["2023Q1", "2023Q2", "2023Q3", "2023Q4"]
    assert cm.period_levels([], "year") == []
    assert cm.year_range(dictionary, "admission_date") == (2000, 2035)
    assert cm.check_by("region", dictionary) == ["region"]
    with pytest.raises(UsageError, match="cannot group by 'age'"):
        cm.check_by(["age"], dictionary)
    with pytest.raises(UsageError, match="one or two columns"):
        cm.check_by(["region", "sex", "period"], dictionary)


def test_two_way_cell_sums_with_margins_equal_a_pandas_crosstab():
    rng = np.random.default_rng(2)
    n = 300
    frame = pd.DataFrame({"region": rng.choice(["east", "west", "north", None], n),
                          "sex": rng.choice(["F", "M"], n), "cost": rng.gamma(2.0, 1000.0, n)})
    levels = [["east", "west"], ["F", "M"]]  # "north" is not a level and None is missing: both left out
    grid = cm.Grid(["region", "sex"], levels)
    codes = [cm.group_codes(frame, c, lv, "year", "") for c, lv in zip(grid.by, levels)]
    sums = cm.cell_sums(grid.row_cells(codes, n), frame["cost"].to_numpy(), grid.size).reshape(grid.shape)
    kept = frame[frame["region"].isin(levels[0])]
    ref = pd.crosstab(kept["region"], kept["sex"], values=kept["cost"], aggfunc="sum", margins=True,
                      margins_name=cm.ALL)
    np.testing.assert_allclose(sums, ref.loc[grid.labels(0), grid.labels(1)].to_numpy(), rtol=1e-12)
    assert grid.shape == (3, 3) and grid.is_margin(2) and not grid.is_margin(0)
    counts = cm.cell_bin_counts(grid.row_cells(codes, n), np.zeros(n, dtype=int), 1, grid.size)
    assert counts[-1] == len(kept)  # the grand total counts every row of a level once


def test_pseudonyms_are_keyed_letters_or_site_slots():
    assert [cm.letter(k) for k in (0, 25, 26, 27, 701, 702)] == ["A", "Z", "AA", "AB", "ZZ", "AAA"]
    names = cm.pseudonyms(5, [0, 2, 3, 4], "secret-1", name_hospitals=False)
    assert sorted(names) == [0, 2, 3, 4]
    assert sorted(names.values()) == ["Hospital A", "Hospital B", "Hospital C", "Hospital D"]
    order = cm.pseudonym_order(5, "secret-1")
    assert sorted(order) == list(range(5))
    assert [names[i] for i in order if i in names] == ["Hospital A", "Hospital B", "Hospital C", "Hospital D"]
    assert cm.pseudonyms(3, [1, 2], "s", name_hospitals=True) == {1: "site:1", 2: "site:2"}
    assert cm.site_label(["H01", "H02"], "site:1") == "H02" and cm.site_label(["H01"], "site:4") == "site:4"
    # the key comes from decrypted sums, rounded so CKKS noise (~1e-9) cannot change it
    total = np.array([1500.0, 3.0, 250123.0])
    assert cm.secret_of(total + 1e-7) == cm.secret_of(total - 1e-7) != cm.secret_of(total + 1.0)


def test_parallel_split_and_small_helpers():
    parts = cm.Parallel.split(np.arange(6.0), [1, 3, 2])
    assert [p.tolist() for p in parts] == [[0.0], [1.0, 2.0, 3.0], [4.0, 5.0]]
    with pytest.raises(ValueError, match="6 values, parts expect 5"):
        cm.Parallel.split(np.arange(6.0), [2, 3])
    assert cm.nan_to_none(float("nan")) is None and cm.nan_to_none(float("inf")) is None
    assert cm.nan_to_none(2.5) == 2.5 and np.isnan(cm.num(None)) and cm.num(3) == 3.0
