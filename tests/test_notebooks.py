"""The four report notebooks: their conventions (front matter in both languages, a parameters
cell, captions in both languages) and a clean run through papermill on a real results folder,
with parameters other than the defaults (a region whose cells are all suppressed, overridden
thresholds, band and willingness to pay, Chinese, the pooled-vs-federated check)."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from fedcost.paths import PROJECT_ROOT

sys.path.insert(0, str(Path(__file__).parent))
import reader  # noqa: E402
from report_helpers import REPORTS, make_results  # noqa: E402

NOTEBOOKS = PROJECT_ROOT / "notebooks"


@pytest.fixture(scope="session")
def report_results(tmp_path_factory):
    return make_results(tmp_path_factory.getbasetemp() / "report-results")


# ------------------------------------------------------------------ conventions (fast)
@pytest.mark.parametrize("name", REPORTS)
def test_notebook_follows_the_report_conventions(name):
    from fedcost.reporting.notebook_markdown import front_matter, parse_cell_options

    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    meta, idx = front_matter(nb)
    assert idx == 0 and meta.get("title") and meta.get("title-zh") and meta.get("lang") == "en"
    assert meta.get("execute", {}).get("echo") is False
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    names = set(re.findall(r"^(\w+)\s*=", params[0].source, flags=re.M))
    assert {"results_dir", "lang"} <= names
    for cell in nb.cells:
        if cell.cell_type == "code":
            opts, _ = parse_cell_options(cell.source)
            assert "echo" not in opts or opts["echo"] is False, "code must stay hidden"
            if str(opts.get("label", "")).startswith("fig-"):
                assert opts.get("fig-cap") and opts.get("fig-cap-zh"), f"{name}: {opts['label']} needs both captions"
            if str(opts.get("label", "")).startswith("tbl-"):
                assert opts.get("tbl-cap") and opts.get("tbl-cap-zh"), f"{name}: {opts['label']} needs both captions"
    tagged = [tg for c in nb.cells if c.cell_type == "markdown" for tg in c.metadata.get("tags", [])]
    assert tagged.count("lang-en") == tagged.count("lang-zh") > 0, "prose comes in both languages"
    assert all(c.cell_type != "markdown" or {"lang-en", "lang-zh"} & set(c.metadata.get("tags", []))
               for c in nb.cells), "untagged prose would show in both languages"
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"


def test_demo_parameters_name_the_notebooks_and_folders():
    from fedcost.reporting.build import load_params
    p = load_params(PROJECT_ROOT / "reports" / "params" / "demo.yaml")
    assert p.languages == ["en", "zh"] and set(p.notebooks) == set(REPORTS)
    assert Path(p.values["results_dir"]) == (PROJECT_ROOT / "demo_output" / "results").resolve()
    assert Path(p.values["data_dir"]) == (PROJECT_ROOT / "demo_output" / "data").resolve()


# ------------------------------------------------------------------ papermill runs
def _text(executed: Path) -> str:
    nb = json.loads(executed.read_text(encoding="utf-8"))
    out = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            if "text" in o:
                out.append("".join(o["text"]))
            for mime in ("text/markdown", "text/plain"):
                if mime in o.get("data", {}):
                    out.append("".join(o["data"][mime]))
    return "\n".join(out)


CASES = {
    # a region whose every cell the disclosure rules withhold, and a red line of the reader's
    "regional_cost_report": ({"lang": "en", "region": "east", "growth_red": 0.12},
                             ["suppressed", "0.12 → 12%", "Per-case cost in 2024: suppressed"]),
    # Chinese, and a narrower cost-coefficient band
    "hospital_benchmarking": ({"lang": "zh", "band_low": 0.9, "band_high": 1.1}, ["0.9–1.1", "病例组合"]),
    # Chinese, and no data for the pooled-vs-federated check (the end-to-end test runs it with data)
    "cost_model": ({"lang": "zh"}, ["本核对需要原始数据", "偏差解释比例"]),
    # a willingness to pay of the reader's, in Chinese
    "cost_effectiveness": ({"lang": "zh", "wtp": 20000}, ["每 QALY 20,000 元", "报告参数"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", REPORTS)
def test_notebook_runs_through_papermill_without_errors(name, report_results, tmp_path):
    from fedcost.reporting.execute import execute

    _, results = report_results
    params, expected = CASES[name]
    executed = execute(NOTEBOOKS / f"{name}.ipynb", {"results_dir": str(results), **params}, tmp_path)
    assert reader.notebook_errors(executed) == []
    text = _text(executed)
    for snippet in expected:
        assert snippet in text, f"{name}: {snippet!r} not in the outputs"
    assert "Traceback" not in text


def test_missing_results_folder_is_explained(tmp_path):
    from fedcost.reporting.content import ResultsNotFound, StudyView
    with pytest.raises(ResultsNotFound, match="fedcost run"):
        StudyView.read(tmp_path / "nothing-here")
