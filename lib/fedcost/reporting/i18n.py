"""Report labels in English and Chinese.

Every word a report shows that is not prose written in a notebook (axis
labels, legend entries, table headers, cost components, section names, alert
levels) comes from here, so the two languages stay in step.

    from fedcost.reporting.i18n import t, Labels
    t("per_case_cost", "zh")          # '次均费用'
    L = Labels("zh"); L.per_case_cost # same
    translate_columns(df, "zh")       # known column names -> Chinese headers
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    import pandas as pd

LANGUAGES = ("en", "zh")
DEFAULT_LANG = "en"

LABELS: dict[str, dict[str, str]] = {
    # --- report structure
    "headline_findings": {"en": "Headline findings", "zh": "主要发现"},
    "key_indicators": {"en": "Key indicators", "zh": "关键指标"},
    "hospital_comparison": {"en": "Hospital comparison", "zh": "医院间比较"},
    "trends": {"en": "Trends and early warning", "zh": "趋势与预警"},
    "cost_structure": {"en": "Cost structure", "zh": "费用结构"},
    "payment_gaps": {"en": "DRG payment versus cost", "zh": "DRG 支付标准与实际成本"},
    "cost_effectiveness": {"en": "Cost-effectiveness", "zh": "成本效果"},
    "methods": {"en": "Methods and data quality", "zh": "方法与数据质量"},
    "parameters": {"en": "Parameters", "zh": "参数"},
    "action": {"en": "Action", "zh": "建议措施"},
    "figure": {"en": "Figure", "zh": "图"},
    "table": {"en": "Table", "zh": "表"},
    "generated": {"en": "Generated", "zh": "生成时间"},
    "reports": {"en": "Reports", "zh": "报告"},
    "report": {"en": "Report", "zh": "报告"},
    "language": {"en": "Language", "zh": "语言"},
    "lang_en": {"en": "English", "zh": "英文"},
    "lang_zh": {"en": "Chinese", "zh": "中文"},
    "notebook": {"en": "Executed notebook", "zh": "已执行的笔记本"},
    "suppressed": {"en": "suppressed (fewer than {n} records)", "zh": "已隐去（少于 {n} 条记录）"},
    "code_version": {"en": "Code version", "zh": "代码版本"},
    "dictionary_version": {"en": "Data dictionary version", "zh": "数据字典版本"},
    # --- indicators
    "per_case_cost": {"en": "Per-case cost", "zh": "次均费用"},
    "per_case_cost_yuan": {"en": "Per-case cost (yuan)", "zh": "次均费用（元）"},
    "growth_rate": {"en": "Growth rate", "zh": "增长率"},
    "cost_growth": {"en": "Per-case cost growth", "zh": "次均费用增长率"},
    "total_cost": {"en": "Total cost", "zh": "总费用"},
    "cases": {"en": "Cases", "zh": "病例数"},
    "n_cases": {"en": "Number of cases", "zh": "病例数"},
    "hospital": {"en": "Hospital", "zh": "医院"},
    "region": {"en": "Region", "zh": "地区"},
    "hospital_level": {"en": "Hospital level", "zh": "医院等级"},
    "period": {"en": "Period", "zh": "时期"},
    "year": {"en": "Year", "zh": "年份"},
    "month": {"en": "Month", "zh": "月份"},
    "quarter": {"en": "Quarter", "zh": "季度"},
    "drg": {"en": "DRG group", "zh": "DRG 组"},
    "drg_code": {"en": "DRG group", "zh": "DRG 组"},
    "oe_ratio": {"en": "Observed / expected cost", "zh": "实际/预期费用比"},
    "expected_cost": {"en": "Expected cost", "zh": "预期费用"},
    "observed_cost": {"en": "Observed cost", "zh": "实际费用"},
    "cost_coefficient": {"en": "Cost difference coefficient", "zh": "费用差异系数"},
    "cmi": {"en": "Case-mix index", "zh": "病例组合指数"},
    "relative_weight": {"en": "Relative weight", "zh": "相对权重"},
    "drug_share": {"en": "Drug share", "zh": "药占比"},
    "consumable_share": {"en": "Consumables share", "zh": "耗占比"},
    "exam_share": {"en": "Examination share", "zh": "检查检验占比"},
    "share": {"en": "Share of cost", "zh": "费用占比"},
    "payment_standard": {"en": "Payment standard (yuan)", "zh": "支付标准（元）"},
    "mean_cost": {"en": "Mean cost (yuan)", "zh": "平均成本（元）"},
    "payment_gap": {"en": "Cost above payment standard", "zh": "成本超出支付标准"},
    "overspend": {"en": "Overspend", "zh": "超支"},
    "surplus": {"en": "Surplus", "zh": "结余"},
    "overspend_rate": {"en": "Overspend rate", "zh": "超支率"},
    "incremental_cost": {"en": "Incremental cost (yuan)", "zh": "增量成本（元）"},
    "incremental_qaly": {"en": "Incremental QALYs", "zh": "增量质量调整生命年"},
    "icer": {"en": "ICER (yuan per QALY)", "zh": "增量成本效果比（元/QALY）"},
    "wtp": {"en": "Willingness to pay (yuan per QALY)", "zh": "意愿支付阈值（元/QALY）"},
    "wtp_line": {"en": "Willingness-to-pay threshold", "zh": "意愿支付阈值"},
    "prob_ce": {"en": "Probability cost-effective", "zh": "具有成本效果的概率"},
    "psa_draws": {"en": "Simulation draws", "zh": "模拟抽样"},
    "point_estimate": {"en": "Point estimate", "zh": "点估计"},
    "strategy": {"en": "Strategy", "zh": "治疗策略"},
    "nmb": {"en": "Net monetary benefit (yuan)", "zh": "净货币效益（元）"},
    "accuracy": {"en": "Accuracy", "zh": "准确性"},
    "completeness": {"en": "Completeness", "zh": "完整性"},
    "consistency": {"en": "Consistency", "zh": "一致性"},
    "timeliness": {"en": "Timeliness", "zh": "及时性"},
    "indicator": {"en": "Indicator", "zh": "指标"},
    "value": {"en": "Value", "zh": "数值"},
    "target": {"en": "Target", "zh": "目标"},
    "status": {"en": "Status", "zh": "状态"},
    "change": {"en": "Change", "zh": "变化"},
    "estimate": {"en": "Estimate", "zh": "估计值"},
    "ci95": {"en": "95% CI", "zh": "95% 置信区间"},
    # --- funnel / SPC / alerts
    "limit95": {"en": "95% limits", "zh": "95% 控制限"},
    "limit998": {"en": "99.8% limits", "zh": "99.8% 控制限"},
    "regional_average": {"en": "Regional average", "zh": "地区平均"},
    "band": {"en": "Accepted band", "zh": "合理区间"},
    "outlier_high": {"en": "Above 99.8% limit", "zh": "高于 99.8% 控制限"},
    "outlier_low": {"en": "Below 99.8% limit", "zh": "低于 99.8% 控制限"},
    "within_limits": {"en": "Within limits", "zh": "控制限内"},
    "centre_line": {"en": "Mean", "zh": "均值"},
    "spc_limits": {"en": "Control limits (3σ)", "zh": "控制限（3σ）"},
    "spc_signal": {"en": "Outside control limits", "zh": "超出控制限"},
    "alert_yellow": {"en": "Yellow alert", "zh": "黄色预警"},
    "alert_red": {"en": "Red alert", "zh": "红色预警"},
    "alert_none": {"en": "No alert", "zh": "无预警"},
    "alert_over": {"en": "Over its limit", "zh": "超出限值"},
    "alert_where": {"en": "Where", "zh": "范围"},
    "alert_limit": {"en": "Alert line", "zh": "预警线"},
    "ind_growth": {"en": "Growth on the previous period", "zh": "环比增长"},
    "ind_yoy_growth": {"en": "Growth on the same quarter a year before", "zh": "同比增长"},
    "ind_historical": {"en": "Per-case cost against its history", "zh": "次均费用与历史均值之比"},
    "ind_drug_share": {"en": "Drug share", "zh": "药占比"},
    "ind_consumable_share": {"en": "Consumables share", "zh": "耗占比"},
    # --- cost components (data dictionary names)
    "drug_cost": {"en": "Drugs", "zh": "药品"},
    "consumable_cost": {"en": "Consumables", "zh": "耗材"},
    "exam_cost": {"en": "Examinations & tests", "zh": "检查检验"},
    "procedure_cost": {"en": "Procedures & treatment", "zh": "手术治疗"},
    "nursing_cost": {"en": "Nursing & bed", "zh": "护理床位"},
    "labour_cost": {"en": "Labour", "zh": "人力"},
    "other_cost": {"en": "Other", "zh": "其他"},
    # --- hospital levels
    "tertiary": {"en": "Tertiary", "zh": "三级"},
    "secondary": {"en": "Secondary", "zh": "二级"},
    "primary": {"en": "Primary", "zh": "一级"},
    # report prose of the notebooks
    "suppressed_cell": {"en": "suppressed", "zh": "已抑制"},
    "no_records": {"en": "no records", "zh": "无记录"},
    "federation": {"en": "All hospitals", "zh": "全部医院"},
    "whole_period": {"en": "Whole period", "zh": "全期"},
    "los": {"en": "Mean length of stay (days)", "zh": "平均住院日（天）"},
    "growth_vs_prev": {"en": "Growth on previous year", "zh": "较上年增长"},
    "interval": {"en": "95% interval", "zh": "95% 区间"},
    "within": {"en": "within", "zh": "达标"},
    "above": {"en": "above target", "zh": "超过目标"},
    "not_applicable": {"en": "–", "zh": "–"},
    "level_prefix": {"en": "Level", "zh": "等级"},
    "region_prefix": {"en": "Region", "zh": "地区"},
    "group": {"en": "Group", "zh": "分组"},
    "yoy": {"en": "Year-on-year growth", "zh": "同比增长"},
    "qoq": {"en": "Growth on previous quarter", "zh": "环比增长"},
    "quadrant_NE": {"en": "more costly, more effective", "zh": "成本更高、效果更好"},
    "quadrant_NW": {"en": "more costly, less effective (dominated)", "zh": "成本更高、效果更差（劣势）"},
    "quadrant_SE": {"en": "less costly, more effective (dominant)", "zh": "成本更低、效果更好（优势）"},
    "quadrant_SW": {"en": "less costly, less effective", "zh": "成本更低、效果更差"},
    "decision_cost-effective": {"en": "cost-effective", "zh": "具有成本效果"},
    "decision_not cost-effective": {"en": "not cost-effective", "zh": "不具有成本效果"},
    "decision_dominant": {"en": "dominant", "zh": "占优"},
    "decision_dominated": {"en": "dominated", "zh": "被占优"},
    "decision_no effect difference": {"en": "no different in effect", "zh": "效果无差异"},
    "flag_within": {"en": "within limits", "zh": "控制限内"},
    "flag_alert_high": {"en": "above 95% limit", "zh": "高于 95% 控制限"},
    "flag_alert_low": {"en": "below 95% limit", "zh": "低于 95% 控制限"},
    "flag_alarm_high": {"en": "above 99.8% limit", "zh": "高于 99.8% 控制限"},
    "flag_alarm_low": {"en": "below 99.8% limit", "zh": "低于 99.8% 控制限"},
    "band_within": {"en": "within band", "zh": "区间内"},
    "band_high": {"en": "above band", "zh": "高于区间"},
    "band_low": {"en": "below band", "zh": "低于区间"},
    "raw_coefficient": {"en": "Unadjusted", "zh": "未调整"},
    "adjusted_coefficient": {"en": "Case-mix adjusted", "zh": "病例组合调整后"},
    "yes": {"en": "yes", "zh": "是"},
    "strategy_combination": {"en": "combination", "zh": "联合治疗"},
    "strategy_standard": {"en": "standard", "zh": "标准治疗"},
    "benchmark": {"en": "benchmark", "zh": "参照"},
    "no": {"en": "no", "zh": "否"},
}

# Short aliases for cost components as analyses may name them.
ALIASES = {
    "drugs": "drug_cost", "drug": "drug_cost",
    "consumables": "consumable_cost", "consumable": "consumable_cost", "devices": "consumable_cost",
    "exams": "exam_cost", "exam": "exam_cost", "examinations": "exam_cost", "tests": "exam_cost",
    "procedures": "procedure_cost", "procedure": "procedure_cost", "treatment": "procedure_cost",
    "nursing": "nursing_cost", "bed": "nursing_cost",
    "labour": "labour_cost", "labor": "labour_cost", "labor_cost": "labour_cost",
    "other": "other_cost",
    "oe": "oe_ratio", "n": "cases",
}


def normalise_lang(lang: str | None) -> str:
    """'zh-CN', 'zh_Hans', 'ZH' -> 'zh'; None -> 'en'. Unknown languages fall back to English."""
    if not lang:
        return DEFAULT_LANG
    base = str(lang).replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANG


def has(key: str) -> bool:
    return key in LABELS or key in ALIASES


def t(key: str, lang: str | None = "en", **fmt) -> str:
    """The label for `key` in `lang`; an unknown key comes back unchanged (so data values pass through)."""
    lang = normalise_lang(lang)
    entry = LABELS.get(key) or LABELS.get(ALIASES.get(key, ""))
    if entry is None:
        text = key
    else:
        text = entry.get(lang) or entry[DEFAULT_LANG]
    return text.format(**fmt) if fmt else text


class Labels:
    """Attribute access to labels in one language: `Labels('zh').per_case_cost`."""

    def __init__(self, lang: str | None = "en"):
        self.lang = normalise_lang(lang)

    def __getattr__(self, key: str) -> str:
        if key.startswith("_"):
            raise AttributeError(key)
        return t(key, self.lang)

    def __call__(self, key: str, **fmt) -> str:
        return t(key, self.lang, **fmt)


def translate_columns(df: "pd.DataFrame", lang: str | None, extra: Mapping[str, str] | None = None) -> "pd.DataFrame":
    """A copy of `df` with known column names replaced by their label (extra: your own name -> label)."""
    extra = dict(extra or {})
    return df.rename(columns=lambda c: extra.get(c, t(str(c), lang) if has(str(c)) else c))


# ---------------------------------------------------------------- number formats
def fmt_number(x, digits: int = 0, lang: str | None = "en") -> str:
    """Thousands separators; '–' for missing (None, NaN, pandas' NA and NaT)."""
    if _missing(x):
        return "–"
    return f"{x:,.{digits}f}"


def _missing(x) -> bool:
    if x is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(x))
    except (TypeError, ValueError):  # a list or array is not one missing value
        return False


def fmt_yuan(x, digits: int = 0, lang: str | None = "en") -> str:
    """12,345 yuan / 12,345 元."""
    if _missing(x):
        return "–"
    return f"{x:,.{digits}f} 元" if normalise_lang(lang) == "zh" else f"{x:,.{digits}f} yuan"


def fmt_pct(x, digits: int = 1, lang: str | None = "en", signed: bool = False) -> str:
    """0.0834 -> '8.3%' ('+8.3%' when signed)."""
    if _missing(x):
        return "–"
    return f"{x * 100:{'+' if signed else ''}.{digits}f}%"
