"""Reading tables: encodings, delimiters, Parquet by content, chunks with row numbers, clear errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fedcost.errors import DataError, UsageError
from fedcost.data.parsing import parse_values
from fedcost.data.readers import TableReader, iter_chunks, read_table

TEXT = "id,name,amount\n1,张三,10.5\n2,李四,\n3,王五,7\n"


def test_utf8_bom_and_gbk_are_detected(tmp_path):
    for enc, expected in (("utf-8", "utf-8-sig"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030")):
        path = tmp_path / f"{enc}.csv"
        path.write_bytes(TEXT.encode(enc))
        reader = TableReader(path)
        assert reader.encoding == expected and reader.columns == ["id", "name", "amount"]
        df = read_table(path)
        assert df["name"].tolist() == ["张三", "李四", "王五"]
        assert pd.isna(df["amount"][1])  # an empty cell is missing


def test_undecodable_file_says_how_to_pass_encoding(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"id,name\n1,\xff\xfe\x81\x20\n")
    with pytest.raises(DataError, match="--encoding"):
        read_table(path)
    path.write_bytes("id,name\n1,Müller\n".encode("latin-1"))
    assert read_table(path, encoding="latin-1")["name"][0] == "Müller"


@pytest.mark.parametrize("delim", [";", "\t", "|"])
def test_other_delimiters_are_detected_with_a_warning(tmp_path, delim):
    path = tmp_path / "d.csv"
    path.write_text(TEXT.replace(",", delim), encoding="utf-8")
    reader = TableReader(path)
    assert reader.delimiter == delim and reader.warnings
    assert read_table(path).shape == (3, 3)


def test_parquet_is_detected_by_content_not_name(tmp_path):
    df = pd.DataFrame({"id": [1, 2], "x": [0.5, None]})
    path = tmp_path / "data.csv"  # a Parquet file with a CSV name
    df.to_parquet(path, index=False)
    assert TableReader(path).format == "parquet"
    got = read_table(path)
    assert got["id"].tolist() == [1, 2] and str(got["id"].dtype) == "Int64"
    csv_named_parquet = tmp_path / "data.parquet"
    csv_named_parquet.write_text(TEXT, encoding="utf-8")
    reader = TableReader(csv_named_parquet)
    assert reader.format == "csv" and any("named like Parquet" in w for w in reader.warnings)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"), (b"\x00\x01\x02junk", "binary"), (b"PK\x03\x04zip", "ZIP"), (b"PAR1broken", "Parquet"),
    (b"\n\nx", "no header"),
])
def test_not_a_table(tmp_path, content, message):
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_table(path)


def test_missing_file_and_directory_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(UsageError, match="directory"):
        read_table(tmp_path)


def test_read_table_names_the_ragged_row_and_duplicate_columns(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,b\n1,2\n3,4,5\n6,7\n", encoding="utf-8")
    with pytest.raises(DataError, match="row 3 has 3 fields but the header has 2"):
        read_table(path)
    path.write_text("a,b,a\n1,2,3\n", encoding="utf-8")
    with pytest.raises(DataError, match="'a' appears 2 times"):
        read_table(path)


def test_read_table_columns(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(TEXT, encoding="utf-8")
    assert list(read_table(path, columns=["amount", "id"]).columns) == ["amount", "id"]
    with pytest.raises(DataError, match="no column"):
        read_table(path, columns=["nope"])


def test_iter_chunks_row_numbers(tmp_path):
    path = tmp_path / "big.csv"
    n = 25
    path.write_text("id,v\n" + "".join(f"{i},{i * 2}\n" for i in range(n)), encoding="utf-8")
    chunks = list(iter_chunks(path, chunksize=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [c.attrs["first_row"] for c in chunks] == [2, 12, 22]
    assert chunks[1].index[0] == 12 and chunks[1]["id"].iloc[0] == "10"  # strings, row 12 = record 11
    pq = tmp_path / "big.parquet"
    pd.DataFrame({"id": np.arange(n)}).to_parquet(pq, row_group_size=7)
    chunks = list(iter_chunks(pq, chunksize=10))
    assert [len(c) for c in chunks] == [10, 10, 5] and chunks[2].attrs["first_row"] == 22


def test_quoted_newlines_count_as_one_row(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('id,note\n1,"two\nlines"\n2,x,extra\n3,y\n', encoding="utf-8")
    reader = TableReader(path)
    batches = list(reader.batches(10))
    rows = np.concatenate([b.rows for b in batches])
    assert rows.tolist() == [2, 4] and [r for b in batches for r in b.ragged] == [(3, 3)]


def test_parse_values_marks_bad_cells():
    import pyarrow as pa
    values, bad = parse_values(pa.array(["1", " 2 ", "3.0", "x", None, "inf"]), "integer")
    assert bad.tolist() == [False, False, False, True, False, True]
    assert values.tolist()[:3] == [1, 2, 3]
    values, bad = parse_values(pa.array(["2024-01-05", "2024/1/6", "2024-02-30", None]), "date")
    assert bad.tolist() == [False, False, True, False]
    assert str(values.dtype) == "datetime64[ns]"
