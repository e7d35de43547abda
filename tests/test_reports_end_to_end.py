"""The four reports rendered by `build_reports` from a real `fedcost run`, checked as a reader would:
what the PDF says (section headings, and the headline numbers equal to the result tables, formatted
the same way), that every page shows something, that the HTML's images load in Chromium, and that
the Chinese report is written in a CJK font with Chinese headings."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from fedcost.reporting import fonts

sys.path.insert(0, str(Path(__file__).parent))
import reader  # noqa: E402
from report_helpers import REPORTS, make_results  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Every report in English, the regional report also in Chinese (one build each)."""
    from fedcost.reporting.build import build_reports, params_from_mapping

    for tool in ("pdftotext", "pdftoppm", "pdffonts"):
        if not reader.have(tool):
            pytest.skip(f"{tool} (poppler-utils) is not installed")
    data, results = make_results(tmp_path_factory.getbasetemp() / "report-results")
    out = tmp_path_factory.mktemp("site")
    params = params_from_mapping({"results_dir": str(results), "data_dir": str(data)})
    built = build_reports(params, out, notebooks=REPORTS, languages=["en"], progress=None)
    if fonts.find_cjk_font() is not None:
        built += build_reports(params, out, notebooks=["regional_cost_report"], languages=["zh"], progress=None)
    return {"out": out, "results": results, "data": data,
            "reports": {(b.name, b.lang): b.files for b in built}}


def _flat(text: str) -> str:
    """PDF text with line breaks and hyphenation joined, runs of spaces collapsed, word joiners dropped."""
    return re.sub(r"\s+", " ", text.replace("\u00ad", "").replace("\u2060", "")).strip()


def _pdf(site, name, lang="en") -> str:
    return _flat(reader.pdf_text(site["reports"][(name, lang)]["pdf"]))


HEADINGS = {
    "regional_cost_report": ["Headline findings", "Key indicators", "Hospital comparison", "Trends and early warning",
                             "Cost structure", "DRG payment versus cost", "Cost-effectiveness",
                             "Methods and data quality"],
    "hospital_benchmarking": ["Summary", "Observed / expected cost", "Case mix and cost difference coefficient",
                              "DRG relative weights", "Method notes"],
    "cost_model": ["Model", "Coefficients", "Diagnostics from aggregates", "Pooled versus federated check",
                   "Methods and data quality"],
    "cost_effectiveness": ["Headline findings", "Costs and outcomes per strategy", "Incremental results",
                           "Methods and data quality"],
}


@pytest.mark.parametrize("name", REPORTS)
def test_pdf_holds_the_section_headings_and_no_errors(site, name):
    text = _pdf(site, name)
    for heading in HEADINGS[name]:
        assert heading in text, f"{name}: heading {heading!r} missing from the PDF"
    for bad in ("Traceback", "Error:", "KeyError"):
        assert bad not in text, f"{name}: {bad!r} in the PDF"
    assert not re.search(r"\b(nan|NaN|inf)\b", text), f"{name}: a missing number printed as nan/inf"
    assert reader.notebook_errors(site["reports"][(name, "en")]["ipynb"]) == []


def _tables(site):
    from fedcost.results.folder import read_tables
    return read_tables(site["results"])


def _headline_numbers(site, lang: str) -> dict[str, str]:
    """The regional report's headline numbers, formatted from the result tables as the report does."""
    from fedcost.reporting.i18n import fmt_pct, fmt_yuan

    t = _tables(site)
    ry = t["descriptive_by_region_year"]
    years = ry[(ry["region"] == "All") & (ry["period"].astype(str) != "All")].sort_values("period")
    years = years[~years["suppressed"].astype(bool)]
    last, prev = years.iloc[-1], years.iloc[-2]
    growth = last["cost_mean"] / prev["cost_mean"] - 1
    pay = t["payment_gap"]
    total = pay[pay["drg_code"] == "All"].iloc[0]
    inc = t["cea_incremental"].iloc[0]
    return {
        "per-case cost": fmt_yuan(last["cost_mean"], 0, lang),
        "growth": fmt_pct(abs(growth), 1, lang),
        "drug share": fmt_pct(last["share_drugs"], 1, lang),
        "consumables share": fmt_pct(last["share_consumables"], 1, lang),
        "overspend rate": fmt_pct(total["overspend_rate"], 1, lang),
        "ICER": fmt_yuan(inc["icer"], 0, lang),
        "INMB": fmt_yuan(inc["inmb"], 0, lang),
        "O/E low": f"{t['funnel']['oe'].min():,.2f}",
        "O/E high": f"{t['funnel']['oe'].max():,.2f}",
    }


def test_regional_headline_numbers_equal_the_result_tables(site):
    text = _pdf(site, "regional_cost_report")
    headline = text[text.index("Headline findings"):text.index("Key indicators")]
    for what, number in _headline_numbers(site, "en").items():
        assert number in headline, f"headline {what}: {number!r} not in the findings"
    t = _tables(site)
    overall = t["descriptive_overall"].iloc[-1]
    assert f"{int(overall['n']):,}" in text          # KPI table: cases over the whole period
    assert t["kpi"].query("metric == 'admissions'")["value"].iloc[0] == overall["n"]


def test_other_reports_show_the_table_numbers(site):
    t = _tables(site)
    bench = _pdf(site, "hospital_benchmarking")
    for r in t["funnel"].itertuples():
        assert r.hospital in bench and f"{r.oe:.3f}" in bench and f"{r.oe_lower95:.3f}–{r.oe_upper95:.3f}" in bench
    for r in t["hospital_costs"].itertuples():
        assert f"{r.cmi:.3f}" in bench and f"{r.cost_per_weighted_case:,.0f}" in bench
    model = _pdf(site, "cost_model")
    coefs = t["glm_coefficients"].query("analysis == 'cost_model'")
    for r in coefs.itertuples():
        assert f"{r.coef:.4f}" in model.replace("−", "-"), r.term
    assert "Verdict: agree" in model
    cea = _pdf(site, "cost_effectiveness")
    inc = t["cea_incremental"].iloc[0]
    for number in (f"{inc['icer']:,.0f}", f"{inc['delta_cost']:,.0f}", f"{inc['delta_effect']:.3f}",
                   f"{inc['wtp']:,.0f}", f"{inc['inmb']:,.0f}"):
        assert number in cea, number


@pytest.mark.parametrize("key", [(n, "en") for n in REPORTS] + [("regional_cost_report", "zh")])
def test_every_pdf_page_shows_something(site, key):
    if key not in site["reports"]:
        pytest.skip("no CJK font: the Chinese report was not built")
    pages = reader.pdf_pages_nonblank(site["reports"][key]["pdf"])
    assert pages and all(pages), f"{key}: blank pages {[i + 1 for i, ok in enumerate(pages) if not ok]}"


FIGURES = {"regional_cost_report": 7, "hospital_benchmarking": 2, "cost_model": 1, "cost_effectiveness": 2}


@pytest.mark.parametrize("key", [(n, "en") for n in REPORTS] + [("regional_cost_report", "zh")])
def test_html_images_load_in_chromium(site, key, tmp_path):
    if key not in site["reports"]:
        pytest.skip("no CJK font: the Chinese report was not built")
    html = site["reports"][key]["html"]
    browser = reader.have("chromium")
    assert reader.html_broken_images(html, browser=browser) == []
    assert len(reader.html_images(html)) >= FIGURES[key[0]]
    if browser:
        shot = reader.html_screenshot(html, tmp_path / f"{key[0]}.{key[1]}.png")
        assert reader.png_nonblank(shot)


def test_chinese_report_uses_a_cjk_font_and_chinese_headings(site):
    if ("regional_cost_report", "zh") not in site["reports"]:
        pytest.skip("no CJK font installed")
    pdf = site["reports"][("regional_cost_report", "zh")]["pdf"]
    assert any("CJK" in f or "Han" in f or "Hei" in f for f in reader.pdf_fonts(pdf))
    text = _pdf(site, "regional_cost_report", "zh")
    for heading in ("主要发现", "关键指标", "医院间比较", "趋势与预警", "费用结构", "DRG 支付标准与实际成本", "成本效果",
                    "方法与数据质量"):
        assert heading in text, heading
    nums = _headline_numbers(site, "zh")
    headline = text[text.index("主要发现"):text.index("关键指标")]
    for what in ("per-case cost", "growth", "overspend rate", "ICER"):
        assert nums[what] in headline, f"zh headline {what}: {nums[what]!r} missing"
    assert "Headline findings" not in text and "Key indicators" not in text


def test_index_lists_every_report(site):
    index = (site["out"] / "index.html").read_text(encoding="utf-8")
    for (name, lang), files in site["reports"].items():
        assert files["html"].name in index and files["pdf"].name in index
