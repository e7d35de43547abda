"""Rendering the dictionary: terminal text, Markdown and HTML, English and Chinese."""
from __future__ import annotations

import subprocess
import sys

import pytest

from fedcost.data.dictionary import Dictionary
from fedcost.data.dictionary_render import render_file, render_html, render_markdown, render_text

D = Dictionary.load()


@pytest.mark.parametrize("render", [render_markdown, render_html, render_text])
def test_every_field_rule_and_version(render):
    out = render(D, "both")
    for name in D.fields:
        assert name in out
    for rule in D.rules:
        assert rule["name"] in out
    assert D.version in out
    assert "出院日期" in out and "Date of discharge" in out


def test_languages_and_drg_weights():
    zh = render_markdown(D, "zh")
    assert "出院日期" in zh and "Date of discharge" not in zh and "脑缺血性疾患" in zh
    en = render_html(D, "en")
    assert "Date of discharge" in en and "出院日期" not in en
    drg = D.code_table("drg_code")
    assert str(drg["weight"].iloc[0]) in render_markdown(D, "en")
    assert "<table>" in en and en.startswith("<!DOCTYPE html>")


def test_render_file_is_written_whole(tmp_path):
    out = render_file(D, tmp_path / "sub" / "dict.html", "both")
    assert out.read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert [p.name for p in out.parent.iterdir()] == ["dict.html"]  # no temp file left
    with pytest.raises(ValueError):
        render_file(D, tmp_path / "dict.pdf")


def test_cli_show_and_render(tmp_path):
    cli = [sys.executable, "-m", "fedcost.cli", "dictionary"]
    r = subprocess.run(cli + ["show"], capture_output=True, text=True, encoding="utf-8")
    assert r.returncode == 0 and "drg_code" in r.stdout and "住院" in r.stdout
    for suffix, lang in ((".md", "zh"), (".html", "both")):
        out = tmp_path / f"d{suffix}"
        r = subprocess.run(cli + ["render", "--out", str(out), "--lang", lang], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "总费用" in out.read_text(encoding="utf-8")
    r = subprocess.run(cli + ["render", "--out", str(tmp_path / "d.txt")], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
