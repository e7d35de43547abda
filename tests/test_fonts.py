"""Chinese reports need a CJK font: install it where this process may, else say what to install."""
from __future__ import annotations

import pytest

from fedcost.reporting import fonts


@pytest.fixture
def no_font(monkeypatch):
    monkeypatch.setattr(fonts, "find_cjk_font", lambda: None)
    monkeypatch.setenv(fonts.NO_INSTALL_ENV, "1")


def test_without_a_font_the_chinese_reports_are_left_out_with_a_hint(no_font):
    langs, warning = fonts.ensure_languages(["en", "zh"], say=lambda _m: None)
    assert langs == ["en"]
    assert "zh" in warning and "apt-get install fonts-noto-cjk" in warning


def test_english_needs_no_font(no_font):
    assert fonts.ensure_languages(["en"]) == (["en"], None)


def test_told_not_to_install_it_does_not(no_font, monkeypatch):
    called = []
    monkeypatch.setattr(fonts, "install_font", lambda say: called.append(1))
    fonts.ensure_languages(["zh"], say=lambda _m: None)
    assert not fonts.can_install_font() and called == []


def test_a_root_process_with_apt_installs_it(monkeypatch):
    """The install path itself: apt-get is called for fonts-noto-cjk and the font is looked up again."""
    found = iter([None, fonts.CJKFont("Noto Sans CJK SC", fonts.Path("/f.ttc"), (fonts.Path("/f.ttc"),))])
    lookups = []

    def find():
        lookups.append(1)
        return next(found)

    find.cache_clear = lambda: None
    calls = []
    monkeypatch.setattr(fonts, "find_cjk_font", find)
    monkeypatch.setattr(fonts, "can_install_font", lambda: True)
    monkeypatch.setattr(fonts.subprocess, "run", lambda cmd, **kw: calls.append(cmd) or
                        type("Done", (), {"returncode": 0})())
    assert fonts.ensure_languages(["en", "zh"], say=lambda _m: None) == (["en", "zh"], None)
    assert calls == [["apt-get", "install", "-y", "-q", "fonts-noto-cjk"]] and len(lookups) == 2


def test_report_command_without_a_font_fails_before_any_work(no_font, tmp_path):
    from fedcost.reporting.build import build_reports, params_from_mapping

    params = params_from_mapping({"results_dir": str(tmp_path / "nothing"), "lang": ["zh"]})
    with pytest.raises(fonts.MissingFontError, match="fonts-noto-cjk"):
        build_reports(params, tmp_path / "out", progress=None)
    assert not (tmp_path / "out").exists()
