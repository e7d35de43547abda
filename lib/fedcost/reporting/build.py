"""Build a set of reports: execute each notebook per language, render HTML + PDF, write the index.

    from fedcost.reporting.build import build_reports, load_params
    result = build_reports(load_params("params.yaml"), "reports/output", notebooks=["policy_report"])

Everything is made in a staging folder beside the output folder and moved in
only when every report succeeded: a failure leaves the output folder as it was
(the failed notebook, with its traceback, is kept in a temporary folder and
named in the error).

Parameters file (YAML mapping); every key is passed to every notebook except:
  lang / languages   'en', 'zh' or a list of both (default en)
  notebooks          default notebook names to run (else every notebooks/*.ipynb not starting with '_')
  per_notebook       {notebook name: {key: value}} overrides for one notebook
Values of keys ending in _dir, _file, _path or _folder that are relative paths are resolved
against the parameters file's folder (the kernel runs in the notebooks folder).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import yaml

from fedcost.config import load_mapping
from fedcost.files import atomic_path, write_text
from fedcost.errors import FedcostError, UsageError
from fedcost.paths import PROJECT_ROOT
from fedcost.reporting.i18n import LANGUAGES, t

NOTEBOOKS_DIR = Path(os.environ.get("FEDCOST_NOTEBOOKS_DIR", PROJECT_ROOT / "notebooks"))
REPORT_WORKERS = int(os.environ.get("FEDCOST_REPORT_WORKERS", min(4, os.cpu_count() or 1)))
RESERVED = ("lang", "languages", "notebooks", "per_notebook")
PATH_SUFFIXES = ("_dir", "_file", "_path", "_folder")
MANIFEST = "reports.json"


@dataclass
class Params:
    values: dict
    source: Path | None = None
    languages: list[str] = field(default_factory=lambda: ["en"])
    notebooks: list[str] = field(default_factory=list)
    per_notebook: dict = field(default_factory=dict)

    def for_notebook(self, name: str, lang: str) -> dict:
        p = dict(self.values)
        p.update(self.per_notebook.get(name, {}) or {})
        p["lang"] = lang
        return p


def _languages(value) -> list[str]:
    if value is None:
        return ["en"]
    items = [value] if isinstance(value, str) else list(value)
    out = []
    for item in items:
        code = str(item).replace("_", "-").split("-")[0].lower()
        if code not in LANGUAGES:
            raise UsageError(f"unknown report language {item!r}; choose from {', '.join(LANGUAGES)}")
        if code not in out:
            out.append(code)
    return out or ["en"]


def load_params(path: str | Path | None) -> Params:
    """Read a parameters YAML file (see module doc); None gives the defaults."""
    if path is None:
        return Params(values={})
    file = Path(path)
    raw = load_mapping(file, "parameters")
    return params_from_mapping(raw, base=file.parent, source=file)


def params_from_mapping(raw: dict, *, base: Path | None = None, source: Path | None = None) -> Params:
    base = (base or Path.cwd()).resolve()

    def fix(d: dict) -> dict:
        out = {}
        for k, v in d.items():
            if isinstance(v, str) and str(k).endswith(PATH_SUFFIXES) and v and not Path(v).is_absolute():
                v = str((base / v).resolve())
            out[str(k)] = v
        return out

    langs = _languages(raw.get("lang", raw.get("languages")))
    notebooks = raw.get("notebooks") or []
    if isinstance(notebooks, str):
        notebooks = [notebooks]
    per = raw.get("per_notebook") or {}
    if not isinstance(per, dict):
        raise UsageError(f"{source or 'parameters'}: per_notebook must map notebook names to parameters")
    values = fix({k: v for k, v in raw.items() if k not in RESERVED})
    return Params(values=values, source=source, languages=langs, notebooks=[str(n) for n in notebooks],
                  per_notebook={str(k): fix(dict(v or {})) for k, v in per.items()})


def available_notebooks(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[str]:
    """Report notebooks in `notebooks_dir` (names starting with '_' are examples/fixtures)."""
    return sorted(p.stem for p in Path(notebooks_dir).glob("*.ipynb") if not p.name.startswith(("_", ".")))


def resolve_notebook(name: str, notebooks_dir: Path = NOTEBOOKS_DIR) -> Path:
    p = Path(name)
    if p.suffix == ".ipynb" and p.is_file():
        return p
    cand = Path(notebooks_dir) / (name if name.endswith(".ipynb") else f"{name}.ipynb")
    if cand.is_file():
        return cand
    avail = available_notebooks(notebooks_dir)
    raise UsageError(f"unknown notebook {name!r}; available in {notebooks_dir}: "
                     f"{', '.join(avail) if avail else '(none)'}")


@dataclass
class BuiltReport:
    name: str
    lang: str
    title: str
    files: dict[str, Path]   # html, pdf, ipynb


def _title(executed: Path, lang: str) -> str:
    import nbformat
    from fedcost.reporting.notebook_markdown import by_lang, front_matter
    try:
        meta = by_lang(front_matter(nbformat.read(str(executed), as_version=4))[0], lang)
        return str(meta.get("title") or executed.stem)
    except Exception:  # noqa: BLE001
        return executed.stem


def build_reports(params: Params, out_dir: str | Path, *, notebooks: Sequence[str] | None = None,
                  languages: Sequence[str] | None = None, formats: Iterable[str] = ("html", "pdf"),
                  notebooks_dir: str | Path | None = None, kernel_name: str | None = None,
                  progress: Callable[[str], None] | None = print) -> list[BuiltReport]:
    """Execute and render each notebook in each language into `out_dir`, then write the index."""
    from fedcost.reporting.execute import NotebookExecutionError, execute
    from fedcost.reporting.fonts import MissingFontError, ensure_languages
    from fedcost.reporting.render import render

    say = progress or (lambda _m: None)
    nb_dir = Path(notebooks_dir) if notebooks_dir else NOTEBOOKS_DIR
    names = list(notebooks or params.notebooks or available_notebooks(nb_dir))
    if not names:
        raise UsageError(f"no report notebooks in {nb_dir}; name one with --notebook")
    paths = [resolve_notebook(n, nb_dir) for n in names]
    langs = _languages(list(languages)) if languages else params.languages
    formats = tuple(formats)
    _, missing = ensure_languages(langs, say)  # installs the font where it may; before any work
    if missing:
        raise MissingFontError(missing)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    jobs = [(p, lg) for p in paths for lg in langs]

    def one(k: int, nb_path: Path, lang: str) -> BuiltReport:
        name = nb_path.stem
        tag = f"[{k}/{len(jobs)}] {name.lstrip('_')} ({lang})"
        say(f"{tag}: executing {nb_path.name} ...")
        t0 = time.monotonic()
        executed = execute(nb_path, params.for_notebook(name, lang), staging, kernel_name=kernel_name)
        say(f"{tag}: executed in {time.monotonic() - t0:.1f} s; rendering {', '.join(formats)} ...")
        t0 = time.monotonic()
        files = render(executed, staging, formats=formats, lang=lang)
        say(f"{tag}: rendered in {time.monotonic() - t0:.1f} s")
        files["ipynb"] = executed
        return BuiltReport(name=executed.stem.rsplit(".", 1)[0], lang=lang, title=_title(executed, lang),
                           files=files)

    try:
        # each report is a kernel of its own (papermill) and pandoc/typst subprocesses: on 2 cores two at a
        # time took the demo's 8 reports from 49 s to about half (a kernel spends most of its time waiting
        # to start and on imports, so more workers than cores still gains a little but costs memory)
        with ThreadPoolExecutor(max_workers=max(1, min(REPORT_WORKERS, len(jobs)))) as pool:
            futures = [pool.submit(one, k, nb, lg) for k, (nb, lg) in enumerate(jobs, 1)]
            try:
                built = [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        out.mkdir(parents=True, exist_ok=True)
        for rep in built:
            for fmt, f in list(rep.files.items()):
                dest = out / f.name
                os.replace(f, dest)
                rep.files[fmt] = dest
        write_index(out, built)
        say(f"index: {out / 'index.html'}")
    except NotebookExecutionError as exc:
        if exc.executed and Path(exc.executed).exists():
            keep = Path(tempfile.mkdtemp(prefix="fedcost-failed-"))
            kept = keep / Path(exc.executed).name
            shutil.move(str(exc.executed), kept)
            msg = str(exc).replace(str(exc.executed), str(kept))
            raise NotebookExecutionError(msg + f"\n  nothing was written to {out}", notebook=exc.notebook,
                                         cell=exc.cell, label=exc.label, ename=exc.ename, evalue=exc.evalue,
                                         executed=kept) from None
        raise
    except FedcostError as exc:
        raise type(exc)(f"{exc}\n  nothing was written to {out}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return built


# ------------------------------------------------------------------ index
def _read_manifest(out: Path) -> list[dict]:
    f = out / MANIFEST
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
        return [r for r in data.get("reports", []) if isinstance(r, dict)]
    except (OSError, ValueError):
        return []


def write_index(out: str | Path, built: Sequence[BuiltReport] = ()) -> Path:
    """Merge `built` into out/reports.json and (re)write out/index.html listing every report there."""
    from fedcost.reporting.render import render_markdown

    out = Path(out)
    now = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
    entries = {(r["name"], r["lang"]): r for r in _read_manifest(out)}
    for rep in built:
        entries[(rep.name, rep.lang)] = {"name": rep.name, "lang": rep.lang, "title": rep.title,
                                         "generated": now,
                                         **{fmt: p.name for fmt, p in rep.files.items()}}
    # forget reports whose files are gone
    rows = [e for e in entries.values() if any((out / e.get(k, "")).is_file() for k in ("html", "pdf") if e.get(k))]
    rows.sort(key=lambda e: (e["name"], e["lang"] != "en", e["lang"]))
    write_text(out / MANIFEST, json.dumps({"reports": rows}, ensure_ascii=False, indent=1))

    template = (PROJECT_ROOT / "reports" / "index.qmd")
    title, subtitle, intro = "Reports", None, ""
    if template.is_file():
        text = template.read_text(encoding="utf-8")
        m = re.match(r"^---\s*\n(.*?)\n---\s*\n(.*)$", text, flags=re.S)
        if m:
            meta = yaml.safe_load(m.group(1)) or {}
            title, subtitle, intro = str(meta.get("title", title)), meta.get("subtitle"), m.group(2)
        else:
            intro = text
    head = "| Report · 报告 | Language · 语言 | Files · 文件 | Generated · 生成时间 |\n|:--|:--|:--|:--|\n"
    lines = []
    for e in rows:
        lang_label = f"{t('lang_' + e['lang'], 'en')} · {t('lang_' + e['lang'], 'zh')}"
        links = [f"[{label}]({e[k]})" for k, label in (("html", "HTML"), ("pdf", "PDF"), ("ipynb", "ipynb"))
                 if e.get(k) and (out / e[k]).is_file()]
        name = _md_escape(e.get("title") or e["name"])
        title_cell = f"[{name}]({e['html']})" if e.get("html") else name
        lines.append(f"| {title_cell} | {lang_label} | {' · '.join(links) or '–'} | {e.get('generated', '')} |")
    table = head + "\n".join(lines) + "\n" if lines else "*No reports yet · 暂无报告*\n"
    body = intro.replace("<!-- reports -->", table) if "<!-- reports -->" in intro else intro + "\n\n" + table
    with atomic_path(out / "index.html") as tmp_html:
        render_markdown(body, tmp_html, title=title, subtitle=subtitle, lang="en")
    return out / "index.html"


def _md_escape(s: str) -> str:
    return str(s).replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")
