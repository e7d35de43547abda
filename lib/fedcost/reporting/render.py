"""Render an executed report notebook to a self-contained HTML file and an A4 PDF.

    paths = render("out/policy_report.zh.ipynb", "out", formats=("html", "pdf"), lang="zh")
    # {'html': Path('out/policy_report.zh.html'), 'pdf': Path('out/policy_report.zh.pdf')}

With `quarto` on PATH the notebook is rendered by `quarto render` (no
execution: it already ran under papermill). Otherwise the *embedded renderer*
does the same job from the same source: the notebook becomes one Markdown
document (honouring the Quarto cell options below), pandoc turns it into a
self-contained HTML page (images inline, one file to e-mail) and into typst,
and typst compiles the PDF. Both use the templates in `reports/templates/`.

Notebook conventions (Quarto's, so either renderer reads the same notebook):
- First cell: a raw cell with YAML front matter (`title`, `subtitle`, `author`, `date`
  (`today` allowed), `lang`, `toc`, `number-sections`, `execute: {echo, warning}`, `format`).
  A key with a language suffix (`title-zh`, `subtitle-zh`, `abstract-zh`) replaces the plain key
  when rendering in that language.
- Cells tagged `lang-en` / `lang-zh` are kept only in that language; untagged cells always.
- Code cells: `#| option: value` lines first. Supported: `echo` (default false: code is hidden),
  `include: false` (drop the cell), `output: false` (no outputs), `output: asis` (printed text is
  Markdown), `warning` (stderr shown only when true), `label: fig-xxx` / `tbl-xxx` with `fig-cap` /
  `tbl-cap` (numbered "Figure 1: ..." / "图 1：..."; `@fig-xxx` in text becomes the number),
  `fig-alt`, and any option with a language suffix (`fig-cap-zh`). The `parameters` and
  `injected-parameters` cells are never shown.
- Outputs: images (SVG preferred, then PNG/JPEG), `text/markdown` (e.g. `fedcost.reporting.tables.md_table`,
  `IPython.display.Markdown`), `text/html` tables (pandas DataFrames; converted to real tables),
  plain text as a monospaced block. Errors are shown only if a cell has `error: true`.
- `{{< pagebreak >}}` breaks the PDF page; `::: {.callout-note}` / `-important` / `-warning` /
  `-tip` / `-caution` boxes (title from `title="..."` or a first heading) render in both formats.
"""
from __future__ import annotations

import datetime as _dt
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

import yaml

from fedcost import __version__
from fedcost.errors import UsageError
from fedcost.paths import REPORTS_DIR
from fedcost.reporting.fonts import needs_cjk, require_cjk_font
from fedcost.reporting.i18n import normalise_lang, t
from fedcost.reporting.notebook_markdown import (
    RenderError, front_matter, localise_notebook, notebook_to_markdown,
)

TEMPLATES = REPORTS_DIR / "templates"
FORMATS = ("html", "pdf")
READER = "markdown+pipe_tables+grid_tables+fenced_divs+implicit_figures+raw_attribute+east_asian_line_breaks-citations"
LATIN_FONTS = ["Liberation Sans", "Arial", "Helvetica", "Noto Sans", "DejaVu Sans"]


# ----------------------------------------------------------------- metadata
def _resolve_date(value) -> str:
    if value in (None, "today", "now", "last-modified"):
        return _dt.date.today().isoformat()
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()[:10]
    return str(value)


def _doc_meta(meta: dict, lang: str, executed: Path) -> dict:
    out = {k: v for k, v in meta.items() if k in ("title", "subtitle", "author", "abstract", "toc",
                                                   "number-sections", "keywords", "description")}
    out["title"] = str(meta.get("title") or executed.stem)
    out["date"] = _resolve_date(meta.get("date"))
    out["lang"] = "zh-CN" if lang == "zh" else lang
    out["kicker"] = meta.get("kicker") or ("医疗费用协同管控 · 联邦分析报告" if lang == "zh"
                                           else "Collaborative hospital cost control · federated analysis")
    out["generated-label"] = t("generated", lang)
    out["generator"] = f"fedcost {__version__}"
    out["abstract-title"] = "摘要" if lang == "zh" else "Summary"
    out["toc-title"] = "目录" if lang == "zh" else "Contents"
    return out


# ----------------------------------------------------------------- pandoc / typst
def _pandoc(args: list[str], cwd: Path, what: str) -> None:
    import pypandoc
    exe = pypandoc.get_pandoc_path()
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RenderError(f"pandoc failed making the {what}: {proc.stderr.strip()[-2000:]}")


def _fonts(lang: str) -> tuple[list[str], list[Path]]:
    """(font families best first, extra font folders) for `lang`; a clear error if zh lacks a font."""
    if needs_cjk(lang):
        cjk = require_cjk_font()
        return LATIN_FONTS + [cjk.family], cjk.dirs
    return list(LATIN_FONTS), []


def _write_markdown(tmp: Path, body: str, meta: dict) -> Path:
    src = tmp / "report.md"
    header = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    src.write_text(f"---\n{header}---\n\n{body}", encoding="utf-8")
    return src


def _html(src: Path, out: Path, lang: str, meta: dict) -> None:
    families, _ = _fonts(lang)
    args = [src.name, "-f", READER,
            "-t", "html5", "--standalone", "--columns=10000", "--embed-resources", "--mathml", "--section-divs",
            f"--template={TEMPLATES / 'report.html'}", f"--css={TEMPLATES / 'report.css'}",
            f"--lua-filter={TEMPLATES / 'callouts.lua'}", "--resource-path", f".{os.pathsep}{TEMPLATES}",
            "-M", f"pagetitle={meta.get('title', '')}", "-V", f"cjk-font={families[-1] if needs_cjk(lang) else ''}",
            "-o", str(out)]
    if meta.get("toc"):
        args += ["--toc", "--toc-depth=2"]
    if meta.get("number-sections"):
        args += ["--number-sections"]
    _pandoc(args, src.parent, "HTML")


def _pdf(src: Path, out: Path, lang: str, meta: dict) -> None:
    import typst
    families, font_dirs = _fonts(lang)
    typ = src.with_suffix(".typ")
    args = [src.name, "-f", READER,
            "-t", "typst", "--standalone", "--columns=10000", f"--template={TEMPLATES / 'report.typ'}",
            f"--lua-filter={TEMPLATES / 'callouts.lua'}", "-o", typ.name]
    # the CJK font first for Chinese: one family, consistent Latin and Han glyphs
    ordered = ([families[-1]] + families[:-1]) if needs_cjk(lang) else families
    for fam in ordered:
        args += ["-V", f"mainfont={fam}"]
    if meta.get("toc"):
        args += ["--toc"]
    if meta.get("number-sections"):
        args += ["-V", "section-numbering=1.1"]
    _pandoc(args, src.parent, "PDF (typst source)")
    try:
        typst.compile(str(typ), output=str(out), root=str(src.parent), font_paths=[str(d) for d in font_dirs])
    except Exception as exc:  # noqa: BLE001 - typst raises its own error type
        raise RenderError(f"typst failed making the PDF ({typ.name}): {exc}") from None


def _render_embedded(nb, lang: str, out_base: Path, formats: Iterable[str]) -> dict[str, Path]:
    out_paths: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="fedcost-render-") as tmpd:
        tmp = Path(tmpd)
        body, meta = notebook_to_markdown(nb, lang, tmp / "media")
        meta = _doc_meta(meta, lang, out_base)
        src = _write_markdown(tmp, body, meta)
        for fmt in formats:
            target = tmp / f"report.{fmt}"
            if fmt == "html":
                _html(src, target, lang, meta)
            elif fmt == "pdf":
                _pdf(src, target, lang, meta)
            final = out_base.with_name(f"{out_base.name}.{fmt}")
            shutil.move(str(target), final)
            out_paths[fmt] = final
    return out_paths


def _render_quarto(nb, lang: str, out_base: Path, formats: Iterable[str], quarto: str) -> dict[str, Path]:
    import nbformat
    out_paths: dict[str, Path] = {}
    families, font_dirs = _fonts(lang)
    with tempfile.TemporaryDirectory(prefix="fedcost-quarto-") as tmpd:
        tmp = Path(tmpd)
        if (REPORTS_DIR / "_quarto.yml").is_file():
            shutil.copy(REPORTS_DIR / "_quarto.yml", tmp / "_quarto.yml")
        shutil.copytree(TEMPLATES, tmp / "templates")
        local = localise_notebook(nb, lang)
        doc = tmp / f"{out_base.name.replace('.', '-')}.ipynb"
        nbformat.write(local, str(doc))
        for fmt in formats:
            to = "html" if fmt == "html" else "typst"
            cmd = [quarto, "render", doc.name, "--to", to, "--no-execute", "-M", f"lang:{'zh-CN' if lang == 'zh' else lang}"]
            if to == "typst":
                ordered = ([families[-1]] + families[:-1]) if needs_cjk(lang) else families
                cmd += ["-M", f"mainfont:{ordered[0]}"]
                for d in font_dirs:
                    cmd += ["-M", f"font-paths:{d}"]
            proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=900)
            suffix = ".html" if fmt == "html" else ".pdf"
            # beside the notebook, or in the project's output-dir (reports/_quarto.yml)
            candidates = [doc.with_suffix(suffix)] + sorted(tmp.glob(f"*/{doc.stem}{suffix}"))
            produced = next((c for c in candidates if c.is_file()), candidates[0])
            if proc.returncode != 0 or not produced.is_file():
                raise RenderError(f"quarto render --to {to} failed: {(proc.stderr or proc.stdout).strip()[-2000:]}")
            final = out_base.with_name(f"{out_base.name}.{fmt}")
            shutil.move(str(produced), final)
            out_paths[fmt] = final
    return out_paths


def quarto_path() -> str | None:
    """The quarto executable, unless $FEDCOST_RENDERER=embedded forces the embedded renderer."""
    if os.environ.get("FEDCOST_RENDERER", "").lower() == "embedded":
        return None
    return shutil.which("quarto")


def render(executed_notebook: str | Path, out_dir: str | Path, formats: Iterable[str] = FORMATS,
           lang: str | None = None, *, engine: str = "auto") -> dict[str, Path]:
    """Render an executed notebook to `out_dir/<stem>.html` and `.pdf`; returns {format: path}.

    lang: 'en' or 'zh'; None takes the `lang` parameter papermill injected, else the front matter's.
    engine: 'auto' (quarto if on PATH, else embedded), 'quarto' or 'embedded'.
    """
    import nbformat
    path = Path(executed_notebook)
    if not path.is_file():
        raise UsageError(f"{path}: no such notebook")
    formats = tuple(dict.fromkeys(formats))
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise UsageError(f"unknown format(s) {bad}; choose from {list(FORMATS)}")
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:  # noqa: BLE001
        raise RenderError(f"{path}: not a readable notebook: {exc}") from None
    if lang is None:
        params = (nb.metadata.get("papermill") or {}).get("parameters") or {}
        lang = params.get("lang") or front_matter(nb)[0].get("lang")
    lang = normalise_lang(lang)
    if needs_cjk(lang):
        require_cjk_font()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    out_base = out / path.stem
    quarto = quarto_path() if engine in ("auto", "quarto") else None
    if engine == "quarto" and not quarto:
        raise UsageError("engine 'quarto' asked for but quarto is not on PATH")
    if quarto:
        return _render_quarto(nb, lang, out_base, formats, quarto)
    return _render_embedded(nb, lang, out_base, formats)


def render_markdown(markdown: str, out_html: str | Path, *, title: str, lang: str = "en",
                    subtitle: str | None = None) -> Path:
    """Render a small Markdown page (the report index) with the report HTML template."""
    lang = normalise_lang(lang)
    out_html = Path(out_html)
    with tempfile.TemporaryDirectory(prefix="fedcost-page-") as tmpd:
        tmp = Path(tmpd)
        meta = _doc_meta({"title": title, **({"subtitle": subtitle} if subtitle else {})}, lang, out_html)
        src = _write_markdown(tmp, markdown, meta)
        _html(src, tmp / "page.html", lang, meta)
        shutil.move(str(tmp / "page.html"), out_html)
    return out_html
