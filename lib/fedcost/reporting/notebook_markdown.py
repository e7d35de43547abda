"""An executed report notebook as one Markdown document, honouring Quarto's cell conventions.

What the embedded renderer adds to pandoc (see ``fedcost.reporting.render``):
language-tagged cells kept or dropped, `#| ` cell options (echo, include,
output, labels and numbered captions in either language, figure widths),
outputs in order (SVG/PNG figures written next to the document, Markdown and
HTML tables as real tables, text as a block), and Quarto shortcodes.
Jupyter's nbconvert exporters write outputs but know none of these options.

nbconvert was tried for the generic part (measured on 11 notebooks x 2
languages): its TagRemovePreprocessor and ExtractOutputPreprocessor in front
of this module's loop gave byte-identical output but 3 more lines, a new
direct dependency, ~0.5 s more import per process, ~25% slower conversion,
and failures on image data held as a list of strings; its MarkdownExporter
alone writes all hidden code and raw HTML tables (9,299 characters against
3,465 for the example report). The generic steps left here are three tags
and a base64 decode, so nbconvert is not used.
"""
from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import yaml

from fedcost.errors import FedcostError
from fedcost.paths import REPORTS_DIR
from fedcost.reporting.i18n import t


class RenderError(FedcostError):
    """A report could not be rendered (pandoc, typst or quarto failed, or the notebook breaks a convention)."""


# ----------------------------------------------------------------- front matter and options
def front_matter(nb) -> tuple[dict, int | None]:
    for i, cell in enumerate(nb.cells[:3]):
        if cell.cell_type == "raw":
            m = re.match(r"^\s*---\s*\n(.*?)\n---\s*$", cell.source, flags=re.S)
            if m:
                try:
                    return dict(yaml.safe_load(m.group(1)) or {}), i
                except yaml.YAMLError as exc:
                    raise RenderError(f"the front matter (first raw cell) is not valid YAML: {exc}") from None
    return {}, None


def by_lang(d: dict, lang: str) -> dict:
    """Resolve `key-<lang>` variants and {en:..., zh:...} maps for `lang`; drop other languages' keys."""
    out: dict = {}
    suffixes = {f"-{code}" for code in ("en", "zh")}
    for key, value in d.items():
        if any(str(key).endswith(s) for s in suffixes):
            continue
        if isinstance(value, dict) and value and set(value) <= {"en", "zh"}:
            value = value.get(lang, value.get("en"))
        out[key] = value
    for key, value in d.items():
        if str(key).endswith(f"-{lang}"):
            out[str(key)[: -len(lang) - 1]] = value
    return out


def project_config() -> dict:
    f = REPORTS_DIR / "_quarto.yml"
    if f.is_file():
        try:
            return yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            return {}
    return {}


def inline(text) -> str:
    return " ".join(str(text).split())


def attr(text) -> str:
    return inline(text).replace('"', "&quot;")


TEXT_WIDTH_IN = 6.4  # the PDF text width; figures this wide fill the column


def parse_cell_options(source: str) -> tuple[dict, str]:
    """`#| key: value` lines at the top of a code cell -> (options, the rest of the source)."""
    lines = source.splitlines()
    opts_lines = []
    i = 0
    while i < len(lines) and lines[i].startswith("#|"):
        opts_lines.append(lines[i][3:] if lines[i].startswith("#| ") else lines[i][2:])
        i += 1
    opts: dict = {}
    if opts_lines:
        try:
            opts = yaml.safe_load("\n".join(opts_lines)) or {}
        except yaml.YAMLError:
            for line in opts_lines:  # be lenient: one option per line
                k, _, v = line.partition(":")
                if k.strip():
                    try:
                        value = yaml.safe_load(v) if v.strip() else None
                    except yaml.YAMLError:
                        value = v.strip()
                    if isinstance(value, dict) and not v.strip().startswith("{"):
                        value = v.strip()  # `fig-cap: Cost per case: east` is a caption, not a mapping
                    opts[k.strip()] = value
    return (opts if isinstance(opts, dict) else {}), "\n".join(lines[i:])


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []) or [])


def _keep_for_lang(cell, lang: str) -> bool:
    langs = [tg[5:] for tg in _tags(cell) if tg.startswith("lang-")]
    return not langs or lang in langs


def localise_notebook(nb, lang: str):
    """A copy of `nb` for one language: other languages' cells dropped, `-<lang>` keys and cell
    options resolved, `lang` set in the front matter (what Quarto is given)."""
    import copy
    nb = copy.deepcopy(nb)
    meta, idx = front_matter(nb)
    meta = by_lang(meta, lang)
    meta["lang"] = "zh-CN" if lang == "zh" else lang
    front = "---\n" + yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) + "---"
    if idx is None:
        import nbformat
        nb.cells.insert(0, nbformat.v4.new_raw_cell(front))
    else:
        nb.cells[idx].source = front
    cells = []
    for cell in nb.cells:
        if not _keep_for_lang(cell, lang):
            continue
        if cell.cell_type == "code":
            opts, body = parse_cell_options(cell.source)
            if any(str(k).endswith(("-en", "-zh")) for k in opts):
                opts = by_lang(opts, lang)
                lines = [f"#| {k}: {yaml.safe_dump(v, allow_unicode=True, default_flow_style=True).strip().removesuffix('...').strip()}"
                         for k, v in opts.items()]
                cell.source = "\n".join(lines + [body])
        cells.append(cell)
    nb.cells = cells
    return nb


# ----------------------------------------------------------------- notebook -> markdown
MIME_IMAGE = ("image/svg+xml", "image/png", "image/jpeg")


def _image_width_pct(data: bytes, mime: str, meta: dict) -> float | None:
    """Display width as a % of the text width, from the image's own size (figures 6.4 in wide = 100%)."""
    try:
        if mime == "image/svg+xml":
            m = re.search(rb'<svg[^>]*\swidth="([\d.]+)(pt|px|in|mm|cm)?"', data[:4000])
            if not m:
                return None
            v, unit = float(m.group(1)), (m.group(2) or b"px").decode()
            inches = v / {"pt": 72, "px": 96, "in": 1, "mm": 25.4, "cm": 2.54}[unit]
        else:
            width = (meta or {}).get("width")
            from PIL import Image
            im = Image.open(io.BytesIO(data))
            dpi = im.info.get("dpi", (96, 96))[0] or 96
            inches = (width / 96) if width else im.width / float(dpi)
        return max(10.0, min(100.0, 100.0 * inches / TEXT_WIDTH_IN))
    except Exception:  # noqa: BLE001 - size unknown: let the renderer decide
        return None


def _fence(text: str, cls: str = "") -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{cls}\n{text.rstrip()}\n{ticks}\n"


def _html_to_markdown(html: str) -> str:
    import pypandoc
    html = re.sub(r"<style.*?</style>", "", html, flags=re.S | re.I)
    try:
        return pypandoc.convert_text(html, "markdown-raw_html-native_divs-native_spans-fenced_divs-bracketed_spans",
                                     format="html", extra_args=["--wrap=none"])
    except (RuntimeError, OSError):
        return ""


def _is_table(md: str) -> bool:
    return bool(re.search(r"^\s*\|.*\|\s*$\n^\s*\|[\s:|-]+\|\s*$", md, flags=re.M)
                or re.search(r"^\+[-=:+]+\+\s*$", md, flags=re.M)
                or re.search(r"^\s*-{3,}[\s-]*$", md, flags=re.M))


class _Numbering:
    """Quarto-style cross-reference numbers: fig-* and tbl-* labels in document order."""

    def __init__(self, lang: str):
        self.lang = lang
        self.numbers: dict[str, int] = {}
        self.counts = {"fig": 0, "tbl": 0}

    def add(self, label: str) -> int:
        kind = label.split("-", 1)[0]
        if label not in self.numbers:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self.numbers[label] = self.counts[kind]
        return self.numbers[label]

    def name(self, label: str) -> str:
        kind = label.split("-", 1)[0]
        word = t("figure" if kind == "fig" else "table", self.lang)
        return f"{word} {self.numbers.get(label, '?')}" if self.lang != "zh" else f"{word} {self.numbers.get(label, '?')}"

    def caption(self, label: str | None, cap: str | None) -> str:
        if not label:
            return cap or ""
        sep = "：" if self.lang == "zh" else ": "
        return f"{self.name(label)}{sep}{cap}" if cap else self.name(label)

    def resolve_refs(self, text: str) -> str:
        def sub(m):
            label = m.group(1)
            if label in self.numbers:
                return f"[{self.name(label)}](#{label})"
            return "\\" + m.group(0)  # unknown label: literal text, not a citation
        return re.sub(r"(?<![\w@])@((?:fig|tbl)-[\w-]+)", sub, text)


def _shortcodes(text: str) -> str:
    brk = "\n```{=typst}\n#pagebreak()\n```\n\n```{=html}\n<div class=\"page-break\"></div>\n```\n"
    return re.sub(r"\{\{<\s*pagebreak\s*>\}\}", brk, text)


def notebook_to_markdown(nb, lang: str, media_dir: Path, defaults: dict | None = None) -> tuple[str, dict]:
    """The report body as pandoc Markdown (images written to `media_dir`) and its metadata."""
    meta, front_idx = front_matter(nb)
    meta = by_lang(meta, lang)
    project = by_lang(project_config(), lang)
    exec_defaults = {"echo": False, "warning": False, "error": False}
    exec_defaults.update((project.get("execute") or {}))
    exec_defaults.update((meta.get("execute") or {}))
    exec_defaults.update(defaults or {})
    numbering = _Numbering(lang)
    media_dir.mkdir(parents=True, exist_ok=True)

    # first pass: labels in order, so references anywhere resolve
    for cell in nb.cells:
        if cell.cell_type == "code" and _keep_for_lang(cell, lang):
            opts, _ = parse_cell_options(cell.source)
            label = opts.get("label")
            if isinstance(label, str) and label.startswith(("fig-", "tbl-")):
                numbering.add(label)

    parts: list[str] = []
    n_img = 0
    for i, cell in enumerate(nb.cells):
        if i == front_idx or not _keep_for_lang(cell, lang):
            continue
        tags = _tags(cell)
        if "remove-cell" in tags:
            continue
        if cell.cell_type == "markdown":
            parts.append(cell.source)
            continue
        if cell.cell_type == "raw":
            fmt = (cell.metadata.get("format") or cell.metadata.get("raw_mimetype") or "").lower()
            if fmt in ("text/markdown", "markdown"):
                parts.append(cell.source)
            elif fmt in ("text/html", "html"):
                parts.append("```{=html}\n" + cell.source + "\n```")
            elif fmt == "typst":
                parts.append("```{=typst}\n" + cell.source + "\n```")
            continue
        if cell.cell_type != "code":
            continue
        if "parameters" in tags or "injected-parameters" in tags:
            continue
        opts, body = parse_cell_options(cell.source)
        opts = by_lang(opts, lang)
        o = dict(exec_defaults)
        o.update(opts)
        if o.get("include") is False:
            continue
        cell_parts: list[str] = []
        if o.get("echo") is True and body.strip() and "remove-input" not in tags:
            cell_parts.append(_fence(body, "python"))
        label = o.get("label") if isinstance(o.get("label"), str) else None
        outputs = [] if (o.get("output") is False or "remove-output" in tags) else cell.get("outputs", [])
        asis = o.get("output") == "asis"
        first_image = True
        table_md: list[str] = []
        for out in outputs:
            kind = out.get("output_type")
            if kind == "stream":
                if out.get("name") == "stderr" and not o.get("warning"):
                    continue
                text = out.get("text", "")
                if asis:
                    cell_parts.append(text)
                elif text.strip():
                    cell_parts.append(_fence(text, "{.output}"))
                continue
            if kind == "error":
                if o.get("error"):
                    cell_parts.append(_fence(f"{out.get('ename')}: {out.get('evalue')}", "{.output .error}"))
                continue
            if kind not in ("display_data", "execute_result"):
                continue
            data = out.get("data", {})
            mime = next((m for m in MIME_IMAGE if m in data), None)
            if mime:
                raw = data[mime]
                blob = (raw if isinstance(raw, str) else "".join(raw)).encode("utf-8") if mime == "image/svg+xml" \
                    else base64.b64decode(raw if isinstance(raw, str) else "".join(raw))
                n_img += 1
                ext = {"image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpg"}[mime]
                name = f"{label or 'figure'}-{n_img}.{ext}" if label else f"figure-{n_img}.{ext}"
                (media_dir / name).write_bytes(blob)
                width = _image_width_pct(blob, mime, out.get("metadata", {}).get(mime, {}))
                attrs = []
                is_fig = bool(label and label.startswith("fig-") and first_image)
                if is_fig:
                    attrs.append(f"#{label}")
                if width:
                    attrs.append(f'width="{width:.0f}%"')
                cap = o.get("fig-cap") if first_image else None
                caption = numbering.caption(label if is_fig else None, cap) if (cap or is_fig) else ""
                alt = o.get("fig-alt") or cap or t("figure", lang)
                attrs.append(f'alt="{attr(alt)}"')
                rel = f"{media_dir.name}/{name}"
                # with a caption pandoc makes a figure; without one it stays an image
                img = f"![{inline(caption)}]({rel}){{{' '.join(attrs)}}}"
                cell_parts.append(img + "\n")
                first_image = False
                continue
            if "text/markdown" in data:
                md = data["text/markdown"]
                md = md if isinstance(md, str) else "".join(md)
                (table_md if _is_table(md) else cell_parts).append(md)
                if _is_table(md):
                    cell_parts.append("\x00TABLE\x00")
                continue
            if "text/html" in data:
                html = data["text/html"]
                html = html if isinstance(html, str) else "".join(html)
                from fedcost.reporting.tables import html_table_to_markdown
                md = (html_table_to_markdown(html, lang=lang) if "<table" in html.lower() else None) \
                    or _html_to_markdown(html)
                if md.strip():
                    if _is_table(md):
                        table_md.append(md)
                        cell_parts.append("\x00TABLE\x00")
                    else:
                        cell_parts.append(md)
                continue
            if "text/plain" in data:
                text = data["text/plain"]
                text = text if isinstance(text, str) else "".join(text)
                if asis:
                    cell_parts.append(text)
                elif text.strip():
                    cell_parts.append(_fence(text, "{.output}"))
        # tables: attach the caption and label to the first table of the cell
        rendered: list[str] = []
        tcount = 0
        for piece in cell_parts:
            if piece != "\x00TABLE\x00":
                rendered.append(piece)
                continue
            md = table_md[tcount].rstrip() + "\n"
            tcount += 1
            cap = o.get("tbl-cap") if tcount == 1 else None
            if label and label.startswith("tbl-") and tcount == 1:
                caption = numbering.caption(label, cap)
                rendered.append(f"::: {{#{label} .table-wrap}}\n{md}\n: {inline(caption)}\n:::\n")
            elif cap:
                rendered.append(f"{md}\n: {inline(cap)}\n")
            else:
                rendered.append(md)
        if rendered:
            parts.append("\n".join(rendered))
    body = "\n\n".join(p.strip("\n") for p in parts if p and p.strip())
    body = _shortcodes(numbering.resolve_refs(body))
    meta.setdefault("toc", project.get("toc", False))
    return body + "\n", meta
