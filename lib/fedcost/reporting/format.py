"""Formatting for the report notebooks: numbers, money, shares, ranges and labels in English or Chinese.

Numbers are formatted with ``i18n.fmt_*``, so a test can format a table's number
the same way and find it in the rendered text.
"""
from __future__ import annotations

import math

import pandas as pd

from fedcost.reporting.i18n import fmt_number, fmt_pct, fmt_yuan, has, normalise_lang, t

REGIONS_ZH = {"east": "东部", "west": "西部", "central": "中部", "north": "北部", "south": "南部",
              "northeast": "东北", "northwest": "西北", "southeast": "东南", "southwest": "西南"}


def value_label(value, lang: str | None = "en") -> str:
    """A data value as a reader sees it: hospital levels and region codes in the report's language."""
    import re
    v = str(value)
    if normalise_lang(lang) == "zh":
        if v.lower() in REGIONS_ZH:
            return REGIONS_ZH[v.lower()]
        m = re.fullmatch(r"Hospital ([A-Z]{1,3})", v)   # the benchmark's pseudonyms
        if m:
            return f"医院 {m.group(1)}"
    return t(v, lang)


def localise_hospitals(df: pd.DataFrame, lang: str | None, col: str = "hospital") -> pd.DataFrame:
    """A copy with the hospital pseudonyms in the report's language ('Hospital A' -> '医院 A')."""
    if col not in df.columns:
        return df
    out = df.copy()
    out[col] = out[col].map(lambda h: value_label(h, lang))
    return out


tr = t  # the notebooks' name for the one label table (i18n.LABELS)


def is_missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def num(v, digits: int = 0, lang: str = "en") -> str:
    return fmt_number(None if is_missing(v) else float(v), digits, lang)


def yuan(v, digits: int = 0, lang: str = "en") -> str:
    return fmt_yuan(None if is_missing(v) else float(v), digits, lang)


def pct(v, digits: int = 1, lang: str = "en", signed: bool = False) -> str:
    return fmt_pct(None if is_missing(v) else float(v), digits, lang, signed)


def rng(a, b, digits: int = 0, lang: str = "en", nobreak: bool = False) -> str:
    """'13,663–14,593'; with a negative end '−557 to 5,029' / '−557 至 5,029' (a dash would read as a minus).

    nobreak: a word joiner after the dash, for table cells: a narrow column would otherwise break an
    interval after its dash (typst does), leaving '0.984–' and '1.054' on two lines.
    """
    fa, fb = num(a, digits).replace("-", "−"), num(b, digits).replace("-", "−")
    if (not is_missing(a) and a < 0) or (not is_missing(b) and b < 0):
        return f"{fa} 至 {fb}" if normalise_lang(lang) == "zh" else f"{fa} to {fb}"
    return f"{fa}–\u2060{fb}" if nobreak else f"{fa}–{fb}"


def yuan_range(a, b, digits: int = 0, lang: str = "en") -> str:
    """'13,663–14,593 yuan' / '13,663–14,593 元'."""
    return yuan(b, digits, lang).replace(num(b, digits), rng(a, b, digits, lang), 1)


def strategy_name(name, lang: str = "en") -> str:
    key = f"strategy_{name}"
    return tr(key, lang) if has(key) else str(name)



def is_all(region) -> bool:
    return region in (None, "", "all", "All", "ALL")


def where(region, lang: str) -> str:
    """'all hospitals' / 'the east region' in prose."""
    if is_all(region):
        return "全部参与医院" if lang == "zh" else "the participating hospitals"
    return f"{value_label(region, lang)}地区" if lang == "zh" else f"the {region} region"


def alert_level(growth, yellow: float, red: float) -> str:
    if is_missing(growth):
        return "none"
    return "red" if growth > red else "yellow" if growth > yellow else "none"


def alert_label(level: str, lang: str) -> str:
    return t({"red": "alert_red", "yellow": "alert_yellow"}.get(level, "alert_none"), lang)


