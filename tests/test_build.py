"""fedcost.reporting.build, the fast parts: the parameters file, finding notebooks, the checks made
before any notebook runs, and the index page (no notebook is executed, no PDF rendered)."""
from __future__ import annotations

import json

import pytest

from fedcost.errors import UsageError
from fedcost.reporting import build
from fedcost.reporting.build import BuiltReport, load_params, params_from_mapping


def test_languages_are_normalised_and_deduplicated(tmp_path):
    assert params_from_mapping({"lang": ["zh_CN", "zh", "en-GB"]}, base=tmp_path).languages == ["zh", "en"]
    assert params_from_mapping({"languages": "ZH"}, base=tmp_path).languages == ["zh"]
    assert params_from_mapping({}, base=tmp_path).languages == ["en"]
    assert params_from_mapping({"lang": []}, base=tmp_path).languages == ["en"]
    with pytest.raises(UsageError, match="unknown report language 'fr'; choose from en, zh"):
        params_from_mapping({"lang": ["en", "fr"]}, base=tmp_path)


def test_path_values_resolve_against_the_base_folder_and_nothing_else(tmp_path):
    absolute = str(tmp_path / "abs" / "results")
    p = params_from_mapping({
        "results_dir": "out/results", "policy_file": "../policy.yaml", "cache_path": absolute,
        "data_folder": "", "region": "east/west", "growth_red": 0.1, "notebooks": "cost_model",
        "per_notebook": {"cost_model": {"data_dir": "data", "wtp": 20000}},
    }, base=tmp_path / "params")
    base = (tmp_path / "params").resolve()
    assert p.values == {"results_dir": str(base / "out" / "results"), "policy_file": str(base.parent / "policy.yaml"),
                        "cache_path": absolute, "data_folder": "", "region": "east/west", "growth_red": 0.1}
    assert p.notebooks == ["cost_model"]                              # one name becomes a list
    assert p.per_notebook == {"cost_model": {"data_dir": str(base / "data"), "wtp": 20000}}
    # per notebook: its overrides, and the language; the shared values are not changed by it
    assert p.for_notebook("cost_model", "zh")["data_dir"] == str(base / "data")
    assert p.for_notebook("cost_model", "zh")["lang"] == "zh" and "lang" not in p.values
    assert "data_dir" not in p.for_notebook("other", "en")
    with pytest.raises(UsageError, match="per_notebook must map notebook names"):
        params_from_mapping({"per_notebook": ["cost_model"]}, base=tmp_path)


def test_load_params_without_a_file_and_from_one(tmp_path):
    default = load_params(None)
    assert default.values == {} and default.languages == ["en"] and default.notebooks == [] and default.source is None
    f = tmp_path / "p.yaml"
    f.write_text("lang: zh\nresults_dir: r\n", encoding="utf-8")
    p = load_params(f)
    assert p.source == f and p.languages == ["zh"] and p.values == {"results_dir": str((tmp_path / "r").resolve())}


def test_notebooks_are_found_by_name_and_fixtures_are_left_out(tmp_path):
    for name in ("b_report", "a_report", "_example", ".hidden"):
        (tmp_path / f"{name}.ipynb").write_text("{}", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("", encoding="utf-8")
    assert build.available_notebooks(tmp_path) == ["a_report", "b_report"]
    assert build.resolve_notebook("a_report", tmp_path) == tmp_path / "a_report.ipynb"
    assert build.resolve_notebook("b_report.ipynb", tmp_path) == tmp_path / "b_report.ipynb"
    assert build.resolve_notebook("_example", tmp_path) == tmp_path / "_example.ipynb"   # by name it is allowed
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    own = tmp_path / "a_report.ipynb"
    assert build.resolve_notebook(str(own), elsewhere) == own                           # a path is taken as is
    with pytest.raises(UsageError, match=r"unknown notebook 'missing'; available in .*: a_report, b_report"):
        build.resolve_notebook("missing", tmp_path)
    with pytest.raises(UsageError, match=r"\(none\)"):
        build.resolve_notebook("missing", elsewhere)


def test_build_reports_checks_before_running_anything(tmp_path):
    empty = tmp_path / "nbs"
    empty.mkdir()
    params = params_from_mapping({}, base=tmp_path)
    with pytest.raises(UsageError, match="no report notebooks in"):
        build.build_reports(params, tmp_path / "out", notebooks_dir=empty, progress=None)
    (empty / "quick.ipynb").write_text("{}", encoding="utf-8")
    with pytest.raises(UsageError, match="unknown notebook 'nope'"):
        build.build_reports(params, tmp_path / "out", notebooks=["nope"], notebooks_dir=empty, progress=None)
    with pytest.raises(UsageError, match="unknown report language"):
        build.build_reports(params, tmp_path / "out", languages=["fr"], notebooks_dir=empty, progress=None)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(UsageError, match="exists and is not a folder"):
        build.build_reports(params, blocker, notebooks_dir=empty, languages=["en"], progress=None)
    # nothing was made: no output folder, no staging folder left beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "nbs"]


def test_index_merges_reports_and_forgets_those_whose_files_are_gone(tmp_path):
    for name in ("a.en.html", "a.en.pdf", "a.zh.html", "b.en.html"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    build.write_index(tmp_path, [BuiltReport("a", "zh", "标题 [A]", {"html": tmp_path / "a.zh.html"}),
                                 BuiltReport("b", "en", "Report B", {"html": tmp_path / "b.en.html"})])
    # a second build adds a report; the first build's entries stay
    build.write_index(tmp_path, [BuiltReport("a", "en", "Report A", {"html": tmp_path / "a.en.html",
                                                                      "pdf": tmp_path / "a.en.pdf"})])
    rows = json.loads((tmp_path / build.MANIFEST).read_text(encoding="utf-8"))["reports"]
    assert [(r["name"], r["lang"]) for r in rows] == [("a", "en"), ("a", "zh"), ("b", "en")]   # English first
    assert rows[0]["pdf"] == "a.en.pdf" and rows[1]["title"] == "标题 [A]"
    html = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert '<a href="a.en.pdf">PDF</a>' in html and "Report B" in html and "Chinese · 中文" in html
    assert "标题 [A]" in html                                    # brackets escaped, not read as a link
    (tmp_path / "b.en.html").unlink()
    build.write_index(tmp_path)
    rows = json.loads((tmp_path / build.MANIFEST).read_text(encoding="utf-8"))["reports"]
    assert [(r["name"], r["lang"]) for r in rows] == [("a", "en"), ("a", "zh")]
    assert "Report B" not in (tmp_path / "index.html").read_text(encoding="utf-8")
