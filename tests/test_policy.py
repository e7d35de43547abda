"""Policy inputs: disclosure minimums that can only be lowered on purpose, sections, payment standards."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml

from fedcost.errors import DataError, UsageError
from fedcost.paths import PROJECT_ROOT
from fedcost.policy import DISCLOSURE_DEFAULTS, Policy


def _policy(tmp_path, raw: dict, name="policy.yaml") -> Policy:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return Policy.load(path)


def test_the_project_policy_as_written(monkeypatch):
    monkeypatch.delenv("FEDCOST_POLICY", raising=False)
    p = Policy.default()
    written = yaml.safe_load((PROJECT_ROOT / "policy" / "policy.yaml").read_text(encoding="utf-8"))
    assert p.path == PROJECT_ROOT / "policy" / "policy.yaml"
    assert p.disclosure == written["disclosure"] == DISCLOSURE_DEFAULTS
    alerts = p.section("alerts")
    assert alerts == written["alerts"]
    alerts["growth_red"] = 99  # a copy: the policy is unchanged
    assert p.section("alerts")["growth_red"] == written["alerts"]["growth_red"]
    assert p.section("no_such_section") == {}


def test_missing_minimums_take_the_defaults_and_may_be_raised(tmp_path):
    p = _policy(tmp_path, {"disclosure": {"min_hospitals": 5, "max_parameter_fraction": 0.1}})
    assert p.disclosure == {"min_hospitals": 5, "min_cell_records": 5, "max_parameter_fraction": 0.1,
                            "name_hospitals": False}
    assert _policy(tmp_path, {}, "empty.yaml").disclosure == DISCLOSURE_DEFAULTS


@pytest.mark.parametrize("disclosure, match", [
    ({"min_hospitals": 2}, "disclosure.min_hospitals=2 is below the default 3"),
    ({"min_cell_records": 1}, "disclosure.min_cell_records=1 is below the default 5"),
    ({"max_parameter_fraction": 0.5}, "disclosure.max_parameter_fraction=0.5 is looser than the default 0.2"),
])
def test_looser_rules_are_refused_at_load_unless_stated_on_purpose(tmp_path, disclosure, match):
    with pytest.raises(DataError, match=match) as info:
        _policy(tmp_path, {"disclosure": disclosure})
    assert str(tmp_path / "policy.yaml") in str(info.value) and "allow_below_defaults: true" in str(info.value)
    p = _policy(tmp_path, {"disclosure": disclosure, "allow_below_defaults": True}, "on_purpose.yaml")
    assert p.disclosure == {**DISCLOSURE_DEFAULTS, **disclosure}


def test_a_missing_or_broken_policy_file(tmp_path):
    with pytest.raises(UsageError, match="no such policy file"):
        Policy.load(tmp_path / "nope.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(DataError, match="must be a mapping"):
        Policy.load(tmp_path / "list.yaml")


def test_payment_standards_are_read_beside_the_policy_file(tmp_path):
    (tmp_path / "std.csv").write_text("drg_code,payment_standard\n0101,1200.5\nBR21,14900\n", encoding="utf-8")
    p = _policy(tmp_path, {"payment_standards": "std.csv"})
    std = p.payment_standards()
    assert std["drg_code"].tolist() == ["0101", "BR21"]  # codes stay text: the leading zero survives
    assert std["payment_standard"].tolist() == [1200.5, 14900.0]
    absolute = _policy(tmp_path, {"payment_standards": str(tmp_path / "std.csv")}, "abs.yaml")
    pd.testing.assert_frame_equal(absolute.payment_standards(), std)
    with pytest.raises(DataError, match="no payment_standards file named"):
        _policy(tmp_path, {}, "none.yaml").payment_standards()
    with pytest.raises(DataError, match="missing.csv: cannot read payment standards"):
        _policy(tmp_path, {"payment_standards": "missing.csv"}, "missing.yaml").payment_standards()
