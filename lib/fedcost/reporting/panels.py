"""The shared tables of the report notebooks: indicators, cost structure, privacy, versions, status, quality."""
from __future__ import annotations

import pandas as pd

from fedcost.reporting.format import alert_label, alert_level, is_all, is_missing, num, pct, tr, value_label, yuan
from fedcost.reporting.i18n import normalise_lang, t
from fedcost.reporting.view import StudyView


def kpi_table(s: StudyView, region="all", period=None, lang="en", *, growth_yellow=None, growth_red=None) -> pd.DataFrame:
    """Indicator | <year> | whole period | target | status (suppressed cells say so)."""
    lang = normalise_lang(lang)
    y, r = s.growth_thresholds(growth_yellow, growth_red)
    drug_cap, cons_cap = s.share_caps()
    ann = s.annual(region)
    year = s.pick_year(ann, period) if len(ann) else None
    row_y = ann[ann["period"] == year].iloc[0] if year else None
    row_all = s.region_row(region)
    sup = tr("suppressed_cell", lang)

    def val(row, col, f):
        if row is None:
            return "–"
        if bool(row.get("suppressed", False)):
            return sup
        v = row.get(col)
        return "–" if is_missing(v) else f(v)

    def ci(row):
        """The per-case cost's 95% interval as the descriptive kind released it (renamed ci_* by annual())."""
        if row is None or bool(row.get("suppressed", False)):
            return ""
        lo, hi = row.get("ci_lower", row.get("cost_mean_lower95")), row.get("ci_upper", row.get("cost_mean_upper95"))
        return "" if is_missing(lo) or is_missing(hi) else f" ({num(lo)}–{num(hi)})"

    def status(v, cap, yellow=None):
        if is_missing(v):
            return "–"
        if yellow is not None:
            return alert_label(alert_level(v, yellow, cap), lang)
        return tr("above", lang) if v > cap else tr("within", lang)

    g = row_y["growth"] if row_y is not None and not bool(row_y["suppressed"]) else None
    rows = [
        (t("cases", lang), val(row_y, "n", lambda v: num(v)), val(row_all, "n", lambda v: num(v)), "–", "–"),
        (t("per_case_cost_yuan", lang) + " (95% CI)" if lang == "en" else t("per_case_cost_yuan", lang) + "（95% 置信区间）",
         val(row_y, "cost_mean", lambda v: num(v)) + ci(row_y), val(row_all, "cost_mean", lambda v: num(v)) + ci(row_all),
         "–", "–"),
        (tr("growth_vs_prev", lang), "–" if row_y is None else sup if bool(row_y["suppressed"]) else pct(g, 1, lang, True),
         "–", f"≤ {pct(y, 0, lang)}", status(g, r, y) if g is not None else "–"),
        (t("drug_share", lang), val(row_y, "share_drugs", lambda v: pct(v, 1, lang)),
         val(row_all, "share_drugs", lambda v: pct(v, 1, lang)), f"≤ {pct(drug_cap, 0, lang)}",
         status(None if row_y is None or bool(row_y["suppressed"]) else row_y["share_drugs"], drug_cap)),
        (t("consumable_share", lang), val(row_y, "share_consumables", lambda v: pct(v, 1, lang)),
         val(row_all, "share_consumables", lambda v: pct(v, 1, lang)), f"≤ {pct(cons_cap, 0, lang)}",
         status(None if row_y is None or bool(row_y["suppressed"]) else row_y["share_consumables"], cons_cap)),
        (tr("los", lang), val(row_y, "los_mean", lambda v: num(v, 1)), val(row_all, "los_mean", lambda v: num(v, 1)),
         "–", "–"),
    ]
    rate = s.kpi("overspend_rate")
    if rate is not None:
        rows.append((t("overspend_rate", lang) + (" ¹" if not is_all(region) else ""), "–", pct(rate, 1, lang),
                     f"≤ 7% ({tr('benchmark', lang)})" if lang == "en" else f"≤ 7%（{tr('benchmark', lang)}）",
                     tr("above", lang) if rate > 0.07 else tr("within", lang)))
    span = f"{ann['period'].iloc[0]}–{ann['period'].iloc[-1]}" if len(ann) else tr("whole_period", lang)
    cols = [t("indicator", lang), str(year) if year else "–", span, t("target", lang),
            t("status", lang)]
    return pd.DataFrame(rows, columns=cols)


def structure_frame(s: StudyView, region="all", lang="en") -> tuple[pd.DataFrame, list[str]]:
    """Long table (group, component, value) of cost shares by hospital level and region, plus the
    names of groups withheld (suppressed) or empty."""
    comps = {"share_drugs": "drug_cost", "share_consumables": "consumable_cost", "share_exams": "exam_cost",
             "share_procedures": "procedure_cost", "share_nursing_bed": "nursing_cost", "share_labour": "labour_cost",
             "share_other": "other_cost"}
    rows, withheld = [], []
    parts = [("descriptive_overall", None, tr("federation", lang))]
    parts += [("descriptive_by_level", "hospital_level", tr("level_prefix", lang)),
              ("descriptive_by_region", "region", tr("region_prefix", lang))]
    for tname, col, prefix in parts:
        d = s.table(tname)
        for _, r in d.iterrows():
            if col is None:
                label = prefix
            else:
                if str(r[col]) == "All":
                    continue
                if not is_all(region) and col == "region" and str(r[col]) != str(region):
                    continue
                label = (f"{prefix}: {value_label(r[col], lang)}" if lang == "en"
                         else f"{prefix}：{value_label(r[col], lang)}")
            if bool(r.get("suppressed", False)):
                withheld.append(_paren(label, tr("suppressed_cell", lang), lang))
                continue
            if is_missing(r.get("n")) or float(r["n"]) == 0:
                withheld.append(_paren(label, tr("no_records", lang), lang))
                continue
            for c, key in comps.items():
                if c in r and not is_missing(r[c]):
                    rows.append({"group": label, "component": key, "value": float(r[c])})
    return pd.DataFrame(rows, columns=["group", "component", "value"]), withheld


def _paren(text: str, note: str, lang: str) -> str:
    return f"{text}（{note}）" if normalise_lang(lang) == "zh" else f"{text} ({note})"


def suppressed_note(items: list[str], lang: str) -> str:
    if not items:
        return ""
    if lang == "zh":
        return "未显示：" + "；".join(items) + "（少于 5 条记录或少于 3 家医院的单元格按披露规则隐去）。"
    return ("Not shown: " + "; ".join(items) + " (cells with fewer than 5 records or 3 hospitals are withheld by "
            "the disclosure rules).")


def privacy_table(s: StudyView, lang="en") -> pd.DataFrame:
    run = s.run
    p = run.get("privacy") or {}
    hosp = run.get("hospitals") or run.get("hospital_labels") or []
    b = p.get("bytes_from_each_hospital") or {}
    zh = lang == "zh"
    yes, no = tr("yes", lang), tr("no", lang)
    rows = [
        ("参与医院数" if zh else "Hospitals taking part", str(len(hosp))),
        ("联邦通信轮次" if zh else "Federated rounds", num(run.get("total_rounds"))),
        ("各医院发送字节数" if zh else "Bytes sent by each hospital",
         f"{num(min(b.values()))}–{num(max(b.values()))}" if b else "–"),
        ("协调方仅持有公钥上下文（无私钥）" if zh else "Coordinator held the public context only (no secret key)",
         yes if p.get("server_public_context_only") else no if p else "–"),
        ("向协调方发送明文统计量" if zh else "Plaintext statistics sent to the coordinator",
         (yes if p.get("plaintext_statistics_sent_to_server") else no) if p else "–"),
        ("经检查的密文数" if zh else "Ciphertexts checked", num(p.get("ciphertexts_checked"))),
        ("拒绝参与的医院" if zh else "Hospitals that refused",
         ", ".join(run.get("refusals") or {}) or ("无" if zh else "none")),
        ("密钥指纹" if zh else "Key fingerprint", str(p.get("key_fingerprint", "–"))),
        ("引擎" if zh else "Engine", str(run.get("engine", "–"))),
        ("运行时间（秒）" if zh else "Run time (seconds)", num(run.get("seconds"), 1)),
    ]
    return pd.DataFrame(rows, columns=["项目" if zh else "Evidence", t("value", lang)])


def versions_table(s: StudyView, lang="en") -> pd.DataFrame:
    """Code version (git SHA from results.json if recorded, else this checkout), dictionary version
    and fingerprints of the run."""
    from fedcost.reporting.tables import code_version
    run = s.run
    zh = lang == "zh"
    sha = run.get("git_sha") or run.get("git_commit") or run.get("code_commit")
    code = f"{run.get('fedcost_version', '?')} ({sha})" if sha else None
    rows = [
        ("运行所用 fedcost 版本" if zh else "fedcost version of the run",
         code or str(run.get("fedcost_version", "–"))),
        ("生成报告的代码版本（git）" if zh else "Code version of this report (git)", code_version()),
        (t("dictionary_version", lang), str(run.get("dictionary_version", "–"))),
        ("数据字典指纹" if zh else "Data dictionary fingerprint", _short(run.get("dictionary_fingerprint"))),
        ("政策文件版本" if zh else "Policy file version", str((run.get("policy") or {}).get("version", "–"))),
        ("研究方案" if zh else "Study plan",
         f"{(s.plan.get('plan') or {}).get('name', '–')} "
         f"v{(s.plan.get('plan') or {}).get('version', '?')}"),
        ("结果生成时间" if zh else "Results created", str(run.get("created", "–"))),
    ]
    fps = run.get("data_fingerprints") or {}
    for h, fp in fps.items():
        rows.append((f"{'数据指纹' if zh else 'Data fingerprint'} {h}", _short(fp)))
    if not fps:
        rows.append(("各医院数据指纹" if zh else "Hospital data fingerprints",
                     "本次运行未记录" if zh else "not recorded by this run"))
    return pd.DataFrame(rows, columns=["项目" if zh else "Item", t("value", lang)])


def _short(fp) -> str:
    return "–" if not fp else (str(fp)[:16] + "…" if len(str(fp)) > 20 else str(fp))


def status_table(s: StudyView, lang="en") -> pd.DataFrame:
    """Each analysis of the plan: status, rounds, and how many cells of its tables were suppressed."""
    st = s.table("status")
    if not len(st):
        return st
    zh = lang == "zh"
    names = {"released": "已发布" if zh else "released", "withheld": "已扣留" if zh else "withheld",
             "failed": "失败" if zh else "failed"}

    def suppressed(name):
        k, seen = 0, False
        for tname, df in s.tables.items():
            if "suppressed" not in df.columns or not len(df):
                continue
            if tname == name:
                rows = df
            elif "analysis" in df.columns:
                rows = df[df["analysis"] == name]
            else:
                continue
            if len(rows):
                seen = True
                k += int(rows["suppressed"].astype(bool).sum())
        return k if seen else None

    return pd.DataFrame({
        ("分析" if zh else "Analysis"): st["analysis"],
        ("类型" if zh else "Kind"): st["kind"],
        t("status", lang): st["status"].map(lambda v: names.get(str(v), str(v))),
        ("轮次" if zh else "Rounds"): st["rounds"],
        ("已抑制单元格" if zh else "Suppressed cells"): pd.array([suppressed(n) for n in st["analysis"]], dtype="Int64"),
        ("说明" if zh else "Note"): st["reason"].fillna(""),
    })


def suppression_summary(s: StudyView, lang="en") -> pd.DataFrame:
    rows = []
    zh = lang == "zh"
    for name, df in s.tables.items():
        if "suppressed" not in df.columns or not len(df):
            continue
        k = int(df["suppressed"].astype(bool).sum())
        rows.append((name, len(df), k))
    return pd.DataFrame(rows, columns=["表" if zh else "Table", "单元格" if zh else "Cells",
                                       "已抑制" if zh else "Suppressed"])


def quality_lines(s: StudyView, lang="en") -> str:
    """Data-quality notes of the run (Markdown list): validation and refusals, suppression,
    percentile accuracy, and what the results folder does not hold."""
    run = s.run
    zh = lang == "zh"
    hosp = run.get("hospitals") or run.get("hospital_labels") or []
    refusals = run.get("refusals") or {}
    ov = s.table("descriptive_overall")
    ov = ov.iloc[-1] if len(ov) else None
    sup = s.table("status")
    n_sup = sum(int(df["suppressed"].astype(bool).sum()) for df in s.tables.values()
                if "suppressed" in df.columns and len(df))
    n_cells = sum(len(df) for df in s.tables.values() if "suppressed" in df.columns)
    withheld = [str(a) for a, st in zip(sup.get("analysis", []), sup.get("status", [])) if st != "released"]
    lines = []
    ref = "；".join(f"{h}：{r}" for h, r in refusals.items()) if zh else "; ".join(f"{h}: {r}" for h, r in refusals.items())
    if zh:
        lines.append(f"- **数据校验。**{len(hosp)} 家医院的数据均按数据字典 {run.get('dictionary_version', '–')} 校验后参与分析；"
                     + (f"拒绝参与的医院：{ref}。" if refusals else "没有医院因数据无效或密钥不符而退出。"))
        lines.append(f"- **小单元格抑制。**{num(n_sup)} / {num(n_cells)} 个表格单元格按披露规则（少于 5 条记录或少于 3 家医院）或为防止推算而被抑制。"
                     + (f"未发布的分析：{'、'.join(withheld)}。" if withheld else "全部分析均已发布。"))
        if ov is not None and not is_missing(ov.get("cost_median")):
            lines.append(f"- **分位数精度。**中位费用 {yuan(ov['cost_median'], 0, lang)}（精度 ±{num(ov.get('cost_median_accuracy'))} 元），"
                         f"第 90 百分位数 {yuan(ov['cost_p90'], 0, lang)}（±{num(ov.get('cost_p90_accuracy'))} 元），由联邦直方图估计。")
        lines.append("- **记录级数据质量**（准确性、完整性、费用构成之和与总费用的一致性、及时性）由各医院在本地用 `fedcost validate` 检查；"
                     "其汇总不在结果文件夹中，本报告未予列出。")
    else:
        lines.append(f"- **Validation.** All {len(hosp)} hospitals took part with data checked against data dictionary "
                     f"{run.get('dictionary_version', '–')}; "
                     + (f"hospitals that refused: {ref}." if refusals else
                        "no hospital dropped out for invalid data or wrong keys."))
        lines.append(f"- **Small cells.** {num(n_sup)} of {num(n_cells)} table cells were suppressed by the disclosure "
                     f"rules (fewer than 5 records or 3 hospitals) or to stop them being derived from totals. "
                     + (f"Analyses not released: {', '.join(withheld)}." if withheld else "Every analysis was released."))
        if ov is not None and not is_missing(ov.get("cost_median")):
            lines.append(f"- **Percentiles.** Median cost {yuan(ov['cost_median'], 0, lang)} (accurate to "
                         f"±{num(ov.get('cost_median_accuracy'))} yuan), 90th percentile {yuan(ov['cost_p90'], 0, lang)} "
                         f"(±{num(ov.get('cost_p90_accuracy'))} yuan), from a federated histogram.")
        lines.append("- **Record-level data quality** (accuracy, completeness, components summing to the total, "
                     "timeliness) is checked at each hospital with `fedcost validate`; its summary is not part of the "
                     "results folder, so this report does not show it.")
    return "\n".join(lines) + "\n"


