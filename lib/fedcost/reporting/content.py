"""What the report notebooks import as ``rc``: one name for the report helpers, kept in their own modules.

    import fedcost.reporting.content as rc
    s = rc.StudyView.read(results_dir)                # a results folder (fedcost run / demo)
    s.growth_thresholds()                             # (0.08, 0.10) from the run's policy
    annual = s.annual("all")                          # per-case cost per year with growth
    md = rc.findings_markdown(rc.headline_findings(s, region="all", lang="zh"), "zh")

``format`` (numbers, money, labels), ``view`` (the study as a report reads
it), ``findings`` (headline sentences), ``panels`` (shared tables) and
``charts`` (figures the theme does not have). Cells withheld by the disclosure
rules stay visible as "suppressed" / "已抑制", never as a blank or a zero.
"""
from fedcost.reporting.charts import coef_plot, coefficient_chart, pretty_term
from fedcost.reporting.findings import (
    Finding, alert_table, cea_at, finding_cea, finding_growth, finding_hospitals, finding_payment, finding_structure,
    findings_markdown, headline_findings, payment_groups, year_alerts,
)
from fedcost.reporting.format import (
    REGIONS_ZH, alert_label, alert_level, is_all, is_missing, localise_hospitals, num, pct, rng, strategy_name, tr,
    value_label, where, yuan, yuan_range,
)
from fedcost.reporting.panels import (
    kpi_table, privacy_table, quality_lines, status_table, structure_frame, suppressed_note, suppression_summary,
    versions_table,
)
from fedcost.reporting.view import ResultsNotFound, StudyView

__all__ = [
    "StudyView", "ResultsNotFound", "Finding", "tr", "num", "pct", "rng", "yuan", "yuan_range", "value_label",
    "localise_hospitals", "strategy_name", "is_all", "is_missing", "where", "alert_level", "alert_label", "REGIONS_ZH",
    "headline_findings", "findings_markdown", "finding_growth", "finding_hospitals", "finding_payment",
    "finding_structure", "finding_cea", "cea_at", "payment_groups", "kpi_table", "structure_frame", "suppressed_note",
    "privacy_table", "versions_table", "status_table", "suppression_summary", "quality_lines", "coefficient_chart",
    "coef_plot", "pretty_term", "alert_table", "year_alerts",
]
