"""One-line takeaways, written from the numbers: what a sales manager should notice."""

from __future__ import annotations

from custdata.htmlreport.model import Audit, Base, Churn, Duplicates, Rfm
from custdata.htmlreport.text import money, part_label, pct, stage_label

# Segments whose customers used to buy a lot and are slipping away (the ones to call).
SLIPPING = ("At Risk", "Can't Lose Them", "重要保持客户", "重要挽留客户")


def base_line(base: Base, lang: str) -> str:
    """Paying share of the contacts, and how many sit in at-risk and churned."""
    stages = {c.name: c.count for c in base.stages}
    share = pct(base.customers / base.contacts) if base.contacts else "0.0%"
    risk, gone = stages.get("at_risk", 0), stages.get("churned", 0)
    if lang == "zh":
        return (f"{base.contacts:,} 个联系人中有 {base.customers:,} 个付费客户（{share}）；"
                f"{risk:,} 个有流失风险，{gone:,} 个已流失。")
    return (f"{base.customers:,} of {base.contacts:,} contacts are paying customers ({share}); "
            f"{risk:,} are at risk and {gone:,} have churned.")


def moves_line(base: Base, lang: str) -> str:
    """How many contacts the last tag run moved, and how many of them went the wrong way."""
    if not base.moves:
        return ("还没有阶段变化记录：运行 custdata tag 后这里会显示变化。" if lang == "zh" else
                "No stage moves recorded yet: they show here once `custdata tag` has run.")
    total = sum(m.count for m in base.moves)
    worse = sum(m.count for m in base.moves if m.new in ("at_risk", "churned"))
    top = max(base.moves, key=lambda m: m.count)
    move = f"{stage_label(top.old, lang)} → {stage_label(top.new, lang)}"
    if lang == "zh":
        return (f"最近一次 tag（截至 {base.moves_as_of}）改变了 {total:,} 个联系人的阶段，"
                f"其中 {worse:,} 个转为流失风险或已流失；最多的是 {move}（{top.count:,}）。")
    return (f"The last tag run (as of {base.moves_as_of}) moved {total:,} contacts; {worse:,} "
            f"of them into at risk or churned. Most common: {move} ({top.count:,}).")


def tiers_line(base: Base, currency: str, lang: str) -> str:
    """What the high tier is worth."""
    total = sum(c.revenue or 0.0 for c in base.tiers)
    high = next((c for c in base.tiers if c.name == "high"), None)
    if high is None or not total:
        return "还没有高价值客户。" if lang == "zh" else "No customer is in the high tier yet."
    share = pct((high.revenue or 0.0) / total)
    amount = money(high.revenue or 0.0, currency, lang)
    if lang == "zh":
        return f"{high.count:,} 个高价值客户贡献了 {amount}，占净收入的 {share}。"
    return f"{high.count:,} high-value customers bring {amount}, {share} of net revenue."


def rfm_line(rfm: Rfm, lang: str) -> str:
    """The segment with the most revenue, and the money in segments that are slipping."""
    best = max(rfm.segments, key=lambda s: s.revenue)
    slipping = [s for s in rfm.segments if s.name in SLIPPING]
    n = sum(s.customers for s in slipping)
    amount = money(sum(s.revenue for s in slipping), rfm.currency, lang)
    if lang == "zh":
        return (f"{best.label}占客户的 {pct(best.share)}，贡献 {pct(best.revenue_share)} 的收入；"
                f"{n:,} 个曾经重要、正在流失的客户合计消费 {amount}。")
    return (f"{best.label} are {pct(best.share)} of customers and bring "
            f"{pct(best.revenue_share)} of revenue; {n:,} once-valuable customers who are "
            f"slipping away spent {amount}.")


def grid_line(rfm: Rfm, lang: str) -> str:
    """Recent-and-frequent customers against long-gone-and-rare ones."""
    total = sum(map(sum, rfm.grid)) or 1
    hot = sum(rfm.grid[r][f] for r in (3, 4) for f in (3, 4))
    cold = sum(rfm.grid[r][f] for r in (0, 1) for f in (0, 1))
    if lang == "zh":
        return (f"{hot:,} 个客户（{pct(hot / total)}）最近常买（R≥4、F≥4）；"
                f"{cold:,} 个（{pct(cold / total)}）很久没买且很少买（R≤2、F≤2）。")
    return (f"{hot:,} customers ({pct(hot / total)}) bought recently and often (R≥4, F≥4); "
            f"{cold:,} ({pct(cold / total)}) neither recently nor often (R≤2, F≤2).")


def churn_line(churn: Churn, currency: str, lang: str) -> str:
    """The issue's headline: high-value customers at risk and their trailing-year revenue."""
    amount = money(churn.high_value_at_risk, currency, lang)
    every = money(churn.value_at_risk, currency, lang)
    if lang == "zh":
        return (f"{churn.high_at_risk:,} 个高价值客户有流失风险：过去一年收入 {amount}"
                f"（全部 {churn.at_risk:,} 个风险客户合计 {every}，{churn.horizon_days} 天内"
                "不再下单的概率 ≥ 50%）。")
    return (f"{churn.high_at_risk:,} high-value customers are at risk: {amount} of "
            f"trailing-year revenue ({churn.at_risk:,} customers in all, {every}, have a "
            f"50% or higher chance of no order in {churn.horizon_days} days).")


def call_line(churn: Churn, currency: str, lang: str) -> str:
    """What the call list is worth."""
    rows = churn.call_list
    if not rows:
        return "没有需要回访的客户。" if lang == "zh" else "Nobody to call."
    amount = money(sum(r.value_at_risk for r in rows), currency, lang)
    mean = pct(sum(r.risk for r in rows) / len(rows))
    if lang == "zh":
        return f"先联系这 {len(rows)} 位：合计过去一年收入 {amount}，平均流失风险 {mean}。"
    return (f"Call these {len(rows)} first: {amount} of trailing-year revenue together, "
            f"at an average risk of {mean}.")


def backtest_line(churn: Churn, lang: str) -> str:
    """How well the model did on the last horizon, against the naive baseline."""
    bt = churn.backtest
    if bt is None:
        return churn.backtest_note or ""
    auc = "n/a" if bt.auc is None else f"{bt.auc:.2f}"
    base = "n/a" if bt.baseline_auc is None else f"{bt.baseline_auc:.2f}"
    if lang == "zh":
        return (f"以 {bt.cut} 为切点回测 {churn.horizon_days} 天：模型 AUC {auc}，"
                f"按距上次下单天数排序的基线 {base}（{bt.customers:,} 个客户）。")
    return (f"Scored at {bt.cut} and checked {churn.horizon_days} days later, the model's "
            f"AUC was {auc} against {base} for days since the last order "
            f"({bt.customers:,} customers).")


def audit_line(audit: Audit, lang: str) -> str:
    """The score, its change since the run before, and the weakest part."""
    scored = {k: v for k, v in audit.parts.items() if v is not None}
    weakest = min(scored, key=scored.get) if scored else None
    score = "n/a" if audit.score is None else f"{audit.score:.1f}"
    last = audit.history[-1]["score"] if audit.history else None
    change = "" if last is None or audit.score is None else f" ({audit.score - last:+.1f})"
    part = "" if weakest is None else f"{part_label(weakest, lang)} {scored[weakest]:.1f}"
    if lang == "zh":
        return f"数据质量得分 {score}/100{change}；最弱的部分：{part}。"
    return (f"Data quality scores {score}/100{change} against the last stored audit; "
            f"weakest part: {part}.")


def problems_line(audit: Audit, lang: str) -> str:
    if not audit.findings:
        return "没有未通过的检查。" if lang == "zh" else "No failing checks."
    first = audit.findings[0]
    return (f"最大的问题：{first.message}。" if lang == "zh"
            else f"Biggest problem: {first.message}.")


def duplicates_line(dup: Duplicates, lang: str) -> str:
    """Merges done and exact duplicates still open."""
    if lang == "zh":
        done = (f"已合并 {dup.merges:,} 组（去掉 {dup.merged_contacts:,} 个重复联系人）"
                if dup.merges else "还没有合并过重复客户")
        return f"{done}；{dup.contacts_in_groups:,} 个联系人仍与他人共享邮箱、电话、编号或证件号。"
    done = (f"{dup.merges:,} merges done ({dup.merged_contacts:,} duplicate contacts removed)"
            if dup.merges else "No duplicates merged yet")
    return (f"{done}; {dup.contacts_in_groups:,} contacts still share an email, phone, "
            "external id or ID number with another.")
