"""Report formatting: the same number reads the same way in a table and in the text, in both languages."""
from fedcost.reporting import format as fmt


def test_numbers_money_and_shares():
    assert fmt.num(12345.678) == "12,346" and fmt.num(None) == "–"
    assert fmt.pct(0.0823, 1) == "8.2%"
    assert fmt.pct(-0.05, 1, signed=True) == "-5.0%" and fmt.pct(0.05, 1, "zh", True) == "+5.0%"
    assert fmt.yuan(1500, 0, "en") == "1,500 yuan" and fmt.yuan(1500, 0, "zh") == "1,500 元"


def test_ranges_say_to_when_an_end_is_negative():
    assert fmt.rng(1, 2) == "1–2" and fmt.rng(-1, 2) == "−1 to 2"
    # in a table cell a word joiner after the dash: a narrow column must not break "0.984–1.054" in two
    assert fmt.rng(1, 2, nobreak=True) == "1–\u20602" and fmt.rng(-1, 2, nobreak=True) == "−1 to 2"


def test_missing_and_all():
    assert fmt.is_missing(float("nan")) and fmt.is_missing(None) and not fmt.is_missing(0)
    assert fmt.is_all("all") and fmt.is_all(None) and not fmt.is_all("east")
    assert fmt.value_label("east", "zh") == "东部" and fmt.value_label("east", "en") == "east"
