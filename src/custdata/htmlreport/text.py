"""Words of the page in English and Chinese, and number formats for people."""

from __future__ import annotations

from custdata.segments import STAGE_ZH, TIER_ZH

SYMBOLS = {"CNY": "¥", "RMB": "¥", "JPY": "¥", "USD": "$", "EUR": "€", "GBP": "£",
           "HKD": "HK$", "TWD": "NT$", "SGD": "S$", "AUD": "A$", "CAD": "C$", "KRW": "₩"}

WORDS: dict[str, dict[str, str]] = {
    "title": {"en": "Customer report", "zh": "客户报告"},
    "as_of": {"en": "as of", "zh": "截至"},
    "generated": {"en": "generated", "zh": "生成于"},
    "privacy.masked": {"en": "Personal values are masked.",
                       "zh": "个人信息已打码。"},
    "privacy.clear-phones": {"en": "Personal values are masked; the call list shows phone "
                             "numbers in clear: handle this page like the customer data.",
                             "zh": "个人信息已打码；回访名单显示完整电话号码，请按客户数据妥善保管本页。"},
    "privacy.none": {"en": "This page holds no personal values.",
                     "zh": "本页不含任何个人信息。"},
    "kpi.contacts": {"en": "contacts", "zh": "联系人"},
    "kpi.customers": {"en": "paying customers", "zh": "付费客户"},
    "kpi.revenue": {"en": "net revenue", "zh": "净收入"},
    "kpi.at_risk": {"en": "customers at risk", "zh": "流失风险客户"},
    "kpi.score": {"en": "data quality score", "zh": "数据质量得分"},
    "base": {"en": "Customer base", "zh": "客户概况"},
    "stages": {"en": "Lifecycle stages (from the last tag run)", "zh": "生命周期阶段（最近一次 tag）"},
    "tiers": {"en": "Value tiers: customers and net revenue", "zh": "价值等级：客户数与净收入"},
    "moves": {"en": "Stage moves in the last tag run", "zh": "最近一次 tag 的阶段变化"},
    "untagged": {"en": "(untagged)", "zh": "（未标记）"},
    "no_stage": {"en": "(none)", "zh": "（无）"},
    "rfm": {"en": "RFM segments", "zh": "RFM 客户分群"},
    "segments": {"en": "Segments sized by customers", "zh": "客户分群（面积 = 客户数）"},
    "grid": {"en": "Recency x frequency: customers per cell", "zh": "最近购买 × 购买频次：每格客户数"},
    "r_axis": {"en": "R (5 = most recent)", "zh": "R（5 = 最近）"},
    "f_axis": {"en": "F (5 = most orders)", "zh": "F（5 = 最频繁）"},
    "col.segment": {"en": "Segment", "zh": "客户分群"},
    "col.customers": {"en": "Customers", "zh": "客户数"},
    "col.share": {"en": "Share", "zh": "占比"},
    "col.revenue": {"en": "Revenue", "zh": "收入"},
    "col.revenue_share": {"en": "Revenue share", "zh": "收入占比"},
    "col.action": {"en": "Suggested action", "zh": "建议行动"},
    "churn": {"en": "Churn risk", "zh": "流失风险"},
    "risk_dist": {"en": "Customers by churn risk", "zh": "按流失风险分布的客户"},
    "risk_axis": {"en": "risk of no order in the horizon", "zh": "周期内不再下单的概率"},
    "customers_axis": {"en": "customers", "zh": "客户数"},
    "call_list": {"en": "Call list: highest value at risk first", "zh": "回访名单：风险金额从高到低"},
    "col.rank": {"en": "#", "zh": "#"},
    "col.id": {"en": "Customer", "zh": "客户编号"},
    "col.name": {"en": "Name", "zh": "姓名"},
    "col.phone": {"en": "Phone", "zh": "电话"},
    "col.owner": {"en": "Owner", "zh": "负责人"},
    "col.risk": {"en": "Risk", "zh": "风险"},
    "col.value": {"en": "Value at risk", "zh": "风险金额"},
    "col.reason": {"en": "Why", "zh": "原因"},
    "backtest": {"en": "Backtest", "zh": "回测"},
    "calibration": {"en": "Calibration: predicted vs observed", "zh": "校准：预测与实际"},
    "predicted": {"en": "predicted", "zh": "预测"},
    "observed": {"en": "observed", "zh": "实际"},
    "decile": {"en": "risk decile", "zh": "风险十分位"},
    "share_no_order": {"en": "share without an order", "zh": "未下单比例"},
    "auc": {"en": "ROC AUC", "zh": "ROC AUC"},
    "baseline": {"en": "baseline (days since last order)", "zh": "基线（距上次下单天数）"},
    "no_backtest": {"en": "No backtest on this page", "zh": "本页无回测"},
    "quality": {"en": "Data quality", "zh": "数据质量"},
    "trend": {"en": "Audit score per stored run", "zh": "历次审计得分"},
    "score_axis": {"en": "score", "zh": "得分"},
    "parts": {"en": "Parts of the score", "zh": "得分构成"},
    "problems": {"en": "Biggest problems", "zh": "主要问题"},
    "col.part": {"en": "Part", "zh": "部分"},
    "col.records": {"en": "Records", "zh": "记录数"},
    "col.problem": {"en": "Problem", "zh": "问题"},
    "duplicates": {"en": "Duplicates", "zh": "重复客户"},
    "dup.merges": {"en": "merges done", "zh": "已合并"},
    "dup.removed": {"en": "contacts merged away", "zh": "合并掉的联系人"},
    "dup.open": {"en": "contacts in open exact-duplicate groups", "zh": "仍未处理的完全重复联系人"},
    "dup.undone": {"en": "merges undone", "zh": "已撤销合并"},
    "col.key": {"en": "Match key", "zh": "匹配键"},
    "col.groups": {"en": "Open groups", "zh": "未处理组数"},
    "no_section": {"en": "Nothing to show", "zh": "暂无数据"},
    "footer": {"en": "Made by custdata {version}. This file makes no network request; "
               "print it or mail it as it is.",
               "zh": "由 custdata {version} 生成。本文件不发起任何网络请求，可直接打印或邮寄。"},
}
PART_ZH = {"completeness": "完整性", "validity": "有效性", "uniqueness": "唯一性",
           "freshness": "时效性", "consistency": "一致性", "security": "安全性"}
KEY_ZH = {"external_id": "客户编号", "email_key": "邮箱", "phone_key": "电话",
          "id_number_key": "证件号码"}
KEY_EN = {"external_id": "external id", "email_key": "email", "phone_key": "phone",
          "id_number_key": "ID number"}


def word(key: str, lang: str) -> str:
    """The page's text for `key` in `lang` (en or zh)."""
    return WORDS[key][lang]


def stage_label(code: str, lang: str) -> str:
    if not code:
        return word("untagged", lang)
    return STAGE_ZH.get(code, code) if lang == "zh" else code.replace("_", " ")


def tier_label(code: str, lang: str) -> str:
    if not code:
        return word("untagged", lang)
    return TIER_ZH.get(code, code) if lang == "zh" else code


def part_label(code: str, lang: str) -> str:
    return PART_ZH.get(code, code) if lang == "zh" else code


def key_label(code: str, lang: str) -> str:
    return (KEY_ZH if lang == "zh" else KEY_EN).get(code, code)


def money(value: float, currency: str, lang: str) -> str:
    """Compact money: ¥1.2M / ¥120万; the currency code when it has no common symbol."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    symbol = SYMBOLS.get(currency.upper(), f"{currency} " if currency else "")
    if lang == "zh":
        for size, unit in ((1e8, "亿"), (1e4, "万")):
            if value >= size:
                return f"{sign}{symbol}{value / size:,.1f}{unit}"
        return f"{sign}{symbol}{value:,.0f}"
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= size:
            return f"{sign}{symbol}{value / size:,.1f}{unit}"
    return f"{sign}{symbol}{value:,.0f}"


def pct(share: float) -> str:
    """0.1564 -> "15.6%"."""
    return f"{share * 100:.1f}%"
