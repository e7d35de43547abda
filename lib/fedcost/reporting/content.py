"""Content helpers for the report notebooks: read a results folder, choose a region and period,
and build the headline sentences, tables and small figures the reports share, in English or Chinese.

    from fedcost.reporting.content import Study, tr
    s = Study.load(results_dir)                       # tidy tables + results.json of `fedcost run`
    s.growth_thresholds()                             # (0.08, 0.10) from the run's policy
    annual = s.annual("all")                          # per-case cost per year with growth
    md = headline_findings(s, region="all", period=None, lang="zh")

Numbers come straight from the result tables and are formatted with `i18n.fmt_*`, so a test can
format the table's number the same way and find it in the rendered text. Cells withheld by the
disclosure rules stay visible as "suppressed" / "已抑制", never as a blank or a zero.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fedcost.reporting.i18n import fmt_number, fmt_pct, fmt_yuan, has, normalise_lang, t



REGIONS_ZH = {"east": "东部", "west": "西部", "central": "中部", "north": "北部", "south": "南部",
              "northeast": "东北", "northwest": "西北", "southeast": "东南", "southwest": "西南"}


def value_label(value, lang: str | None = "en") -> str:
    """A data value as a reader sees it: hospital levels and region codes in the report's language."""
    import re
    v = str(value)
    if normalise_lang(lang) == "zh":
        if v.lower() in REGIONS_ZH:
            return REGIONS_ZH[v.lower()]
        m = re.fullmatch(r"Hospital ([A-Z]{1,3})", v)   # the benchmark's pseudonyms
        if m:
            return f"医院 {m.group(1)}"
    return t(v, lang)


def localise_hospitals(df: pd.DataFrame, lang: str | None, col: str = "hospital") -> pd.DataFrame:
    """A copy with the hospital pseudonyms in the report's language ('Hospital A' -> '医院 A')."""
    if col not in df.columns:
        return df
    out = df.copy()
    out[col] = out[col].map(lambda h: value_label(h, lang))
    return out


tr = t  # the notebooks' name for the one label table (i18n.LABELS)


def _nan(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def num(v, digits: int = 0, lang: str = "en") -> str:
    return fmt_number(None if _nan(v) else float(v), digits, lang)


def yuan(v, digits: int = 0, lang: str = "en") -> str:
    return fmt_yuan(None if _nan(v) else float(v), digits, lang)


def pct(v, digits: int = 1, lang: str = "en", signed: bool = False) -> str:
    return fmt_pct(None if _nan(v) else float(v), digits, lang, signed)


def rng(a, b, digits: int = 0, lang: str = "en") -> str:
    """'13,663–14,593'; with a negative end '−557 to 5,029' / '−557 至 5,029' (a dash would read as a minus)."""
    fa, fb = num(a, digits).replace("-", "−"), num(b, digits).replace("-", "−")
    if (not _nan(a) and a < 0) or (not _nan(b) and b < 0):
        return f"{fa} 至 {fb}" if normalise_lang(lang) == "zh" else f"{fa} to {fb}"
    return f"{fa}–{fb}"


def yuan_range(a, b, digits: int = 0, lang: str = "en") -> str:
    """'13,663–14,593 yuan' / '13,663–14,593 元'."""
    return yuan(b, digits, lang).replace(num(b, digits), rng(a, b, digits, lang), 1)


def strategy_name(name, lang: str = "en") -> str:
    key = f"strategy_{name}"
    return tr(key, lang) if has(key) else str(name)


# ------------------------------------------------------------------ the results folder
class ResultsNotFound(FileNotFoundError):
    pass


@dataclass
class Study:
    """A `fedcost run` results folder: its tidy tables and results.json."""
    dir: Path
    tables: dict[str, pd.DataFrame]
    doc: dict = field(default_factory=dict)

    @classmethod
    def load(cls, results_dir) -> "Study":
        from fedcost.analyses.tables import read_tables
        d = Path(str(results_dir)).expanduser()
        if not (d / "manifest.json").is_file():
            raise ResultsNotFound(
                f"{d.resolve()}: not a results folder (no manifest.json). Make one with "
                f"`fedcost run plans/standard.toml --data H01.csv ... --out {d}` or `fedcost demo`, "
                f"and pass it as the results_dir parameter.")
        tables = read_tables(d)
        doc = json.loads((d / "results.json").read_text(encoding="utf-8")) if (d / "results.json").is_file() else {}
        return cls(dir=d, tables=tables, doc=doc)

    # -- raw access
    def table(self, name: str, analysis: str | None = None) -> pd.DataFrame:
        df = self.tables.get(name)
        if df is None:
            return pd.DataFrame()
        if analysis is not None and "analysis" in df.columns:
            df = df[df["analysis"] == analysis]
        return df.reset_index(drop=True)

    def has(self, name: str) -> bool:
        return name in self.tables and len(self.tables[name]) > 0

    @property
    def run(self) -> dict:
        return self.doc.get("run", {}) or {}

    @property
    def policy(self) -> dict:
        return self.run.get("policy") or {}

    def kpi(self, metric: str):
        k = self.table("kpi")
        if not len(k):
            return None
        hit = k[k["metric"] == metric]
        return float(hit["value"].iloc[0]) if len(hit) else None

    def result(self, analysis: str) -> dict:
        return ((self.doc.get("analyses") or {}).get(analysis) or {}).get("result") or {}

    def spec(self, analysis: str) -> dict:
        return (self.doc.get("specs") or {}).get(analysis) or {}

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
        if len(inc) and not _nan(inc["wtp"].iloc[0]):
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
        if _all(region):
            d = self.table("descriptive_overall")
            return d.iloc[-1] if len(d) else None
        d = self.table("descriptive_by_region")
        hit = d[d["region"].astype(str) == str(region)] if len(d) else d
        return hit.iloc[0] if len(hit) else None

    def annual(self, region: str = "all") -> pd.DataFrame:
        """Per year: n, hospitals, per-case cost (with 95% CI), shares, LOS, growth on the previous
        year, suppressed; from the region x year table (its 'All' margin for every region)."""
        d = self.table("descriptive_by_region_year")
        if not len(d):
            return pd.DataFrame()
        key = "All" if _all(region) else str(region)
        d = d[(d["region"].astype(str) == key) & (d["period"].astype(str) != "All")].copy()
        d["period"] = d["period"].astype(str)
        d = d.sort_values("period").reset_index(drop=True)
        d["growth"] = d["cost_mean"].astype(float) / d["cost_mean"].astype(float).shift(1) - 1
        se = d["cost_sd"].astype(float) / np.sqrt(d["n"].astype(float))
        d["ci_lower"], d["ci_upper"] = d["cost_mean"] - 1.96 * se, d["cost_mean"] + 1.96 * se
        return d

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
        if _all(region):
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


def _all(region) -> bool:
    return region in (None, "", "all", "All", "ALL")


def where(region, lang: str) -> str:
    """'all hospitals' / 'the east region' in prose."""
    if _all(region):
        return "全部参与医院" if lang == "zh" else "the participating hospitals"
    return f"{value_label(region, lang)}地区" if lang == "zh" else f"the {region} region"


def alert_level(growth, yellow: float, red: float) -> str:
    if _nan(growth):
        return "none"
    return "red" if growth > red else "yellow" if growth > yellow else "none"


def alert_label(level: str, lang: str) -> str:
    return t({"red": "alert_red", "yellow": "alert_yellow"}.get(level, "alert_none"), lang)


# ------------------------------------------------------------------ headline findings
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


def finding_growth(s: Study, region, period, lang, yellow, red) -> Finding | None:
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
    if lang == "zh":
        dir_ = "增长" if not _nan(g) and g >= 0 else "下降"
        gtxt = f"较 {prev} 年{dir_} {pct(abs(g), 1, lang)}" if not _nan(g) else "无上年可比数据"
        title = f"{year} 年次均费用 {cost}，{gtxt}（{alert_label(level, lang)}）"
        text = (f"{w}的次均费用为 {cost}（95% 置信区间 {ci}），{gtxt}；"
                f"黄色预警线为 {pct(yellow, 0, lang)}，红色预警线为 {pct(red, 0, lang)}。")
        if q_red or q_yel:
            text += f"该年有 {q_red} 个季度触发红色预警、{q_yel} 个季度触发黄色预警（见趋势图）。"
        action = {"red": "立即对增长最快的 DRG 组和医院开展费用核查，重点核查药品和耗材费用。",
                  "yellow": "按月监测，并要求相关医院说明药品与耗材费用上升的原因。",
                  "none": ("年度增长低于预警线，但应核查触发季度预警的时期。" if (q_red or q_yel)
                           else "保持季度监测，增长仍在政策目标内。")}[level]
    else:
        dir_ = "up" if not _nan(g) and g >= 0 else "down"
        gtxt = f"{dir_} {pct(abs(g), 1, lang)} on {prev}" if not _nan(g) else "no previous year to compare"
        title = f"Per-case cost {cost} in {year}, {gtxt} ({alert_label(level, lang).lower()})"
        text = (f"In {w} the mean cost per admission was {cost} (95% CI {ci}), {gtxt}; the alert lines are "
                f"{pct(yellow, 0, lang)} (yellow) and {pct(red, 0, lang)} (red).")
        if q_red or q_yel:
            text += (f" Within the year, {q_red} quarter{'s' if q_red != 1 else ''} raised a red and {q_yel} a yellow "
                     f"growth alert (see the trend charts).")
        action = {"red": "start a cost review of the DRG groups and hospitals that grew fastest, beginning with drugs "
                         "and consumables.",
                  "yellow": "monitor monthly and ask hospitals to explain rises in drug and consumable costs.",
                  "none": ("annual growth is below the alert lines, but check the quarters that raised alerts."
                           if (q_red or q_yel) else "keep quarterly monitoring; growth is within the policy target.")
                  }[level]
    return Finding("growth", title, text, action, level)


def finding_hospitals(s: Study, lang) -> Finding | None:
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


def payment_groups(s: Study) -> pd.DataFrame:
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


def finding_payment(s: Study, lang) -> Finding | None:
    p = s.table("payment_gap")
    if not len(p):
        return None
    tot = p[p[_group_col(p)].astype(str) == "All"]
    tot = tot.iloc[0] if len(tot) else None
    g = payment_groups(s)
    g = g[~g["suppressed"].astype(bool)].dropna(subset=["cost_over_standard"])
    rate = s.kpi("overspend_rate") if tot is None else tot["overspend_rate"]
    ratio = s.kpi("overspend_ratio") if tot is None else tot["overspend_ratio"]
    if _nan(rate):
        return None
    worst = g.sort_values("overspend_amount", ascending=False).iloc[0] if len(g) else None
    gc = _group_col(p)
    if lang == "zh":
        title = f"{pct(rate, 1, lang)} 的病例成本超过 DRG 支付标准"
        text = f"超支金额相当于支付总额的 {pct(ratio, 1, lang)}（有省份已将超支病例比例从 18% 降至 7%）。"
        if worst is not None:
            text += (f"超支总额最大的是 {worst[gc]} 组：平均成本 {yuan(worst['mean_cost'], 0, lang)}，"
                     f"支付标准 {yuan(worst['payment_standard'], 0, lang)}（{pct(worst['cost_over_standard'], 1, lang, True)}）。")
        action = "核查超支最多的 DRG 组的成本构成，并与医保部门复核支付标准的测算。"
    else:
        title = f"{pct(rate, 1, lang)} of cases cost more than their DRG payment standard"
        text = (f"The excess equals {pct(ratio, 1, lang)} of payments (one province cut its overspend rate from 18% "
                f"to 7%).")
        if worst is not None:
            text += (f" The largest total overspend is in {worst[gc]}: mean cost {yuan(worst['mean_cost'], 0, lang)} "
                     f"against a standard of {yuan(worst['payment_standard'], 0, lang)} "
                     f"({pct(worst['cost_over_standard'], 1, lang, True)}).")
        action = ("review the cost drivers of the groups with the largest overspend and recheck the standards' "
                  "calibration with the insurance bureau.")
    return Finding("payment", title, text, action, "yellow" if rate > 0.2 else "none")


def finding_structure(s: Study, region, period, lang) -> Finding | None:
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
    level = "yellow" if over else "none"
    if lang == "zh":
        title = f"{year} 年药占比 {pct(d, 1, lang)}，耗占比 {pct(c, 1, lang)}"
        text = (f"政策上限分别为 {pct(drug_cap, 0, lang)} 和 {pct(cons_cap, 0, lang)}；"
                + ("两项均在上限内。" if not over else
                   "、".join({"drug": "药占比", "cons": "耗材占比"}[k] for k in over) + "超过上限。"))
        action = ("对超过上限的费用类别开展处方与耗材使用点评。" if over
                  else "两项指标接近上限时应关注：按 DRG 组跟踪耗占比，重点关注高值耗材。")
    else:
        title = f"Drug share {pct(d, 1, lang)} and consumables share {pct(c, 1, lang)} in {year}"
        text = (f"The policy caps are {pct(drug_cap, 0, lang)} and {pct(cons_cap, 0, lang)}; "
                + ("both are within them." if not over else
                   " and ".join({"drug": "the drug share", "cons": "the consumables share"}[k] for k in over)
                   + " exceed the cap."))
        action = ("audit prescribing and consumable use in the components above their cap." if over
                  else "track the consumables share by DRG group, high-value consumables first, as it is closest "
                       "to its cap.")
    return Finding("structure", title, text, action, level)


def cea_at(s: Study, wtp_override=None) -> dict | None:
    """The incremental result at the willingness to pay (the run's, or `wtp_override`: INMB, its
    interval and the probability of cost-effectiveness are then recomputed from the same estimates
    and PSA draws)."""
    inc = s.table("cea_incremental")
    if not len(inc):
        return None
    r = inc.iloc[0].to_dict()
    w = s.wtp(wtp_override)
    if wtp_override is not None and w is not None:
        dc, de = float(r["delta_cost"]), float(r["delta_effect"])
        var = w ** 2 * float(r["se_delta_effect"]) ** 2 + float(r["se_delta_cost"]) ** 2 - 2 * w * float(r["cov_delta"])
        se = math.sqrt(max(var, 0.0))
        r.update(wtp=w, wtp_basis="report parameter", inmb=w * de - dc, se_inmb=se,
                 inmb_lower95=w * de - dc - 1.96 * se, inmb_upper95=w * de - dc + 1.96 * se)
        draws = s.table("ce_plane")
        if len(draws):
            r["prob_cost_effective_psa"] = float(np.mean(w * draws["delta_effect"] - draws["delta_cost"] > 0))
        ne = dc >= 0 and de > 0
        if dc <= 0 and de >= 0:
            r["decision"] = "dominant"
        elif dc >= 0 and de <= 0:
            r["decision"] = "dominated"
        elif ne:
            r["decision"] = "cost-effective" if dc / de <= w else "not cost-effective"
        else:
            r["decision"] = "cost-effective" if w * de - dc > 0 else "not cost-effective"
    draws = s.table("ce_plane")
    if len(draws) and (draws["delta_effect"] > 0).all():
        icers = draws["delta_cost"] / draws["delta_effect"]
        r["icer_lower95"], r["icer_upper95"] = float(icers.quantile(0.025)), float(icers.quantile(0.975))
    return r


def finding_cea(s: Study, lang, wtp=None) -> Finding | None:
    r = cea_at(s, wtp)
    if r is None:
        return None
    w = r["wtp"]
    i, c = strategy_name(r["intervention"], lang), strategy_name(r["comparator"], lang)
    dec = tr(f"decision_{r['decision']}", lang)
    icer = r.get("icer")
    icer_ci = yuan_range(r["icer_lower95"], r["icer_upper95"], 0, lang) if "icer_lower95" in r else None
    inmb_ci = yuan_range(r["inmb_lower95"], r["inmb_upper95"], 0, lang)
    good = r["decision"] in ("cost-effective", "dominant")
    if lang == "zh":
        title = f"{i}方案相对{c}方案{dec}"
        text = (f"每例增加成本 {yuan(r['delta_cost'], 0, lang)}，增加 {num(r['delta_effect'], 3)} 个质量调整生命年；"
                + (f"增量成本效果比为每 QALY {yuan(icer, 0, lang)}" + (f"（95% 区间 {icer_ci}）" if icer_ci else "")
                   + f"，意愿支付阈值为每 QALY {yuan(w, 0, lang)}。" if not _nan(icer) else "")
                + f"在该阈值下增量净货币效益为 {yuan(r['inmb'], 0, lang)}（95% 置信区间 {inmb_ci}），"
                f"具有成本效果的概率为 {pct(r['prob_cost_effective_psa'], 0, lang)}。")
        action = ("可考虑将该联合方案纳入临床路径和医保支付，并持续跟踪真实世界结局。" if good
                  else "暂不扩大使用该方案；可通过价格谈判降低成本后重新评估。")
    else:
        title = f"{i.capitalize()} therapy is {dec} against {c} therapy"
        text = (f"It costs {yuan(r['delta_cost'], 0, lang)} more per patient and gains {num(r['delta_effect'], 3)} QALYs"
                + (f": an ICER of {yuan(icer, 0, lang)} per QALY" + (f" (95% interval {icer_ci})" if icer_ci else "")
                   + f" against a willingness to pay of {yuan(w, 0, lang)} per QALY" if not _nan(icer) else "")
                + f". At that threshold the incremental net monetary benefit is {yuan(r['inmb'], 0, lang)} "
                  f"(95% CI {inmb_ci}) and the "
                  f"probability of being cost-effective {pct(r['prob_cost_effective_psa'], 0, lang)}.")
        action = ("consider the combination for clinical pathways and reimbursement, and follow real-world outcomes."
                  if good else "do not extend its use; renegotiate the price and re-assess.")
    return Finding("cea", title, text, action, "none" if good else "yellow")


def headline_findings(s: Study, region="all", period=None, lang="en", *, growth_yellow=None, growth_red=None,
                      wtp=None) -> list[Finding]:
    lang = normalise_lang(lang)
    y, r = s.growth_thresholds(growth_yellow, growth_red)
    out = [finding_growth(s, region, period, lang, y, r), finding_hospitals(s, lang), finding_payment(s, lang),
           finding_structure(s, region, period, lang), finding_cea(s, lang, wtp)]
    return [f for f in out if f is not None]


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


# ------------------------------------------------------------------ tables
def kpi_table(s: Study, region="all", period=None, lang="en", *, growth_yellow=None, growth_red=None) -> pd.DataFrame:
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
        return "–" if _nan(v) else f(v)

    def ci(row):
        if row is None or bool(row.get("suppressed", False)) or _nan(row.get("cost_sd")):
            return ""
        se = float(row["cost_sd"]) / math.sqrt(float(row["n"]))
        return f" ({num(row['cost_mean'] - 1.96 * se)}–{num(row['cost_mean'] + 1.96 * se)})"

    def status(v, cap, yellow=None):
        if _nan(v):
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
        rows.append((t("overspend_rate", lang) + (" ¹" if not _all(region) else ""), "–", pct(rate, 1, lang),
                     f"≤ 7% ({tr('benchmark', lang)})" if lang == "en" else f"≤ 7%（{tr('benchmark', lang)}）",
                     tr("above", lang) if rate > 0.07 else tr("within", lang)))
    span = f"{ann['period'].iloc[0]}–{ann['period'].iloc[-1]}" if len(ann) else tr("whole_period", lang)
    cols = [t("indicator", lang), str(year) if year else "–", span, t("target", lang),
            t("status", lang)]
    return pd.DataFrame(rows, columns=cols)


def structure_frame(s: Study, region="all", lang="en") -> tuple[pd.DataFrame, list[str]]:
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
                if not _all(region) and col == "region" and str(r[col]) != str(region):
                    continue
                label = (f"{prefix}: {value_label(r[col], lang)}" if lang == "en"
                         else f"{prefix}：{value_label(r[col], lang)}")
            if bool(r.get("suppressed", False)):
                withheld.append(_paren(label, tr("suppressed_cell", lang), lang))
                continue
            if _nan(r.get("n")) or float(r["n"]) == 0:
                withheld.append(_paren(label, tr("no_records", lang), lang))
                continue
            for c, key in comps.items():
                if c in r and not _nan(r[c]):
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


def privacy_table(s: Study, lang="en") -> pd.DataFrame:
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


def versions_table(s: Study, lang="en") -> pd.DataFrame:
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
         f"{((s.doc.get('plan') or {}).get('plan') or {}).get('name', '–')} "
         f"v{((s.doc.get('plan') or {}).get('plan') or {}).get('version', '?')}"),
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


def status_table(s: Study, lang="en") -> pd.DataFrame:
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


def suppression_summary(s: Study, lang="en") -> pd.DataFrame:
    rows = []
    zh = lang == "zh"
    for name, df in s.tables.items():
        if "suppressed" not in df.columns or not len(df):
            continue
        k = int(df["suppressed"].astype(bool).sum())
        rows.append((name, len(df), k))
    return pd.DataFrame(rows, columns=["表" if zh else "Table", "单元格" if zh else "Cells",
                                       "已抑制" if zh else "Suppressed"])


def quality_lines(s: Study, lang="en") -> str:
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
        if ov is not None and not _nan(ov.get("cost_median")):
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
        if ov is not None and not _nan(ov.get("cost_median")):
            lines.append(f"- **Percentiles.** Median cost {yuan(ov['cost_median'], 0, lang)} (accurate to "
                         f"±{num(ov.get('cost_median_accuracy'))} yuan), 90th percentile {yuan(ov['cost_p90'], 0, lang)} "
                         f"(±{num(ov.get('cost_p90_accuracy'))} yuan), from a federated histogram.")
        lines.append("- **Record-level data quality** (accuracy, completeness, components summing to the total, "
                     "timeliness) is checked at each hospital with `fedcost validate`; its summary is not part of the "
                     "results folder, so this report does not show it.")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ figures the theme does not have
def coefficient_chart(hc: pd.DataFrame, *, lang="en", band=(0.8, 1.2)):
    """Cost difference coefficient per hospital (pseudonyms, in name order: no ranking), unadjusted
    and case-mix adjusted, against the accepted band."""
    from fedcost.reporting.theme import OKABE_ITO, figure
    d = hc.sort_values("hospital").reset_index(drop=True)
    fig, ax = figure(max(2.2, 0.38 * len(d) + 1.3))
    ax.axvspan(band[0], band[1], color=OKABE_ITO["sky_blue"], alpha=0.12, lw=0,
               label=f"{t('band', lang)} {band[0]:g}–{band[1]:g}")
    ax.axvline(1.0, color="black", lw=0.8)
    ypos = np.arange(len(d))[::-1]
    for y, (_, r) in zip(ypos, d.iterrows()):
        ax.plot([r["cost_coefficient"], r["adjusted_coefficient"]], [y, y], color="#999999", lw=1.0, zorder=2)
    ax.scatter(d["cost_coefficient"], ypos, s=36, facecolor="white", edgecolor=OKABE_ITO["orange"], lw=1.5,
               zorder=3, label=tr("raw_coefficient", lang))
    ax.scatter(d["adjusted_coefficient"], ypos, s=36, color=OKABE_ITO["blue"], zorder=4,
               label=tr("adjusted_coefficient", lang))
    ax.set_yticks(ypos)
    ax.set_yticklabels(d["hospital"].astype(str))
    ax.grid(axis="y", visible=False)
    lo = min(band[0], d[["cost_coefficient", "adjusted_coefficient"]].min().min()) - 0.05
    hi = max(band[1], d[["cost_coefficient", "adjusted_coefficient"]].max().max()) + 0.05
    ax.set_xlim(lo, hi)
    ax.set_xlabel(t("cost_coefficient", lang))
    fig.legend(loc="outside lower center", ncol=3)
    return fig


def coef_plot(coefs: pd.DataFrame, *, lang="en", max_terms: int = 60):
    """Cost ratios exp(coef) with 95% CIs on a log axis (intercept left out)."""
    from fedcost.reporting.theme import OKABE_ITO, figure
    d = coefs[coefs["term"] != "Intercept"].head(max_terms).iloc[::-1]
    fig, ax = figure(max(2.5, 0.16 * len(d) + 1.2))
    y = np.arange(len(d))
    ax.errorbar(np.exp(d["coef"]), y, xerr=[np.exp(d["coef"]) - np.exp(d["ci_lower"]),
                                             np.exp(d["ci_upper"]) - np.exp(d["coef"])],
                fmt="o", ms=3, color=OKABE_ITO["blue"], ecolor="#777777", elinewidth=0.9, capsize=0)
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xscale("log")
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator
    lo, hi = float(np.exp(d["ci_lower"]).min()), float(np.exp(d["ci_upper"]).max())
    ticks = [v for v in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10, 20, 50) if lo / 1.3 <= v <= hi * 1.3]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_yticks(y)
    ax.set_yticklabels([pretty_term(x) for x in d["term"]], fontsize=6.5)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("成本比（对数刻度）" if lang == "zh" else "Cost ratio exp(coefficient), log scale")
    return fig


def pretty_term(term: str) -> str:
    """'C(drg_code)[T.BR23]' -> 'drg_code = BR23'."""
    import re
    m = re.match(r"^C\((\w+)\)\[T\.(.+)\]$", str(term))
    return f"{m.group(1)} = {m.group(2)}" if m else str(term)


__all__ = ["Study", "tr", "value_label", "quality_lines", "headline_findings", "findings_markdown", "kpi_table", "structure_frame",
           "suppressed_note", "privacy_table", "versions_table", "status_table", "suppression_summary",
           "payment_groups", "cea_at", "coefficient_chart", "coef_plot", "pretty_term", "where"]
