"""`fedcost report`: parameters file, notebooks, languages, index page, all-or-nothing output."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from fedcost.cli import main
from fedcost.reporting import fonts
from fedcost.reporting.build import load_params

sys.path.insert(0, str(Path(__file__).parent))
import reader  # noqa: E402


def _quick_notebook(folder: Path, name="quick", fail=False):
    """A report notebook with no heavy imports, so the CLI test costs a kernel start only."""
    return reader.write_notebook(folder / f"{name}.ipynb", [
        ("code", 'lang = "en"\nper_case_cost = 0.0\nfail = False', ["parameters"]),
        ("md", "## Findings\n\nThe figures below come from the parameters.", ["lang-en"]),
        ("md", "## 主要发现\n\n以下数字来自参数。", ["lang-zh"]),
        ("code", "#| output: asis\nprint(f'Per-case cost: **{per_case_cost:,.0f}**')"),
        ("code", "#| label: boom\nif fail:\n    raise RuntimeError('the results folder is empty')"),
    ], front_matter='title: "Quick report"\ntitle-zh: "快速报告"')


def _params(tmp_path, text):
    f = tmp_path / "params.yaml"
    f.write_text(text, encoding="utf-8")
    return f


def test_missing_params_file_is_a_usage_error(tmp_path, capsys):
    code = main(["report", "--params", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "no such parameters file" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_bad_yaml_is_bad_input_and_an_unknown_language_a_usage_error(tmp_path, capsys):
    bad = _params(tmp_path, "lang: [en\n")  # the one rule of fedcost.config: a malformed file is bad input
    assert main(["report", "--params", str(bad), "--out", str(tmp_path / "o")]) == 1
    assert f"{bad}: not valid YAML" in capsys.readouterr().err
    fr = _params(tmp_path, "lang: fr\n")
    assert main(["report", "--params", str(fr), "--out", str(tmp_path / "o")]) == 2
    assert "unknown report language 'fr'" in capsys.readouterr().err


def test_unknown_notebook_lists_the_available_ones(tmp_path, capsys):
    _quick_notebook(tmp_path / "nbs")
    p = _params(tmp_path, "lang: en\n")
    code = main(["report", "--params", str(p), "--out", str(tmp_path / "out"), "--notebook", "missing",
                 "--notebooks-dir", str(tmp_path / "nbs")])
    err = capsys.readouterr().err
    assert code == 2 and "unknown notebook 'missing'" in err and "quick" in err
    assert not (tmp_path / "out").exists()


def test_relative_paths_in_params_resolve_against_the_file(tmp_path):
    p = _params(tmp_path, "lang: [en, zh]\nresults_dir: results\nthreshold: 0.08\n"
                          "notebooks: [a]\nper_notebook: {a: {threshold: 0.1}}\n")
    params = load_params(p)
    assert params.languages == ["en", "zh"] and params.notebooks == ["a"]
    assert params.values["results_dir"] == str((tmp_path / "results").resolve())
    assert params.for_notebook("a", "zh") == {"results_dir": str((tmp_path / "results").resolve()),
                                              "threshold": 0.1, "lang": "zh"}
    assert params.for_notebook("b", "en")["threshold"] == 0.08


@pytest.mark.slow
def test_report_renders_each_language_and_an_index(tmp_path, capsys):
    langs = ["en", "zh"] if fonts.find_cjk_font() else ["en"]
    _quick_notebook(tmp_path / "nbs")
    p = _params(tmp_path, f"lang: [{', '.join(langs)}]\nper_case_cost: 54321\n")
    out = tmp_path / "site"
    code = main(["report", "--params", str(p), "--out", str(out), "--notebooks-dir", str(tmp_path / "nbs")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "[1/%d] quick (en): executing" % len(langs) in captured.out and "rendered in" in captured.out
    for lang in langs:
        for ext in ("html", "pdf", "ipynb"):
            assert (out / f"quick.{lang}.{ext}").is_file()
            assert str(out / f"quick.{lang}.{ext}") in captured.out
        assert reader.notebook_errors(out / f"quick.{lang}.ipynb") == []
    if reader.have("pdftotext"):
        assert "54,321" in reader.pdf_text(out / "quick.en.pdf")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="quick.en.html"' in index and 'href="quick.en.pdf"' in index and "Quick report" in index
    if "zh" in langs:
        assert 'href="quick.zh.html"' in index and "快速报告" in index
    manifest = json.loads((out / "reports.json").read_text(encoding="utf-8"))
    assert [(r["name"], r["lang"]) for r in manifest["reports"]] == [("quick", lg) for lg in langs]
    assert not [p for p in tmp_path.iterdir() if ".staging-" in p.name]
    assert reader.html_broken_images(out / "index.html", browser=False) == []


@pytest.mark.slow
def test_a_failed_cell_leaves_the_output_folder_untouched(tmp_path, capsys):
    _quick_notebook(tmp_path / "nbs")
    out = tmp_path / "site"
    out.mkdir()
    (out / "keep.txt").write_text("earlier run")
    p = _params(tmp_path, "lang: en\nfail: true\n")
    code = main(["report", "--params", str(p), "--out", str(out), "--notebooks-dir", str(tmp_path / "nbs")])
    err = capsys.readouterr().err
    assert code == 1
    assert "code cell 3 of 3 (boom) failed: RuntimeError: the results folder is empty" in err
    assert "Traceback" not in err and "nothing was written" in err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if ".staging-" in p.name]
    kept = Path(err.split("full traceback: ")[1].split()[0])
    assert kept.is_file() and reader.notebook_errors(kept)        # the failed copy, for debugging
