"""fedcost.reporting.i18n: one label table in English and Chinese, language codes, number formats."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from fedcost.reporting import i18n


@pytest.mark.parametrize("code, expected", [
    ("zh-CN", "zh"), ("zh_Hans", "zh"), ("ZH", "zh"), ("en-GB", "en"), ("EN", "en"),
    (None, "en"), ("", "en"), ("fr", "en"), ("de-DE", "en"),   # unknown languages fall back to English
])
def test_language_codes_normalise_to_the_two_report_languages(code, expected):
    assert i18n.normalise_lang(code) == expected


def test_every_alias_names_a_label_and_resolves_to_it():
    for alias, key in i18n.ALIASES.items():
        assert key in i18n.LABELS, f"alias {alias!r} points at the missing label {key!r}"
        assert i18n.has(alias)
        for lang in i18n.LANGUAGES:
            assert i18n.t(alias, lang) == i18n.LABELS[key][lang]
    assert not i18n.has("Hospital A")  # a data value is not a label


def test_labels_fill_their_placeholders_in_each_language():
    assert i18n.t("suppressed", "en", n=5) == "suppressed (fewer than 5 records)"
    assert i18n.t("suppressed", "zh-CN", n=5) == "已隐去（少于 5 条记录）"
    # without arguments the template comes back as written (no KeyError on the braces)
    assert i18n.t("suppressed", "en") == "suppressed (fewer than {n} records)"
    # an unknown key is returned unchanged in every language, and is never formatted
    assert i18n.t("H07", "zh") == "H07"


def test_labels_object_reads_like_t_and_hides_private_names():
    zh = i18n.Labels("zh_CN")
    assert zh.lang == "zh"
    assert zh.oe_ratio == i18n.t("oe_ratio", "zh") == "实际/预期费用比"
    assert zh("suppressed", n=3) == "已隐去（少于 3 条记录）"
    assert i18n.Labels("fr").cmi == "Case-mix index"    # unknown language: English
    with pytest.raises(AttributeError):
        zh._private  # noqa: B018 - dunder/private lookups must not turn into labels (pickling, copy)


def test_translate_columns_renames_known_columns_only_and_leaves_the_input_alone():
    df = pd.DataFrame({"hospital": ["A"], "oe": [1.02], "n": [120], "my_col": [1], "drugs": [0.3]})
    out = i18n.translate_columns(df, "zh", extra={"my_col": "我的列"})
    assert list(out.columns) == ["医院", "实际/预期费用比", "病例数", "我的列", "药品"]
    assert list(df.columns) == ["hospital", "oe", "n", "my_col", "drugs"]   # a copy
    assert out.iloc[0].tolist() == df.iloc[0].tolist()
    assert list(i18n.translate_columns(df, "en").columns) == [
        "Hospital", "Observed / expected cost", "Cases", "my_col", "Drugs"]


def test_number_formats_by_hand():
    # fmt_number: thousands separators, rounding to `digits`
    assert i18n.fmt_number(1234567.891, 2) == "1,234,567.89"
    assert i18n.fmt_number(-9876.5) == "-9,876"   # Python's format rounds half to even: 9876.5 -> 9876
    assert i18n.fmt_number(-9876.6) == "-9,877"
    # fmt_yuan: the unit follows the language, the number does not
    assert i18n.fmt_yuan(23456.7, 0, "en") == "23,457 yuan"
    assert i18n.fmt_yuan(23456.7, 1, "zh-CN") == "23,456.7 元"
    # fmt_pct: 0.0834 x 100 = 8.34 -> 1 decimal 8.3; signed puts the sign on both sides of 0
    assert i18n.fmt_pct(0.0834) == "8.3%"
    assert i18n.fmt_pct(-0.0834, 2, signed=True) == "-8.34%"
    assert i18n.fmt_pct(0.0, 0, signed=True) == "+0%"
    for f in (i18n.fmt_number, i18n.fmt_yuan, i18n.fmt_pct):
        assert f(None) == "–" and f(float("nan")) == "–" and f(math.nan, 3, "zh") == "–"
