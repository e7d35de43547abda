"""Headline findings of the regional report, in English or Chinese, each with an action."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from fedcost.reporting.format import (
    alert_label, alert_level, is_all, is_missing, localise_hospitals, num, pct, strategy_name, tr, value_label, where,
    yuan, yuan_range,
)
from fedcost.reporting.i18n import normalise_lang
from fedcost.reporting.view import StudyView


@dataclass
class Finding:
    key: str
    title: str
    text: str
    action: str
    level: str = "info"    # red / yellow / none / info

    def markdown(self, lang: str) -> str:
        act = "建议措施：" if lang == "zh" else "Action:"
        sep = "" if lang == "zh" else " "
        return f"**{self.title}**{'：' if lang == 'zh' else '. '}{self.text}{sep}**{act}**{sep}{self.action}"


def finding_growth(s: StudyView, region, period, lang, yellow, red) -> Finding | None:
    ann = s.annual(region)
    if not len(ann):
        return None
    year = s.pick_year(ann, period)
    row = ann[ann["period"] == year].iloc[0]
    w = where(region, lang)
    if bool(row["suppressed"]):
        n_rec, n_h = s.min_cell()
        if lang == "zh":
            return Finding("growth", f"{year} 年次均费用：已抑制",
                           f"{w}在 {year} 年的数据少于 {n_rec} 条记录或少于 {n_h} 家医院，按披露规则不予发布。",
                           "扩大分析范围（合并地区或年份）后再评估增长。", "info")
        return Finding("growth", f"Per-case cost in {year}: suppressed",
                       f"Figures for {w} in {year} come from fewer than {n_rec} records or {n_h} hospitals and are "
                       f"withheld by the disclosure rules.",
                       "widen the scope (merge regions or years) to assess growth.", "info")
    g = row["growth"]
    level = alert_level(g, yellow, red)
    cost = yuan(row["cost_mean"], 0, lang)
    ci = yuan_range(row['ci_lower'], row['ci_upper'], 0, lang)
    prev = str(int(year) - 1)
    _, _, alerts = s.warning_series(region)
    q_red = q_yel = 0
    if len(alerts):
        a = alerts[alerts["period"].astype(str).str.startswith(year) & alerts["indicator"].isin(["growth", "yoy_growth"])]
        q_red = int(a.loc[a["level"] == "red", "period"].nunique())
        q_yel = int(a.loc[a["level"] == "yellow", "period"].nunique())
    g_red, g_yel, _ = _group_alert_counts(s, year, region, ("growth", "yoy_growth"))
    if lang == "zh":
        dir_ = "增长" if not is_missing(g) and g >= 0 else "下降"
        gtxt = f"较 {prev} 年{dir_} {pct(abs(g), 1, lang)}" if not is_missing(g) else "无上年可比数据"
        flag = alert_label(level, lang) + (f"；分组预警 {g_red + g_yel} 项" if level == "none" and (g_red or g_yel) else "")
        title = f"{year} 年次均费用 {cost}，{gtxt}（{flag}）"
        text = (f"{w}的次均费用为 {cost}（95% 置信区间 {ci}），{gtxt}；"
                f"黄色预警线为 {pct(yellow, 0, lang)}，红色预警线为 {pct(red, 0, lang)}。")
        if q_red or q_yel:
            text += f"该年有 {q_red} 个季度触发红色预警、{q_yel} 个季度触发黄色预警（见趋势图）。"
        if g_red or g_yel:
            text += f"按医院等级、地区和 DRG 组分列，该年共有 {g_red} 项红色和 {g_yel} 项黄色增长预警（见首页预警表）。"
        action = {"red": "立即对增长最快的 DRG 组和医院开展费用核查，重点核查药品和耗材费用。",
                  "yellow": "按月监测，并要求相关医院说明药品与耗材费用上升的原因。",
                  "none": ("总体增长低于预警线，但应核查预警表中触发预警的季度和分组。" if (q_red or q_yel or g_red or g_yel)
                           else "保持季度监测，增长仍在政策目标内。")}[level]
    else:
        dir_ = "up" if not is_missing(g) and g >= 0 else "down"
        gtxt = f"{dir_} {pct(abs(g), 1, lang)} on {prev}" if not is_missing(g) else "no previous year to compare"
        flag = alert_label(level, lang).lower() + (f" for all hospitals; {g_red + g_yel} group alerts"
                                                   if level == "none" and (g_red or g_yel) else "")
        title = f"Per-case cost {cost} in {year}, {gtxt} ({flag})"
        text = (f"In {w} the mean cost per admission was {cost} (95% CI {ci}), {gtxt}; the alert lines are "
                f"{pct(yellow, 0, lang)} (yellow) and {pct(red, 0, lang)} (red).")
        if q_red or q_yel:
            text += (f" Within the year, {q_red} quarter{'s' if q_red != 1 else ''} raised a red and {q_yel} a yellow "
                     f"growth alert (see the trend charts).")
        if g_red or g_yel:
            text += (f" By hospital level, region and DRG group, {g_red} red and {g_yel} yellow growth alert"
                     f"{'s' if g_red + g_yel != 1 else ''} were raised in {year} (the alert table below).")
        action = {"red": "start a cost review of the DRG groups and hospitals that grew fastest, beginning with drugs "
                         "and consumables.",
                  "yellow": "monitor monthly and ask hospitals to explain rises in drug and consumable costs.",
                  "none": ("overall growth is below the alert lines, but review the quarters and groups in the alert "
                           "table." if (q_red or q_yel or g_red or g_yel)
                           else "keep quarterly monitoring; growth is within the policy target.")
                  }[level]
    return Finding("growth", title, text, action, level)


# What ranks first: a red growth alert, then a value over its cap or 120 % of its history, then a yellow one.
SEVERITY = {"red": 0, "alert": 1, "yellow": 2}
ALERT_KINDS = ("growth", "yoy_growth", "historical", "drug_share", "consumable_share")


def year_alerts(s: StudyView, year, region="all") -> pd.DataFrame:
    """Every red, yellow and over-limit alert of ``year`` at every level the warning analyses release
    (all hospitals, hospital level, region, DRG), most severe first and, within a severity, furthest
    over its line first. The one list the headlines and the alert table read, so they cannot disagree."""
    a = s.table("alerts")
    if not len(a) or year is None:
        return pd.DataFrame(columns=["analysis", "group_column", "group", "period", "indicator", "value",
                                     "threshold", "level", "severity"])
    a = a[a["indicator"].isin(ALERT_KINDS) & a["level"].isin(list(SEVERITY))
          & a["period"].astype(str).str.startswith(str(year))]
    if not is_all(region):
        a = a[(a["analysis"] == "warning_by_region") & (a["group"].astype(str) == str(region))]
    a = a.assign(severity=a["level"].map(SEVERITY),
                 excess=(a["value"] - a["threshold"]).abs() / a["threshold"].abs().where(a["threshold"] != 0, 1))
    return a.sort_values(["severity", "excess"], ascending=[True, False], kind="stable").reset_index(drop=True)


def alert_table(s: StudyView, year, region="all", lang="en") -> pd.DataFrame:
    """``year_alerts`` as a reader's table: severity, where, period, indicator, value and its line."""
    a = year_alerts(s, year, region)
    share = a["indicator"].isin(["growth", "yoy_growth", "drug_share", "consumable_share"])
    return pd.DataFrame({
        tr("status", lang): [tr("alert_over", lang) if lv == "alert" else alert_label(lv, lang) for lv in a["level"]],
        tr("alert_where", lang): [_where_alert(r, lang, s) for r in a.itertuples()],
        tr("period", lang): a["period"].astype(str).tolist(),
        tr("indicator", lang): [tr(f"ind_{k}", lang) for k in a["indicator"]],
        tr("value", lang): [pct(v, 1, lang) if sh else pct(v, 0, lang) for v, sh in zip(a["value"], share)],
        tr("alert_limit", lang): [pct(v, 0, lang) for v in a["threshold"]],
    })


def _where_alert(r, lang, s: StudyView | None = None) -> str:
    """'DRG group: FC11 Coronary artery bypass graft', 'Hospital level: Tertiary', 'All hospitals'."""
    if r.analysis == "warning_overall" or is_all(r.group):
        return tr("federation", lang)
    column = tr(str(r.group_column), lang)
    name = s.code_name(str(r.group_column), r.group, lang) if s is not None and r.group_column == "drg_code" else None
    value = f"{r.group} {name}" if name else value_label(r.group, lang)
    return f"{column}{'：' if lang == 'zh' else ': '}{value}"


def _group_alerts(s: StudyView, year, region, kinds) -> pd.DataFrame:
    """``year_alerts`` of ``kinds`` below the all-hospitals row (hospital level, region, DRG group)."""
    a = year_alerts(s, year, region)
    return a[a["indicator"].isin(kinds) & (a["analysis"] != "warning_overall")]


def _group_alert_counts(s: StudyView, year, region, kinds) -> tuple[int, int, int]:
    """(red, yellow, over-limit) alerts of ``kinds`` in ``year`` below the all-hospitals row."""
    a = _group_alerts(s, year, region, kinds)
    return tuple(int((a["level"] == lv).sum()) for lv in ("red", "yellow", "alert"))


def finding_hospitals(s: StudyView, lang) -> Finding | None:
    f = localise_hospitals(s.table("funnel"), lang)
    if not len(f):
        return None
    hc = s.table("hospital_costs")
    lo_b, hi_b = s.band()
    n = len(f)
    alarm = f[f["funnel_flag"].astype(str).str.startswith("alarm")]
    alert = f[f["funnel_flag"].astype(str).str.startswith("alert")]
    raw_out = int((hc["cost_coefficient_flag"] != "within").sum()) if len(hc) else 0
    adj_out = int((hc["adjusted_coefficient_flag"] != "within").sum()) if len(hc) else 0
    oe_range = f"{num(f['oe'].min(), 2)}–{num(f['oe'].max(), 2)}"
    flagged = pd.concat([alarm, alert])
    if lang == "zh":
        if len(flagged):
            names = "、".join(f"{r.hospital}（实际/预期 {num(r.oe, 2)}，95% 置信区间 {num(r.oe_lower95, 2)}–{num(r.oe_upper95, 2)}）"
                             for r in flagged.itertuples())
            title = f"{len(flagged)} 家医院超出漏斗图控制限"
            text = f"经病例组合调整后，{names}超出控制限（{n} 家医院的实际/预期费用比为 {oe_range}）。"
            action = "对上述医院开展成本核查，先核实其病例组合与编码，再比较药品和耗材使用。"
        else:
            title = f"{n} 家医院均在漏斗图控制限内"
            text = (f"经病例组合调整后，各医院实际/预期费用比在 {oe_range} 之间，均未超出控制限；"
                    f"未调整时有 {raw_out} 家医院的费用差异系数超出 {num(lo_b, 1)}–{num(hi_b, 1)}，"
                    f"调整后为 {adj_out} 家，差异主要来自病例组合。")
            action = "不应依据未调整的次均费用评价医院；继续按季度更新漏斗图。"
        return Finding("hospitals", title, text, action, "yellow" if len(flagged) else "none")
    if len(flagged):
        names = "; ".join(f"{r.hospital} (O/E {num(r.oe, 2)}, 95% CI {num(r.oe_lower95, 2)}–{num(r.oe_upper95, 2)})"
                          for r in flagged.itertuples())
        title = f"{len(flagged)} of {n} hospitals outside the funnel limits"
        text = f"After case-mix adjustment {names} lie outside the control limits (O/E ratios range {oe_range})."
        action = "review costs at these hospitals: first check case mix and coding, then drug and consumable use."
    else:
        title = f"All {n} hospitals within the funnel limits"
        text = (f"After case-mix adjustment the observed/expected cost ratios range {oe_range}, all inside the control "
                f"limits. Unadjusted, {raw_out} hospital{'s' if raw_out != 1 else ''} fall outside the "
                f"{num(lo_b, 1)}–{num(hi_b, 1)} cost-difference band; adjusted, {adj_out}: case mix explains the spread.")
        action = "do not judge hospitals on unadjusted per-case cost; refresh the funnel plot each quarter."
    return Finding("hospitals", title, text, action, "yellow" if len(flagged) else "none")


def payment_groups(s: StudyView) -> pd.DataFrame:
    p = s.table("payment_gap")
    if not len(p):
        return p
    gcol = _group_col(p)
    p = p[(p[gcol].astype(str) != "All")].copy()
    p["cost_over_standard"] = p["mean_cost"] / p["payment_standard"] - 1
    return p


def _group_col(p: pd.DataFrame) -> str:
    for c in ("drg_code", "dip_code", "group"):
        if c in p.columns:
            return c
    return p.columns[1]


# A gap in four of five groups or more lies in the standards themselves, not in a few groups' practice.
SYSTEMATIC_SHARE = 0.8


def finding_payment(s: StudyView, lang) -> Finding | None:
    """The balance of payments against costs over the released groups, and whether the gap is systematic.

    The share of cases above their standard is stated as what it is; it is not set against an
    overspend-rate benchmark of another measure.
    """
    p = s.table("payment_gap")
    if not len(p):
        return None
    tot = p[p[_group_col(p)].astype(str) == "All"]
    tot = tot.iloc[0] if len(tot) else None
    g = payment_groups(s)
    g = g[~g["suppressed"].astype(bool)].dropna(subset=["cost_over_standard"])
    rate = s.kpi("overspend_rate") if tot is None else tot["overspend_rate"]
    if is_missing(rate) or not len(g):
        return None
    n = g["n"].astype(float)
    paid, cost = float((g["payment_standard"] * n).sum()), float((g["mean_cost"] * n).sum())
    deficit = cost - paid  # > 0: the groups cost more than the standards pay
    above = g[g["cost_over_standard"] > 0]
    systematic = deficit > 0 and len(above) >= SYSTEMATIC_SHARE * len(g)
    worst = (g.assign(balance=(g["mean_cost"] - g["payment_standard"]) * n)
             .sort_values("balance", ascending=False).iloc[0])
    gc = _group_col(p)
    lo, hi = above["cost_over_standard"].min(), above["cost_over_standard"].max()
    level = "red" if systematic else ("yellow" if deficit > 0 or rate > 0.2 else "none")
    if lang == "zh":
        title = (f"DRG 组成本{'超出' if deficit > 0 else '低于'}支付标准 {yuan(abs(deficit), 0, lang)}"
                 f"（支付额的 {pct(abs(deficit) / paid, 1, lang)}）：{len(above)}/{len(g)} 个组平均成本高于标准")
        text = (f"在已发布的 {len(g)} 个 DRG 组中，{len(above)} 个组的平均成本高于支付标准"
                + (f"（高出 {pct(lo, 1, lang)} 至 {pct(hi, 1, lang)}）" if len(above) else "")
                + ("，属系统性缺口：支付标准普遍低于成本。" if systematic else "。")
                + f"{pct(rate, 1, lang)} 的病例成本超过其支付标准。"
                + (f"缺口最大的是 {worst[gc]} 组：平均成本 {yuan(worst['mean_cost'], 0, lang)}，"
                   f"支付标准 {yuan(worst['payment_standard'], 0, lang)}（{pct(worst['cost_over_standard'], 1, lang, True)}）。"
                   if worst["balance"] > 0 else ""))
        action = ("与医保部门复核支付标准的测算：几乎所有组的成本都高于标准；再核查缺口最大的组的成本构成。" if systematic
                  else "核查成本高于标准的组的成本构成，从缺口最大的组开始。")
    else:
        title = (f"DRG costs {'exceed' if deficit > 0 else 'fall below'} payments by {yuan(abs(deficit), 0, lang)} "
                 f"({pct(abs(deficit) / paid, 1, lang)} of payments): {len(above)} of {len(g)} groups cost more than "
                 f"their standard")
        text = (f"Of the {len(g)} released DRG groups, {len(above)} have a mean cost above their payment standard"
                + (f" (by {pct(lo, 1, lang)} to {pct(hi, 1, lang)})" if len(above) else "")
                + (", a systematic gap: the standards sit below cost across the groups." if systematic else ".")
                + f" {pct(rate, 1, lang)} of cases cost more than their standard."
                + (f" The largest deficit is in {worst[gc]}: mean cost {yuan(worst['mean_cost'], 0, lang)} against a "
                   f"standard of {yuan(worst['payment_standard'], 0, lang)} "
                   f"({pct(worst['cost_over_standard'], 1, lang, True)})." if worst["balance"] > 0 else ""))
        action = ("recheck the standards' calibration with the insurance bureau, as nearly every group costs more "
                  "than its standard; then review the cost drivers of the groups with the largest deficit."
                  if systematic else
                  "review the cost drivers of the groups above their standard, the largest deficit first.")
    return Finding("payment", title, text, action, level)


def finding_structure(s: StudyView, region, period, lang) -> Finding | None:
    ann = s.annual(region)
    year = s.pick_year(ann, period) if len(ann) else None
    row = None
    if year is not None:
        r = ann[ann["period"] == year].iloc[0]
        if not bool(r["suppressed"]):
            row = r
    if row is None:
        return None
    drug_cap, cons_cap = s.share_caps()
    d, c = float(row["share_drugs"]), float(row["share_consumables"])
    over = [k for k, v, cap in (("drug", d, drug_cap), ("cons", c, cons_cap)) if v > cap]
    groups = _group_alerts(s, year, region, ("drug_share", "consumable_share"))
    named = [_where_alert(r, lang, s) + f" {pct(r.value, 1, lang)}" for r in groups.head(3).itertuples()]
    level = "yellow" if over or len(groups) else "none"
    if lang == "zh":
        title = f"{year} 年药占比 {pct(d, 1, lang)}，耗占比 {pct(c, 1, lang)}"
        text = (f"政策上限分别为 {pct(drug_cap, 0, lang)} 和 {pct(cons_cap, 0, lang)}；"
                + ("全部医院合计两项均在上限内" if not over else
                   "全部医院合计" + "、".join({"drug": "药占比", "cons": "耗占比"}[k] for k in over) + "超过上限")
                + (f"；按医院等级、地区和 DRG 组分列有 {len(groups)} 项超过上限（如{'、'.join(named)}，见首页预警表）。"
                   if len(groups) else "；各医院等级、地区和 DRG 组均未超过上限。"))
        action = ("对超过上限的分组和费用类别开展处方与耗材使用点评。" if level == "yellow"
                  else "两项指标接近上限时应关注：按 DRG 组跟踪耗占比，重点关注高值耗材。")
    else:
        title = f"Drug share {pct(d, 1, lang)} and consumables share {pct(c, 1, lang)} in {year}"
        text = (f"The policy caps are {pct(drug_cap, 0, lang)} and {pct(cons_cap, 0, lang)}; "
                + ("for all hospitals together both are within them" if not over else
                   "for all hospitals together " + " and ".join({"drug": "the drug share", "cons": "the consumables share"}[k] for k in over)
                   + (" exceed their caps" if len(over) > 1 else " exceeds its cap"))
                + (f"; {len(groups)} value{'s' if len(groups) != 1 else ''} by hospital level, region or DRG group "
                   f"{'are' if len(groups) != 1 else 'is'} over a cap ({'; '.join(named)}; the alert table below)."
                   if len(groups) else "; no hospital level, region or DRG group is over a cap."))
        action = ("audit prescribing and consumable use in the groups and components above their cap."
                  if level == "yellow"
                  else "track the consumables share by DRG group, high-value consumables first, as it is closest "
                       "to its cap.")
    return Finding("structure", title, text, action, level)


def cea_at(s: StudyView, wtp_override=None) -> dict | None:
    """The incremental result at the run's willingness to pay, or at ``wtp_override`` (the CEA kind's
    rule, through ``StudyResult.cea_at``); the ICER's PSA interval as the kind released it."""
    return s.cea_at(wtp_override)


def finding_cea(s: StudyView, lang, wtp=None) -> Finding | None:
    r = cea_at(s, wtp)
    if r is None:
        return None
    w = r["wtp"]
    i, c = strategy_name(r["intervention"], lang), strategy_name(r["comparator"], lang)
    dec = tr(f"decision_{r['decision']}", lang)
    icer = r.get("icer")
    icer_ci = (yuan_range(r["icer_lower95"], r["icer_upper95"], 0, lang)
               if not is_missing(r.get("icer_lower95")) else None)
    inmb_ci = yuan_range(r["inmb_lower95"], r["inmb_upper95"], 0, lang)
    good = r["decision"] in ("cost-effective", "dominant")
    if lang == "zh":
        title = f"{i}方案相对{c}方案{dec}"
        dc, de = r["delta_cost"], r["delta_effect"]
        text = (f"每例{'增加' if dc >= 0 else '节省'}成本 {yuan(abs(dc), 0, lang)}，"
                f"{'增加' if de >= 0 else '减少'} {num(abs(de), 3)} 个质量调整生命年；"
                + (f"增量成本效果比为每 QALY {yuan(icer, 0, lang)}" + (f"（95% 区间 {icer_ci}）" if icer_ci else "")
                   + f"，意愿支付阈值为每 QALY {yuan(w, 0, lang)}。" if not is_missing(icer) else "")
                + f"在该阈值下增量净货币效益为 {yuan(r['inmb'], 0, lang)}（95% 置信区间 {inmb_ci}），"
                f"具有成本效果的概率为 {pct(r['prob_cost_effective_psa'], 0, lang)}。")
        action = ("可考虑将该联合方案纳入临床路径和医保支付，并持续跟踪真实世界结局。" if good
                  else "暂不扩大使用该方案；可通过价格谈判降低成本后重新评估。")
    else:
        versus = "from" if r["decision"] == "no effect difference" else "against"
        title = f"{i.capitalize()} therapy is {dec} {versus} {c} therapy"
        dc, de = r["delta_cost"], r["delta_effect"]
        qalys = "QALY" if round(abs(de), 3) == 1 else "QALYs"
        text = (f"It {'costs' if dc >= 0 else 'saves'} {yuan(abs(dc), 0, lang)} {'more ' if dc >= 0 else ''}per patient"
                f" and {'gains' if de >= 0 else 'loses'} {num(abs(de), 3)} {qalys}"
                + (f": an ICER of {yuan(icer, 0, lang)} per QALY" + (f" (95% interval {icer_ci})" if icer_ci else "")
                   + f" against a willingness to pay of {yuan(w, 0, lang)} per QALY" if not is_missing(icer) else "")
                + f". At that threshold the incremental net monetary benefit is {yuan(r['inmb'], 0, lang)} "
                  f"(95% CI {inmb_ci}) and the "
                  f"probability of being cost-effective {pct(r['prob_cost_effective_psa'], 0, lang)}.")
        action = ("consider the combination for clinical pathways and reimbursement, and follow real-world outcomes."
                  if good else "do not extend its use; renegotiate the price and re-assess.")
    return Finding("cea", title, text, action, "none" if good else "yellow")


def headline_findings(s: StudyView, region="all", period=None, lang="en", *, growth_yellow=None, growth_red=None,
                      wtp=None) -> list[Finding]:
    lang = normalise_lang(lang)
    y, r = s.growth_thresholds(growth_yellow, growth_red)
    out = [finding_growth(s, region, period, lang, y, r), finding_hospitals(s, lang), finding_payment(s, lang),
           finding_structure(s, region, period, lang), finding_cea(s, lang, wtp)]
    # the most severe first (the first is the page's callout), in this order within a level
    return sorted((f for f in out if f is not None), key=lambda f: {"red": 0, "yellow": 1}.get(f.level, 2))


def findings_markdown(findings: list[Finding], lang: str) -> str:
    """The first finding as a callout (the most important), the rest as a list."""
    if not findings:
        return "*" + ("结果中没有可报告的发现。" if lang == "zh" else "The results hold no reportable findings.") + "*\n"
    first, rest = findings[0], findings[1:]
    kind = {"red": "important", "yellow": "warning"}.get(first.level, "note")
    act = "建议措施：" if lang == "zh" else "Action:"
    title = first.title.replace('"', "'")
    sep = "" if lang == "zh" else " "
    md = [f'::: {{.callout-{kind} title="{title}"}}', f"{first.text}{sep}**{act}**{sep}{first.action}",
          ":::", ""]
    md += [f"{k}. {f.markdown(lang)}" for k, f in enumerate(rest, 2)]
    return "\n".join(md) + "\n"


