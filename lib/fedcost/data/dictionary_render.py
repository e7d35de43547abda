"""Render a data dictionary for people: terminal text, Markdown or HTML, English/Chinese.

Why: hospital data managers map their HIS export to the dictionary by reading
it, in their language; the rendered page is also attached to reports so the
version that produced a result is on record. Files are written to a temporary
file and renamed, so a reader never sees half a page.
"""
from __future__ import annotations

import html
import os
from pathlib import Path

from fedcost.data.dictionary import Dictionary, Field
from fedcost.files import write_text

LANGS = ("en", "zh", "both")
LABELS = {
    "en": {"fields": "Fields", "codes": "Code lists", "rules": "Rules", "name": "Name", "type": "Type",
           "unit": "Unit", "required": "Required", "range": "Range or codes", "desc": "Description",
           "yes": "yes", "no": "no", "code": "Code", "label": "Label", "version": "Version",
           "rule": "Rule", "kind": "Kind", "fingerprint": "Fingerprint"},
    "zh": {"fields": "字段", "codes": "代码表", "rules": "校验规则", "name": "字段名", "type": "类型",
           "unit": "单位", "required": "必填", "range": "取值范围或代码", "desc": "说明",
           "yes": "是", "no": "否", "code": "代码", "label": "名称", "version": "版本",
           "rule": "规则", "kind": "类别", "fingerprint": "指纹"},
}


def _langs(lang: str) -> list[str]:
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}")
    return ["en", "zh"] if lang == "both" else [lang]


def _label(key: str, lang: str) -> str:
    return " / ".join(LABELS[lg][key] for lg in _langs(lang))


def field_range(d: Dictionary, f: Field) -> str:
    """A field's allowed values in one line: min..max, a code list, or a pattern."""
    if f.type == "category":
        levels = d.levels(f.name)
        shown = ", ".join(levels) if len(levels) <= 8 else ", ".join(levels[:6]) + f", ... ({len(levels)} codes)"
        return f"codes/{f.codes}.csv: {shown}"
    if f.min is not None or f.max is not None:
        lo = "" if f.min is None else f.min
        hi = "" if f.max is None else f.max
        return f"{lo} .. {hi}"
    if f.pattern:
        return f"pattern {f.pattern}"
    return ""


def _desc(f_or_rule_desc: dict, lang: str) -> str:
    return " / ".join(str(f_or_rule_desc.get(lg, "")) for lg in _langs(lang) if f_or_rule_desc.get(lg))


def _rule_text(rule: dict) -> str:
    keys = [k for k in rule if k not in ("name", "kind", "description")]
    return "; ".join(f"{k}={rule[k] if not isinstance(rule[k], list) else ', '.join(map(str, rule[k]))}"
                     for k in keys)


def _title(d: Dictionary, lang: str) -> str:
    t = " / ".join(str(d.title.get(lg)) for lg in _langs(lang) if d.title.get(lg))
    return t or d.name


def _code_columns(table, lang: str) -> list[str]:
    names = [f"name_{lg}" for lg in _langs(lang) if f"name_{lg}" in table.columns]
    extra = [c for c in table.columns if c != "code" and not c.startswith("name_")]
    return ["code"] + names + extra


def render_text(d: Dictionary, lang: str = "en") -> str:
    """Plain text for the terminal (`fedcost dictionary show`)."""
    lines = [f"{_title(d, lang)}  ({d.name} {_label('version', lang)} {d.version})",
             f"{_label('fingerprint', lang)}: {d.fingerprint[:16]}", "", _label("fields", lang) + ":"]
    w = max(len(n) for n in d.fields)
    for f in d.fields.values():
        req = "required" if f.required else "optional"
        unit = f" [{f.unit}]" if f.unit else ""
        lines.append(f"  {f.name:<{w}}  {f.type:<8} {req:<8}{unit}  {field_range(d, f)}")
        lines.append(f"  {'':<{w}}  {_desc(f.description, lang)}")
    lines += ["", _label("codes", lang) + ":"]
    for name, table in sorted(d.code_lists.items()):
        lines.append(f"  {name} ({len(table)} codes): " + ", ".join(table["code"].astype(str).head(12))
                     + (" ..." if len(table) > 12 else ""))
    lines += ["", _label("rules", lang) + ":"]
    for rule in d.rules:
        lines.append(f"  {rule['name']} ({rule['kind']}): {_rule_text(rule)}")
        lines.append(f"      {_desc(rule.get('description') or {}, lang)}")
    return "\n".join(lines) + "\n"


def _md_cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(d: Dictionary, lang: str = "en") -> str:
    """A Markdown page: every field, every code list (DRG with weights), rules, version."""
    L = lambda k: _label(k, lang)  # noqa: E731
    out = [f"# {_title(d, lang)}", "",
           f"- **{L('name')}**: `{d.name}`", f"- **{L('version')}**: {d.version}",
           f"- **{L('fingerprint')}**: `{d.fingerprint}`", "", f"## {L('fields')}", "",
           f"| {L('name')} | {L('type')} | {L('unit')} | {L('required')} | {L('range')} | {L('desc')} |",
           "|---|---|---|---|---|---|"]
    for f in d.fields.values():
        req = L("yes") if f.required else L("no")
        out.append("| " + " | ".join(_md_cell(x) for x in (f"`{f.name}`", f.type, f.unit or "", req,
                                                            field_range(d, f), _desc(f.description, lang))) + " |")
    out += ["", f"## {L('codes')}", ""]
    for name, table in sorted(d.code_lists.items()):
        cols = _code_columns(table, lang)
        out += [f"### {name}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for _, row in table.iterrows():
            out.append("| " + " | ".join(_md_cell(row[c]) for c in cols) + " |")
        out.append("")
    out += [f"## {L('rules')}", "", f"| {L('rule')} | {L('kind')} | | {L('desc')} |", "|---|---|---|---|"]
    for rule in d.rules:
        out.append("| " + " | ".join(_md_cell(x) for x in (f"`{rule['name']}`", rule["kind"], _rule_text(rule),
                                                            _desc(rule.get("description") or {}, lang))) + " |")
    return "\n".join(out) + "\n"


def render_html(d: Dictionary, lang: str = "en") -> str:
    """A self-contained HTML page with the same content as the Markdown."""
    e = html.escape
    L = lambda k: e(_label(k, lang))  # noqa: E731

    def table(header: list[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{h}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    parts = [f"<h1>{e(_title(d, lang))}</h1>",
             f"<p><b>{L('name')}</b>: <code>{e(d.name)}</code> &middot; <b>{L('version')}</b>: {e(d.version)}"
             f" &middot; <b>{L('fingerprint')}</b>: <code>{e(d.fingerprint[:16])}</code></p>",
             f"<h2>{L('fields')}</h2>",
             table([L(k) for k in ("name", "type", "unit", "required", "range", "desc")],
                   [[f.name, f.type, f.unit or "", _label("yes" if f.required else "no", lang), field_range(d, f),
                     _desc(f.description, lang)] for f in d.fields.values()]),
             f"<h2>{L('codes')}</h2>"]
    for name, t in sorted(d.code_lists.items()):
        cols = _code_columns(t, lang)
        parts += [f"<h3>{e(name)}</h3>", table([e(c) for c in cols], t[cols].astype(str).values.tolist())]
    parts += [f"<h2>{L('rules')}</h2>",
              table([L("rule"), L("kind"), "", L("desc")],
                    [[r["name"], r["kind"], _rule_text(r), _desc(r.get("description") or {}, lang)] for r in d.rules])]
    html_lang = "zh" if lang == "zh" else "en"
    style = ("body{font-family:sans-serif;max-width:72em;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;"
             "text-align:left;vertical-align:top}th{background:#f3f3f3}code{background:#f6f6f6}")
    return (f"<!DOCTYPE html>\n<html lang=\"{html_lang}\"><head><meta charset=\"utf-8\">"
            f"<title>{e(_title(d, lang))} {e(d.version)}</title><style>{style}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def render_file(d: Dictionary, out: str | os.PathLike, lang: str = "en") -> Path:
    """Render to `out`, choosing Markdown or HTML by its extension (.md / .html, .htm)."""
    suffix = Path(out).suffix.lower()
    if suffix == ".md":
        text = render_markdown(d, lang)
    elif suffix in (".html", ".htm"):
        text = render_html(d, lang)
    else:
        raise ValueError(f"{out}: the output must end in .md or .html")
    return write_text(out, text)
