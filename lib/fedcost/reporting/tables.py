"""Tables for report notebooks, emitted as Markdown so both renderers (Quarto and the embedded
pandoc + typst one) make real tables of them in HTML and PDF.

    from fedcost.reporting.tables import md_table
    md_table(kpis, lang=lang, formats={"value": "{:,.0f}", "growth": "{:+.1%}"})   # last line of a cell

Numbers are right-aligned, text left-aligned; known column names get their
label in the report language (`i18n.translate_columns`); missing values show
as '–'. A cell with `#| label: tbl-...` and `#| tbl-cap: ...` gets a numbered
caption.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Callable, Mapping

import pandas as pd

from fedcost.reporting.i18n import has, t


def _cell(v, fmt) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA:
        return "–"
    if fmt is not None:
        try:
            s = fmt(v) if callable(fmt) else fmt.format(v)
        except (ValueError, TypeError):
            s = str(v)
    elif isinstance(v, float):
        s = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.3g}" if abs(v) < 1 else f"{v:,.2f}"
    elif isinstance(v, int) and not isinstance(v, bool):
        s = f"{v:,}"
    else:
        s = str(v)
    return s.replace("|", "\\|").replace("\n", " ")


def markdown_table(df: pd.DataFrame, *, lang: str | None = "en",
                   formats: Mapping[str, str | Callable] | None = None, translate: bool = True,
                   headers: Mapping[str, str] | None = None, index: bool = False) -> str:
    """The pipe-table Markdown text of `df` (see module doc)."""
    formats = dict(formats or {})
    headers = dict(headers or {})
    d = df.reset_index() if index else df
    cols = list(d.columns)
    numeric = {c: (pd.api.types.is_numeric_dtype(d[c]) and not pd.api.types.is_bool_dtype(d[c]))
               or _looks_numeric(d[c]) for c in cols}
    names = [headers.get(c, t(str(c), lang) if translate and has(str(c)) else str(c)) for c in cols]
    lines = ["| " + " | ".join(n.replace("|", "\\|") for n in names) + " |",
             "|" + "|".join("--:" if numeric[c] else ":--" for c in cols) + "|"]
    for row in d.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(_cell(v, formats.get(c)) for c, v in zip(cols, row)) + " |")
    return "\n".join(lines) + "\n"


def md_table(df: pd.DataFrame, **kwargs):
    """`markdown_table` wrapped for display in a notebook (an IPython Markdown object)."""
    from IPython.display import Markdown
    return Markdown(markdown_table(df, **kwargs))


_NUMBER = re.compile(r"^[\s+\-−–≤≥<>~≈]*[¥$€]?\d[\d,.\s]*(%|‰|元|yuan|万元|x|×)?\s*$", re.I)


def _looks_numeric(col: pd.Series) -> bool:
    """Formatted numbers ('23,457 yuan', '8.3%', '≤ 20%') are right-aligned like numbers."""
    vals = [str(v).strip() for v in col.tolist() if v is not None and str(v).strip() not in ("", "–", "-", "nan")]
    return bool(vals) and all(_NUMBER.match(v) for v in vals)


class _TableParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._section = "tbody"

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"head": [], "body": []})
        elif not self.tables:
            return
        elif tag in ("thead", "tbody", "tfoot"):
            self._section = tag
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
            span = dict(attrs).get("colspan")
            self._span = int(span) if span and str(span).isdigit() else 1

    def handle_endtag(self, tag):
        if not self.tables:
            return
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            # a header spanning columns (a two-level header's group) names each of them
            fill = text if self._section == "thead" else ""
            self._row.extend([text] + [fill] * (self._span - 1))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1]["head" if self._section == "thead" else "body"].append(self._row)
            self._row = None
        elif tag in ("thead", "tbody", "tfoot"):
            self._section = "tbody"

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_table_to_markdown(html: str, *, lang: str | None = "en") -> str | None:
    """The first HTML table (a pandas DataFrame's output) as a pipe table; None if there is none.
    A default RangeIndex column (empty header, 0..n-1) is dropped; MultiIndex header rows are joined;
    known column names (`drg_code`, `mean_cost`, ...) get their label in `lang`; long numbers get
    thousands separators."""
    p = _TableParser()
    try:
        p.feed(html)
    except Exception:  # noqa: BLE001 - malformed HTML: let the caller fall back
        return None
    if not p.tables or not (p.tables[0]["head"] or p.tables[0]["body"]):
        return None
    tab = p.tables[0]
    head, body = tab["head"], tab["body"]
    if not head:
        head, body = body[:1], body[1:]
    width = max(len(r) for r in head + body)
    head = [r + [""] * (width - len(r)) for r in head]
    body = [r + [""] * (width - len(r)) for r in body]
    # pandas puts the index name on a second header row: merge header rows column by column
    names = [" ".join(x for x in col if x).strip() for col in zip(*head)] if head else [""] * width
    if body and names and not names[0] and [r[0] for r in body] == [str(i) for i in range(len(body))]:
        names, body = names[1:], [r[1:] for r in body]
    names = [(t(n, lang) if has(n) else n) or " " for n in names]   # known column names in the report language
    body = [[_group_digits(v) for v in r] for r in body]
    df = pd.DataFrame(body, columns=range(len(names)))
    return markdown_table(df, lang=lang, translate=False, headers=dict(enumerate(names)))


def code_version() -> str:
    """fedcost's version, plus the git commit of the source tree when there is one."""
    from fedcost import __version__
    from fedcost.paths import git_commit

    commit = git_commit()
    if not commit:
        return __version__
    return f"{__version__} ({commit[:7]}{', modified' if commit.endswith('+modified') else ''})"


def provenance_table(params: Mapping | None = None, *, lang: str | None = "en",
                     dictionary_version: str | None = None, extra: Mapping | None = None):
    """The methods appendix' table: every parameter of the run, the data-dictionary version and the
    code version that produced the report (a Markdown object for the last line of a cell)."""
    from IPython.display import Markdown
    dictionary_version = dictionary_version or "–"  # from the results; reporting reads no dictionary
    rows = [(t("code_version", lang), code_version()), (t("dictionary_version", lang), str(dictionary_version))]
    rows += [(str(k), str(v)) for k, v in (extra or {}).items()]
    rows += [(str(k), str(v)) for k, v in (params or {}).items()]
    df = pd.DataFrame(rows, columns=[t("parameters", lang), t("value", lang)])
    return Markdown(markdown_table(df, lang=lang, translate=False))


def _group_digits(v: str) -> str:
    """'21500.0' -> '21,500.0' (decimals kept as the notebook showed them); other text unchanged."""
    m = re.fullmatch(r"(-?)(\d{4,})(\.\d+)?", v.strip())
    return f"{m.group(1)}{int(m.group(2)):,}{m.group(3) or ''}" if m else v
