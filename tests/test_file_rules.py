"""File-spanning rules tracked chunk by chunk: the same answers as over the whole file at once."""
import numpy as np
import pandas as pd

from fedcost.data.file_rules import OneValueTracker, UniqueTracker


def test_unique_keys_across_chunks_point_to_the_first_row():
    keys = pd.DataFrame({"record_id": ["a", "b", "c", "b", "d", "a"]}, index=[2, 3, 4, 5, 6, 7])  # spreadsheet rows
    t = UniqueTracker()
    first = t.check(keys.iloc[:3])
    second = t.check(keys.iloc[3:])
    assert list(first[0]) == [] and first[2] == 3
    dup_pos, first_rows, checked = second
    assert list(dup_pos) == [0, 2] and list(first_rows) == [3, 2] and checked == 3  # b (row 5) and a (row 7)


def test_one_value_takes_the_first_records_value():
    t = OneValueTracker()
    pos, found, n = t.check(pd.Series([None, "H01", "H01"]), np.array([2, 3, 4]))
    assert (t.value, t.row) == ("H01", 3) and list(pos) == [] and n == 2
    pos, found, n = t.check(pd.Series(["H01", "ZZZ-999", "H01"]), np.array([5, 6, 7]))
    assert list(pos) == [1] and found == ["ZZZ-999"]
