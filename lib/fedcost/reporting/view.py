"""``StudyView``: a study's results as the report notebooks look at them (a region, a year, the policy).

A ``StudyResult`` read from a results folder, plus the choices a report makes:
which region and year, which thresholds (the run's policy unless a report
parameter overrides it). Every statistic comes from the result tables, where
the analysis kinds computed it; nothing is recomputed here.
"""
from __future__ import annotations

import pandas as pd

from fedcost.reporting.format import is_all, is_missing
from fedcost.results.study import ResultsNotFound, StudyResult

__all__ = ["StudyView", "ResultsNotFound"]


class StudyView(StudyResult):
    """A results folder as the report notebooks read it (``StudyView.read(results_dir)``)."""

    @property
    def policy(self) -> dict:
        return self.run.get("policy") or {}

    def spec(self, analysis: str) -> dict:
        return self.specs.get(analysis) or {}

    def released(self, analysis: str) -> dict:
        """The released result of ``analysis``, or {} when it was not released."""
        return (self.analyses.get(analysis) or {}).get("result") or {}

    # -- policy values (a parameter overrides; None = from the run's policy)
    def growth_thresholds(self, yellow=None, red=None) -> tuple[float, float]:
        a = self.policy.get("alerts") or self.spec("warning_overall").get("thresholds") or {}
        return (float(yellow if yellow is not None else a.get("growth_yellow", 0.08)),
                float(red if red is not None else a.get("growth_red", 0.10)))

    def share_caps(self) -> tuple[float, float]:
        a = self.policy.get("alerts") or {}
        return float(a.get("drug_share_max", 0.30)), float(a.get("consumable_share_max", 0.20))

    def band(self) -> tuple[float, float]:
        b = (self.policy.get("benchmark") or {}).get("cost_coefficient_band") or [0.8, 1.2]
        return float(b[0]), float(b[1])

    def wtp(self, override=None) -> float | None:
        if override is not None:
            return float(override)
        inc = self.table("cea_incremental")
        if len(inc) and not is_missing(inc["wtp"].iloc[0]):
            return float(inc["wtp"].iloc[0])
        ce = self.policy.get("cost_effectiveness") or {}
        if ce.get("gdp_per_capita"):
            return float(ce["gdp_per_capita"]) * float(ce.get("wtp_multiple", 3))
        return None

    def min_cell(self) -> tuple[int, int]:
        d = self.policy.get("disclosure") or {}
        return int(d.get("min_cell_records", 5)), int(d.get("min_hospitals", 3))

    def regions(self) -> list[str]:
        d = self.table("descriptive_by_region")
        return [str(r) for r in d["region"] if str(r) != "All"] if len(d) else []

    # -- region / period views
    def region_row(self, region: str = "all") -> pd.Series | None:
        """The descriptive row of the region ('all' = every hospital); None if the table is missing."""
        if is_all(region):
            d = self.table("descriptive_overall")
            return d.iloc[-1] if len(d) else None
        d = self.table("descriptive_by_region")
        hit = d[d["region"].astype(str) == str(region)] if len(d) else d
        return hit.iloc[0] if len(hit) else None

    def annual(self, region: str = "all") -> pd.DataFrame:
        """Per year: n, hospitals, per-case cost with its 95% interval (``ci_lower``, ``ci_upper``), shares,
        LOS, growth on the previous year, suppressed; the region x year table's rows of the region (its
        'All' margin for every region), with the statistics the descriptive kind derived."""
        d = self.table("descriptive_by_region_year")
        if not len(d):
            return pd.DataFrame()
        key = "All" if is_all(region) else str(region)
        d = d[(d["region"].astype(str) == key) & (d["period"].astype(str) != "All")].copy()
        d["period"] = d["period"].astype(str)
        d = d.rename(columns={"cost_mean_lower95": "ci_lower", "cost_mean_upper95": "ci_upper"})
        return d.sort_values("period").reset_index(drop=True)

    def pick_year(self, annual: pd.DataFrame, period=None) -> str | None:
        """`period` (a year) if given, else the latest year with released figures."""
        if not len(annual):
            return None
        if period not in (None, "", "all", "All"):
            p = str(period)[:4]
            if p not in set(annual["period"]):
                raise ValueError(f"period {period!r} is not in the results; years: {', '.join(annual['period'])}")
            return p
        ok = annual[~annual["suppressed"].astype(bool)]
        return str((ok if len(ok) else annual)["period"].iloc[-1])

    def warning_series(self, region: str = "all") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(trends, spc, alerts) of the overall warning analysis or of the region's group."""
        if is_all(region):
            name, group = "warning_overall", None
        else:
            name, group = "warning_by_region", str(region)
        out = []
        for tname in ("trends", "spc", "alerts"):
            df = self.table(tname, name)
            if group is not None and len(df):
                df = df[df["group"].astype(str) == group]
            out.append(df.reset_index(drop=True))
        return tuple(out)


