"""fedcost.reporting.tables: Markdown tables for the notebooks (alignment, formats, missing values,
escaping, headers), pandas HTML turned into pipe tables, and the provenance table."""
from __future__ import annotations

import numpy as np
import pandas as pd

from fedcost import __version__
from fedcost.reporting import tables


def _rows(md: str) -> list[list[str]]:
    """The cells of a pipe table, header first, the alignment row left out."""
    lines = md.strip().splitlines()
    return [[c.strip() for c in ln.strip("|").split(" | ")] for k, ln in enumerate(lines) if k != 1]


def test_default_cell_formats_and_alignment():
    df = pd.DataFrame({"drg_code": ["BR21", "BX99"], "mean_cost": [21500.4, np.nan], "ratio": [0.01234, 2.5],
                       "n": [1200, 3], "flag": [True, False], "money": ["23,457 yuan", "≤ 20%"]})
    md = tables.markdown_table(df, lang="en")
    lines = md.splitlines()
    # numbers and formatted numbers right, text and booleans left
    assert lines[1] == "|:--|--:|--:|--:|:--|--:|"
    assert _rows(md) == [
        ["DRG group", "Mean cost (yuan)", "ratio", "Cases", "flag", "money"],
        # >= 1000: thousands, no decimals; < 1: 3 significant digits; else 2 decimals; ints grouped; NaN -> '–'
        ["BR21", "21,500", "0.0123", "1,200", "True", "23,457 yuan"],
        ["BX99", "–", "2.50", "3", "False", "≤ 20%"],
    ]
    assert md.endswith("\n")


def test_formats_headers_and_escaping():
    df = pd.DataFrame({"drg_code": ["A|B", "C\nD"], "growth": [0.0834, -0.012], "n": [5, 6]})
    md = tables.markdown_table(df, lang="zh", formats={"growth": "{:+.1%}", "n": lambda v: f"<{v}>",
                                                       "drg_code": "{:.2f}"},   # cannot format text: kept as is
                               headers={"n": "N|cases"})
    assert _rows(md)[0] == ["DRG 组", "growth", "N\\|cases"]          # known names in Chinese, pipes escaped
    assert "| A\\|B | +8.3% | <5> |" in md and "| C D | -1.2% | <6> |" in md  # newline folded into a space
    plain = tables.markdown_table(df[["drg_code"]], translate=False)
    assert plain.splitlines()[0] == "| drg_code |"


def test_index_is_written_when_asked():
    df = pd.DataFrame({"n": [10, 20]}, index=pd.Index(["east", "west"], name="region"))
    assert _rows(tables.markdown_table(df, index=True)) == [["Region", "Cases"], ["east", "10"], ["west", "20"]]
    assert _rows(tables.markdown_table(df)) == [["Cases"], ["10"], ["20"]]


def test_dataframe_html_with_a_named_index_becomes_one_header_row():
    df = pd.DataFrame({"mean_cost": [12345.0, 7.5], "note": ["a", "b"]},
                      index=pd.Index(["BR21", "BR23"], name="drg_code"))
    md = tables.html_table_to_markdown(df.to_html(), lang="en")
    # pandas writes the index name on a second header row; the two rows are merged column by column
    assert _rows(md) == [["DRG group", "Mean cost (yuan)", "note"], ["BR21", "12,345.0", "a"], ["BR23", "7.5", "b"]]
    assert md.splitlines()[1] == "|:--|--:|:--|"


def test_html_without_a_table_gives_none():
    assert tables.html_table_to_markdown("<p>no table here</p>") is None
    assert tables.html_table_to_markdown("") is None


def test_code_version_names_the_commit(monkeypatch):
    import fedcost.paths
    monkeypatch.setattr(fedcost.paths, "git_commit", lambda: "0123456789abcdef+modified")
    assert tables.code_version() == f"{__version__} (0123456, modified)"
    monkeypatch.setattr(fedcost.paths, "git_commit", lambda: "fedcba9876543210")
    assert tables.code_version() == f"{__version__} (fedcba9)"
    monkeypatch.setattr(fedcost.paths, "git_commit", lambda: None)
    assert tables.code_version() == __version__


def test_provenance_table_lists_versions_then_extra_then_parameters(monkeypatch):
    import fedcost.paths
    monkeypatch.setattr(fedcost.paths, "git_commit", lambda: None)
    md = tables.provenance_table({"region": "east", "wtp": 20000}, lang="zh", dictionary_version="1.1.0",
                                 extra={"engine": "local"}).data
    assert _rows(md) == [["参数", "数值"], ["代码版本", __version__], ["数据字典版本", "1.1.0"],
                         ["engine", "local"], ["region", "east"], ["wtp", "20000"]]
    # reporting reads no dictionary: without a version from the results the cell says so
    assert ["Data dictionary version", "–"] in _rows(tables.provenance_table(lang="en").data)


def test_a_two_level_header_keeps_its_group_on_every_column():
    import pandas as pd

    from fedcost.reporting.tables import html_table_to_markdown

    cols = pd.MultiIndex.from_tuples([("2023", "n"), ("2023", "mean"), ("2024", "n"), ("2024", "mean")])
    md = html_table_to_markdown(pd.DataFrame([[1, 2, 3, 4]], columns=cols).to_html())
    assert md.splitlines()[0] == "| 2023 n | 2023 mean | 2024 n | 2024 mean |"
