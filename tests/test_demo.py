"""`fedcost demo` as a user runs it: twice in the same folder, on a machine without a Chinese font.

Reported: every second `make demo` stopped at the federation (the first run's
logs made the second start `flwr run` before its SuperLink was up), and a
machine without a CJK font spent four minutes and then exited 1 at the reports.
"""
from __future__ import annotations

import pytest

from fedcost.cli import main
from fedcost.reporting import fonts


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_demo_twice_in_one_folder_without_a_chinese_font(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fonts, "find_cjk_font", lambda: None)  # a fresh machine: no CJK font ...
    monkeypatch.setenv(fonts.NO_INSTALL_ENV, "1")               # ... and no right to install one
    args = ["demo", "--hospitals", "3", "--rows", "1000", "--work", str(tmp_path / "work"),
            "--out", str(tmp_path / "reports"), "--lang", "en", "zh"]
    assert main(args) == 0
    first = capsys.readouterr()
    # the warning came before the long steps, and again at the end, saying what to install
    assert first.err.count("apt-get install fonts-noto-cjk") == 2
    assert first.out.index("[1/6]") > 0 and "[6/6]" in first.out
    built = sorted(p.name for p in (tmp_path / "reports").glob("*.pdf"))
    assert built and all(".en." in name for name in built)
    assert (tmp_path / "work" / "results" / "results.json").exists()

    # Users rerun, in the same folder. The reported failure was the federation step's (the deployment
    # engine read the first run's logs), which test_deployment checks on a rerun in one folder; here the
    # second run takes the in-process engine through the same folder, and stops after the tables (the
    # reports are built in a staging folder and moved into place).
    assert main([*args, "--no-reports", "--engine", "local"]) == 0
    second = capsys.readouterr()
    assert "Done in" in second.out and "unavailable" not in second.err
    assert "[5/5] result tables" in second.out
    assert sorted(p.name for p in (tmp_path / "reports").glob("*.pdf")) == built
