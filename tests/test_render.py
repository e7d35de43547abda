"""Rendering executed notebooks to HTML and PDF, checked as a reader would see them.

Fast tests feed the embedded renderer hand-made executed notebooks; the slow ones execute
notebooks/_example_report.ipynb with papermill in English and Chinese and read the results.
"""
from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from fedcost.reporting import fonts, render as render_mod
from fedcost.reporting.notebook_markdown import notebook_to_markdown, parse_cell_options
from fedcost.reporting.render import render

sys.path.insert(0, str(Path(__file__).parent))
import reader  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "notebooks" / "_example_report.ipynb"
NEEDS = [t for t in ("pdftotext", "pdffonts", "pdftoppm") if not reader.have(t)]


def _png_bytes(colour=(0, 114, 178)):
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (320, 200), colour).save(buf, format="PNG", dpi=(50, 50))
    return buf.getvalue()


def _executed_nb():
    """An 'executed' notebook with the outputs a report makes, no kernel needed."""
    md_table = "| indicator | value |\n|:--|--:|\n| Per-case cost | 12,345 |\n"
    cells = [
        new_raw_cell('---\ntitle: "Plain title"\ntitle-zh: "中文标题"\nlang: en\n---'),
        new_code_cell('lang = "en"', metadata={"tags": ["parameters"]}),
        new_code_cell('lang = "zh"', metadata={"tags": ["injected-parameters"]}),
        new_markdown_cell("## Findings\n\nSee @fig-one and @tbl-kpi; @fig-unknown stays text.",
                          metadata={"tags": ["lang-en"]}),
        new_markdown_cell("## 发现\n\n见 @fig-one。", metadata={"tags": ["lang-zh"]}),
        new_code_cell("#| label: tbl-kpi\n#| tbl-cap: Key indicators\n#| tbl-cap-zh: 关键指标\nSECRET_TABLE_CODE()",
                      outputs=[new_output("execute_result", data={"text/markdown": md_table, "text/plain": "x"},
                                          execution_count=1)]),
        new_code_cell("#| label: fig-one\n#| fig-cap: The first figure\nSECRET_FIGURE_CODE()",
                      outputs=[new_output("display_data", data={
                          "image/png": base64.b64encode(_png_bytes()).decode(), "text/plain": "<Figure>"})]),
        new_code_cell("import warnings; warnings.warn('noise')",
                      outputs=[new_output("stream", name="stderr", text="UserWarning: noise\n")]),
        new_code_cell("#| echo: true\nshown_code = 1",
                      outputs=[new_output("stream", name="stdout", text="printed value 42\n")]),
        new_code_cell("#| include: false\nhidden_entirely()",
                      outputs=[new_output("stream", name="stdout", text="INVISIBLE\n")]),
        new_code_cell("#| output: asis\nprint('**bold markdown**')",
                      outputs=[new_output("stream", name="stdout", text="**bold markdown**\n")]),
    ]
    return new_notebook(cells=cells)


def test_cell_options_parse():
    opts, body = parse_cell_options("#| label: fig-x\n#| fig-cap: \"A: caption\"\n#| echo: true\nplot()")
    assert opts == {"label": "fig-x", "fig-cap": "A: caption", "echo": True}
    assert body == "plot()"


def test_markdown_follows_the_cell_options(tmp_path):
    body, meta = notebook_to_markdown(_executed_nb(), "en", tmp_path / "media")
    assert meta["title"] == "Plain title"
    assert "SECRET_TABLE_CODE" not in body and "SECRET_FIGURE_CODE" not in body  # echo false by default
    assert "shown_code = 1" in body and "printed value 42" in body                # echo: true
    assert "INVISIBLE" not in body and "hidden_entirely" not in body               # include: false
    assert "noise" not in body                                                      # warnings hidden
    assert "lang = " not in body                                                    # parameter cells
    assert "## Findings" in body and "发现" not in body                            # language filter
    assert "[Figure 1](#fig-one)" in body and "[Table 1](#tbl-kpi)" in body         # cross-references
    assert "\\@fig-unknown" in body
    assert "Table 1: Key indicators" in body and "Figure 1: The first figure" in body
    assert "**bold markdown**" in body and "```" in body
    assert len(list((tmp_path / "media").glob("*.png"))) == 1


def test_chinese_variant_resolves_title_captions_and_numbering(tmp_path):
    body, meta = notebook_to_markdown(_executed_nb(), "zh", tmp_path / "media")
    assert meta["title"] == "中文标题"
    assert "表 1：关键指标" in body and "[图 1](#fig-one)" in body
    assert "## Findings" not in body


def test_embedded_html_is_one_self_contained_file(tmp_path):
    nb_path = tmp_path / "made.en.ipynb"
    nbformat.write(_executed_nb(), str(nb_path))
    out = render(nb_path, tmp_path / "out", formats=("html",), lang="en", engine="embedded")
    html = out["html"].read_text(encoding="utf-8")
    assert out["html"].name == "made.en.html"
    assert '<html lang="en">' in html and "<h1 class=\"title\">Plain title</h1>" in html
    assert "<table" in html and "Figure 1: The first figure" in html
    assert reader.html_images(out["html"])[0].startswith("data:image/png;base64,")
    assert reader.html_broken_images(out["html"], browser=False) == []
    assert not list((tmp_path / "out").glob("*media*"))


def test_broken_images_are_reported(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text('<html><body><img src="data:image/png;base64,AAAA"><img src="missing.png">'
                    '<img src="https://example.org/x.png"></body></html>')
    problems = reader.html_broken_images(page, browser=False)
    assert len(problems) == 3


def test_chinese_without_a_cjk_font_says_what_to_install(tmp_path, monkeypatch):
    nb_path = tmp_path / "made.zh.ipynb"
    nbformat.write(_executed_nb(), str(nb_path))
    monkeypatch.setattr(fonts, "find_cjk_font", lambda: None)
    with pytest.raises(fonts.MissingFontError, match="fonts-noto-cjk"):
        render(nb_path, tmp_path / "out", lang="zh", engine="embedded")


# ------------------------------------------------------------------ the example report, for real
@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example notebook executed (papermill) and rendered (embedded) in both languages."""
    from fedcost.reporting.execute import execute
    if NEEDS:
        pytest.skip(f"poppler-utils missing ({', '.join(NEEDS)}): apt-get install poppler-utils")
    out = tmp_path_factory.mktemp("example")
    made = {}
    for lang in ("en", "zh"):
        if lang == "zh" and fonts.find_cjk_font() is None:
            continue
        executed = execute(EXAMPLE, {"lang": lang, "per_case_cost": 98765.4, "region": "Testshire"}, out)
        made[lang] = {"ipynb": executed, **render(executed, out, lang=lang, engine="embedded")}
    return made


@pytest.mark.slow
def test_pdf_has_sections_numbers_and_no_blank_page(example):
    text = reader.pdf_text(example["en"]["pdf"])
    for heading in ("Example cost-control report", "Headline findings", "Key indicators",
                    "Hospital comparison", "Trends and early warning", "Cost structure",
                    "DRG payment versus cost", "Methods and data quality"):
        assert heading in text
    assert "98,765 yuan" in text and "Testshire" in text    # parameters reached the report
    assert "Figure 1:" in text and "Table 1:" in text and "Table 3: Parameters and versions" in text
    assert "FR23" in text and "+11.0%" in text                # a plain DataFrame became a table
    assert "Data dictionary version" in text
    assert "import " not in text                             # code is hidden
    pages = reader.pdf_pages_nonblank(example["en"]["pdf"])
    assert len(pages) >= 2 and all(pages)
    assert reader.pdf_page_count(example["en"]["pdf"]) == len(pages)


@pytest.mark.slow
def test_chinese_pdf_is_written_in_a_cjk_font(example):
    if "zh" not in example:
        pytest.skip("no CJK font installed")
    pdf = example["zh"]["pdf"]
    text = reader.pdf_text(pdf)
    for heading in ("费用管控示例报告", "主要发现", "关键指标", "医院间比较", "方法与数据质量"):
        assert heading in text
    assert "98,765 元" in text and "表 1：关键指标与政策目标" in text
    assert "Headline findings" not in text                   # English cells dropped
    assert any("CJK" in f or "Han" in f or "Hei" in f for f in reader.pdf_fonts(pdf))
    pages = reader.pdf_pages_nonblank(pdf)
    assert pages and all(pages)


@pytest.mark.slow
def test_html_images_load_and_the_page_shows(example, tmp_path):
    chromium = reader.have("chromium")
    for lang, files in example.items():
        html = files["html"]
        assert len(reader.html_images(html)) == 3             # funnel, trend, structure
        # in Chromium: images of the English page load, the Chinese page shows (one browser run each)
        assert reader.html_broken_images(html, browser=chromium and lang == "en") == []
        text = html.read_text(encoding="utf-8")
        assert "<script" not in text.lower() and "http://" not in text and "https://" not in text
        assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in text
        if chromium and lang == (max(example)):
            shot = reader.html_screenshot(html, tmp_path / f"{lang}.png")
            assert reader.png_nonblank(shot)
    if not chromium:
        pytest.skip("chromium missing: static image checks only")


@pytest.mark.slow
def test_executed_notebooks_are_clean_audit_copies(example):
    for lang, files in example.items():
        assert reader.notebook_errors(files["ipynb"]) == []
        nb = nbformat.read(str(files["ipynb"]), as_version=4)
        assert nb.metadata["papermill"]["parameters"]["lang"] == lang
        assert nb.metadata["papermill"]["parameters"]["per_case_cost"] == 98765.4


def test_quarto_is_used_when_on_path(tmp_path, monkeypatch):
    """With `quarto` on PATH, render hands the localised notebook to `quarto render` (faked here)."""
    fake = tmp_path / "bin" / "quarto"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n# fake quarto: record the call, make the output\n"
                    "echo \"$@\" >> \"$FAKE_QUARTO_LOG\"\n"
                    "base=${2%.ipynb}\n"
                    "if [ \"$4\" = html ]; then echo '<html></html>' > \"$base.html\"; else echo '%PDF-1.7' > \"$base.pdf\"; fi\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("FAKE_QUARTO_LOG", str(tmp_path / "calls.log"))
    monkeypatch.delenv("FEDCOST_RENDERER", raising=False)
    nb_path = tmp_path / "made.en.ipynb"
    nbformat.write(_executed_nb(), str(nb_path))
    out = render(nb_path, tmp_path / "out", lang="en")
    assert out["html"].read_text().startswith("<html>") and out["pdf"].read_text().startswith("%PDF")
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert any("--to html" in c and "--no-execute" in c for c in calls)
    assert any("--to typst" in c for c in calls)
    assert render_mod.quarto_path() == str(fake)
