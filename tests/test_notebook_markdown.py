"""fedcost.reporting.notebook_markdown: front matter, language variants, cell options, one-language
copies of a notebook and the Markdown the embedded renderer is given, on small notebooks built in
memory (test_render.py covers the common cell options and cross-references)."""
from __future__ import annotations

import base64

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from fedcost.reporting import notebook_markdown as nm

FRONT = '---\ntitle: "Costs"\ntitle-zh: "费用"\nsubtitle: {en: "Region", zh: "地区"}\nauthor: {name: Ann}\n---'


def test_front_matter_is_the_first_raw_yaml_block():
    nb = new_notebook(cells=[new_markdown_cell("intro"), new_raw_cell(FRONT)])
    meta, idx = nm.front_matter(nb)
    assert idx == 1 and meta["title"] == "Costs" and meta["author"] == {"name": "Ann"}
    # only the first three cells are looked at, and a raw cell without the --- fences does not count
    late = new_notebook(cells=[new_markdown_cell("a"), new_markdown_cell("b"), new_raw_cell("plain raw"),
                               new_raw_cell(FRONT)])
    assert nm.front_matter(late) == ({}, None)
    with pytest.raises(nm.RenderError, match="not valid YAML"):
        nm.front_matter(new_notebook(cells=[new_raw_cell("---\ntitle: [unclosed\n---")]))


def test_by_lang_resolves_variants_and_drops_the_other_language():
    meta, _ = nm.front_matter(new_notebook(cells=[new_raw_cell(FRONT)]))
    zh = nm.by_lang(meta, "zh")
    assert zh == {"title": "费用", "subtitle": "地区", "author": {"name": "Ann"}}   # a non-language map kept
    en = nm.by_lang(meta, "en")
    assert en == {"title": "Costs", "subtitle": "Region", "author": {"name": "Ann"}}
    assert nm.by_lang({"fig-cap": "A", "fig-cap-en": "B"}, "en") == {"fig-cap": "B"}  # -en overrides too
    assert nm.by_lang({"note": {"en": "only English"}}, "zh") == {"note": "only English"}


def test_cell_options_edge_cases():
    assert nm.parse_cell_options("#|label: fig-b\nplot()") == ({"label": "fig-b"}, "plot()")   # no space
    assert nm.parse_cell_options("#| - a\n#| - b\nbody") == ({}, "body")    # not a mapping: no options
    assert nm.parse_cell_options("x = 1\n#| late: option") == ({}, "x = 1\n#| late: option")
    opts, body = nm.parse_cell_options("#| echo: false\n#| fig-width: 5\n\nplot()")
    assert opts == {"echo": False, "fig-width": 5} and body == "\nplot()"
    # a caption with a colon is the caption, not a mapping {"Cost per case": "east"}
    opts, _ = nm.parse_cell_options("#| label: fig-a\n#| fig-cap: Cost per case: east\nplot()")
    assert opts == {"label": "fig-a", "fig-cap": "Cost per case: east"}
    assert nm.parse_cell_options("#| fig-cap: 'A: b'\nx")[0] == {"fig-cap": "A: b"}


def test_localise_notebook_keeps_one_language():
    nb = new_notebook(cells=[
        new_raw_cell(FRONT),
        new_markdown_cell("English", metadata={"tags": ["lang-en"]}),
        new_markdown_cell("中文", metadata={"tags": ["lang-zh"]}),
        new_markdown_cell("both"),
        new_code_cell("#| label: fig-a\n#| fig-cap: Cost\n#| fig-cap-zh: 费用\nplot()"),
    ])
    zh = nm.localise_notebook(nb, "zh")
    assert [c.source for c in zh.cells if c.cell_type == "markdown"] == ["中文", "both"]
    meta, idx = nm.front_matter(zh)
    assert idx == 0 and meta["title"] == "费用" and meta["lang"] == "zh-CN" and "title-zh" not in meta
    opts, body = nm.parse_cell_options(zh.cells[-1].source)
    assert opts == {"label": "fig-a", "fig-cap": "费用"} and body == "plot()"
    assert len(nb.cells) == 5 and "fig-cap-zh" in nb.cells[-1].source        # the input is left alone
    # no front matter: one is added, naming the language
    bare = nm.localise_notebook(new_notebook(cells=[new_markdown_cell("x")]), "en")
    assert nm.front_matter(bare) == ({"lang": "en"}, 0)


def _svg(width_pt: float) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_pt}pt" height="100pt"></svg>'


def _html_table() -> str:
    import pandas as pd
    return pd.DataFrame({"mean_cost": [21500.0], "region": ["east"]}).to_html()


def test_markdown_of_raw_cells_outputs_tables_and_figures(tmp_path):
    nb = new_notebook(cells=[
        new_raw_cell(FRONT),
        new_raw_cell("*raw markdown*", metadata={"format": "text/markdown"}),
        new_raw_cell("<b>raw html</b>", metadata={"raw_mimetype": "text/html"}),
        new_raw_cell("#set page(flipped: true)", metadata={"format": "typst"}),
        new_raw_cell("DROPPED latex", metadata={"format": "text/latex"}),
        new_markdown_cell("See @fig-b first.\n\n{{< pagebreak >}}"),
        new_markdown_cell("GONE", metadata={"tags": ["remove-cell"]}),
        new_code_cell("#| output: false\nx", outputs=[new_output("stream", name="stdout", text="HIDDEN OUTPUT\n")]),
        new_code_cell("#| error: true\nboom()", outputs=[new_output("error", ename="KeyError", evalue="'x'",
                                                                    traceback=[])]),
        new_code_cell("#| warning: true\nwarn()", outputs=[new_output("stream", name="stderr", text="careful\n")]),
        new_code_cell("#| label: tbl-cost\n#| tbl-cap: Mean cost\nt",
                      outputs=[new_output("execute_result", data={"text/html": _html_table()}, execution_count=1)]),
        new_code_cell("#| label: fig-a\n#| fig-cap: First\n#| fig-alt: A bar chart\nf", outputs=[
            new_output("display_data", data={"image/svg+xml": _svg(230.4)}),     # 230.4 pt = 3.2 in = 50%
            new_output("display_data", data={"image/png": base64.b64encode(b"not really a png").decode()})]),
        new_code_cell("#| label: fig-b\n#| fig-cap: Second\ng",
                      outputs=[new_output("display_data", data={"image/svg+xml": _svg(460.8)})]),  # 6.4 in
    ])
    body, meta = nm.notebook_to_markdown(nb, "en", tmp_path / "media")
    assert meta["title"] == "Costs" and meta["toc"] is False                # toc from reports/_quarto.yml
    assert "*raw markdown*" in body and "```{=html}\n<b>raw html</b>\n```" in body
    assert "```{=typst}\n#set page(flipped: true)\n```" in body and "DROPPED" not in body
    assert "GONE" not in body and "HIDDEN OUTPUT" not in body
    assert "```{.output .error}\nKeyError: 'x'\n```" in body and "careful" in body
    assert "#pagebreak()" in body and "{{<" not in body
    # the HTML table became a pipe table with a numbered caption and its label
    assert "::: {#tbl-cost .table-wrap}\n| Mean cost (yuan) | Region |" in body
    assert "| 21,500.0 | east |" in body and ": Table 1: Mean cost\n:::" in body
    # figures numbered in order; a reference before its figure resolves; the width from the SVG's size
    assert "See [Figure 2](#fig-b) first." in body
    assert '![Figure 1: First](media/fig-a-1.svg){#fig-a width="50%" alt="A bar chart"}' in body
    assert '![Figure 2: Second](media/fig-b-3.svg){#fig-b width="100%" alt="Second"}' in body
    # the second image of a cell is a plain image: no caption, no label, no width it cannot measure
    assert '![](media/fig-a-2.png){alt="A bar chart"}' in body
    assert sorted(p.name for p in (tmp_path / "media").iterdir()) == ["fig-a-1.svg", "fig-a-2.png", "fig-b-3.svg"]


def test_markdown_in_chinese_numbers_with_chinese_words(tmp_path):
    nb = new_notebook(cells=[
        new_raw_cell(FRONT),
        new_markdown_cell("见 @tbl-x。", metadata={"tags": ["lang-zh"]}),
        new_markdown_cell("See @tbl-x.", metadata={"tags": ["lang-en"]}),
        new_code_cell("#| label: tbl-x\n#| tbl-cap: Cost\n#| tbl-cap-zh: 费用\nt", outputs=[
            new_output("execute_result", data={"text/markdown": "| a | b |\n|:--|--:|\n| x | 1 |\n"},
                       execution_count=1)]),
    ])
    body, meta = nm.notebook_to_markdown(nb, "zh", tmp_path / "m")
    assert meta["title"] == "费用" and "See" not in body
    assert "见 [表 1](#tbl-x)。" in body and ": 表 1：费用" in body
