"""Which encoding and delimiter a hospital's CSV export uses, and where an undecodable file fails."""
from __future__ import annotations

import pytest

from fedcost.data.encodings import (
    check_encoding_name, decode_error_row, decodes, detect_encoding, sniff_delimiter,
)
from fedcost.errors import DataError, UsageError


def test_encoding_names_are_normalised_or_refused():
    assert check_encoding_name("UTF8") == "utf-8"
    assert check_encoding_name("latin1") == "iso8859-1"
    assert check_encoding_name("CP936") == "gbk"
    with pytest.raises(UsageError, match="unknown encoding 'klingon'.*utf-8-sig or gb18030"):
        check_encoding_name("klingon")


def test_decodes_gives_the_offset_of_the_first_bad_byte(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes("id,name\n1,é\n".encode("utf-8"))
    assert decodes(path, "utf-8") is None
    body = b"id,name\n1,ok\n2,\xffx\n"  # "id,name\n" is 8 bytes, "1,ok\n" 5, "2," 2: the 0xff is byte 15
    path.write_bytes(body)
    assert decodes(path, "utf-8") == 15 == body.index(b"\xff")
    assert decode_error_row(path, 15) == 3  # two newlines before it: spreadsheet row 3
    assert decode_error_row(path, 0) == 1


def test_detect_utf8_gbk_and_a_bom(tmp_path):
    path = tmp_path / "f.csv"
    text = "科室,费用\n心内科,10.5\n" * 50
    path.write_bytes(text.encode("utf-8"))
    assert detect_encoding(path) == ("utf-8-sig", [])
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert detect_encoding(path) == ("utf-8-sig", [])
    path.write_bytes(text.encode("gbk"))
    assert detect_encoding(path) == ("gb18030", [])  # a CJK hint: no warning


def test_western_text_that_happens_to_decode_as_gb18030_gets_a_warning(tmp_path):
    path = tmp_path / "f.csv"
    # latin-1 u-umlaut and sharp s followed by ASCII letters form valid GBK pairs (0xFC 0x6C, 0xDF 0x65)
    path.write_bytes("name,street\nMüller,Straße\n".encode("latin-1") * 30)
    encoding, warnings = detect_encoding(path)
    assert encoding == "gb18030"
    assert len(warnings) == 1 and warnings[0].startswith("decoded as GB18030 (not UTF-8)")
    assert "--encoding" in warnings[0]


def test_undecodable_file_names_the_row(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"id,v\n1,a\n2,b\n3,\xff\xfe\x81\x20\n")  # 0xff is no GB18030 lead byte either
    with pytest.raises(DataError, match=r"first bad byte on row 4\).*--encoding ENC"):
        detect_encoding(path)


@pytest.mark.parametrize("header, delim", [
    ("id;name;cost", ";"), ("id\tname\tcost", "\t"), ("id|name|cost,total", "|"),
    ("id,name;cost", ","),   # a tie (2 fields each): comma
    ("record_id", ","),      # one column: comma
    ('"a;b",c', ","),        # a quoted semicolon is not a separator
])
def test_sniff_delimiter(header, delim):
    assert sniff_delimiter(header) == delim
