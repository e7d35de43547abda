"""fedcost.reporting.view.StudyView: a results folder as the reports read it (policy values with their
overrides and defaults, region and year views, the warning series), on a small hand-made study."""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from fedcost.reporting.view import ResultsNotFound, StudyView

sys.path.insert(0, str(Path(__file__).parent))
from report_helpers import POLICY, small_study  # noqa: E402


@pytest.fixture(scope="module")
def study() -> StudyView:
    return small_study()


def test_read_gives_a_view_of_what_was_written(study, tmp_path):
    folder = study.write(tmp_path / "results")
    again = StudyView.read(folder)
    assert type(again) is StudyView and again.folder == folder
    assert set(again.tables) == set(study.tables)
    pd.testing.assert_frame_equal(again.annual("all")[["period", "n", "cost_mean", "ci_lower", "growth"]],
                                  study.annual("all")[["period", "n", "cost_mean", "ci_lower", "growth"]],
                                  check_dtype=False)
    assert again.growth_thresholds() == (0.08, 0.10) and again.wtp() == 287247.0
    with pytest.raises(ResultsNotFound, match="not a results folder"):
        StudyView.read(tmp_path)
    assert issubclass(ResultsNotFound, FileNotFoundError)


def test_policy_values_with_overrides_and_fallbacks(study):
    assert study.growth_thresholds() == (0.08, 0.10)
    assert study.growth_thresholds(yellow=0.05) == (0.05, 0.10)      # one parameter overrides one value
    assert study.growth_thresholds(0, 0.2) == (0.0, 0.2)             # 0 is a value, not "not given"
    assert study.share_caps() == (0.30, 0.20) and study.band() == (0.8, 1.2) and study.min_cell() == (5, 3)
    other = small_study(policy={**POLICY, "alerts": {"growth_yellow": 0.03, "growth_red": 0.04,
                                                     "drug_share_max": 0.4, "consumable_share_max": 0.25},
                                "benchmark": {"cost_coefficient_band": [0.9, 1.1]},
                                "disclosure": {"min_cell_records": 10, "min_hospitals": 5}})
    assert other.growth_thresholds() == (0.03, 0.04) and other.share_caps() == (0.4, 0.25)
    assert other.band() == (0.9, 1.1) and other.min_cell() == (10, 5)
    # no policy in the run: the warning analysis' own thresholds (0.07 / 0.09), then the defaults
    bare = small_study(policy=None)
    assert bare.growth_thresholds() == (0.07, 0.09)
    bare.specs = {}
    assert bare.growth_thresholds() == (0.08, 0.10)
    assert bare.share_caps() == (0.30, 0.20) and bare.band() == (0.8, 1.2) and bare.min_cell() == (5, 3)


def test_willingness_to_pay_from_parameter_table_or_policy():
    s = small_study()
    assert s.wtp(20000) == 20000.0 and isinstance(s.wtp("20000"), float)
    assert s.wtp() == 287247.0                                  # the CEA table's threshold
    no_cea = small_study(with_cea=False)
    assert no_cea.wtp() == 95749 * 3 == 287247                  # 3 x GDP per capita from the policy
    assert small_study(with_cea=False, policy=None).wtp() is None


def test_regions_and_region_rows(study):
    assert study.regions() == ["east", "west"]                  # the 'All' margin is not a region
    row = study.region_row("all")
    assert row["n"] == 3000 and row["cost_mean"] == 10000.0     # the overall table, not a region's
    assert study.region_row(None)["n"] == 3000 and study.region_row("ALL")["n"] == 3000
    assert study.region_row("west")["cost_mean"] == 9300.0
    assert bool(study.region_row("east")["suppressed"]) is True
    assert study.region_row("north") is None
    empty = small_study()
    empty.tables = {}
    assert empty.region_row("all") is None and empty.regions() == [] and len(empty.annual()) == 0


def test_annual_is_the_regions_years_in_order_with_named_intervals(study):
    a = study.annual("all")
    assert a["period"].tolist() == ["2022", "2023", "2024"]     # sorted, the 'All' period dropped
    assert a["cost_mean"].tolist() == [9000.0, 9450.0, 10584.0]
    # the interval columns are renamed, their values untouched (cost_mean -+ 200 in the helper)
    assert (a["ci_upper"] - a["cost_mean"]).tolist() == [200.0] * 3 and "cost_mean_lower95" not in a
    assert a["growth"].iloc[2] == pytest.approx(10584 / 9450 - 1)   # = 0.12, as the kind released it
    w = study.annual("west")
    assert set(w["region"]) == {"west"} and w["period"].tolist() == ["2022", "2023", "2024"]


def test_pick_year(study):
    assert study.pick_year(study.annual("all")) == "2024"
    assert study.pick_year(study.annual("west")) == "2023"       # 2024 is suppressed there
    assert study.pick_year(study.annual("east")) == "2024"       # all suppressed: the last year
    assert study.pick_year(study.annual("all"), "2023-06-30") == "2023"
    assert study.pick_year(study.annual("all"), 2022) == "2022"
    assert study.pick_year(study.annual("all"), "All") == "2024"
    assert study.pick_year(pd.DataFrame()) is None
    with pytest.raises(ValueError, match="2022, 2023, 2024"):
        study.pick_year(study.annual("all"), 2019)


def test_warning_series_of_the_federation_or_one_region(study):
    trends, spc, alerts = study.warning_series("all")
    assert set(trends["analysis"]) == set(spc["analysis"]) == set(alerts["analysis"]) == {"warning_overall"}
    assert (len(trends), len(spc), len(alerts)) == (3, 2, 6)
    trends, spc, alerts = study.warning_series("west")
    assert set(trends["group"]) == set(spc["group"]) == set(alerts["group"]) == {"west"}
    assert (len(trends), len(spc), len(alerts)) == (2, 1, 1)
    assert trends.index.tolist() == [0, 1]                       # a fresh index for positional use
    assert all(len(df) == 0 for df in study.warning_series("north"))
