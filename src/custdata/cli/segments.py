"""tag, report rfm and report summary (report churn is added by cli/churn.py)."""

from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from custdata._lazy import lazy
from custdata.cli._shared import (
    Format, FormatOpt, emit, human, open_store, out, parse_as_of, resolve_format, say,
)
from custdata.errors import UsageError
from custdata.segments import (
    CN8_SEGMENTS, SEGMENTS, STAGE_ZH, STAGES, TIER_ZH, TIERS, TagRules,
    cells_digest, rfm_scores, segment_label, segment_table, tag_plan,
)

pd = lazy("pandas")  # imported on first use: a second of start-up

report_app = typer.Typer(help="Reports: rfm, churn, summary.", no_args_is_help=True)


class Scheme(str, Enum):
    standard = "standard"
    cn8 = "cn8"


class Lang(str, Enum):
    en = "en"
    zh = "zh"


AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", metavar="DATE", help="Compute as of this date (orders dated later are "
    "ignored; orders on DATE count). Default: today.", show_default=False)]
SEGMENT_COLUMNS = ["segment", "customers", "share", "revenue", "revenue_share",
                   "mean_recency_days", "mean_frequency", "mean_monetary", "action"]
CUSTOMER_COLUMNS = ["contact_id", "external_id", "recency_days", "frequency", "monetary",
                    "r", "f", "m", "cell", "segment"]
CHANGE_COLUMNS = ["contact_id", "external_id", "field", "old", "new"]
SUMMARY_COLUMNS = ["stage", "tier", "customers", "revenue", "window_revenue"]


def register(app: typer.Typer) -> None:
    app.command("tag")(tag)
    app.add_typer(report_app, name="report")
    report_app.command("rfm")(report_rfm)
    report_app.command("summary")(report_summary)


# ---- tag ---------------------------------------------------------------------------

def tag(
    as_of: AsOfOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the changes "
                                          "(contact, field, old, new); write nothing.")] = False,
    fmt: FormatOpt = None,
) -> None:
    """Set every contact's lifecycle stage and value tier (thresholds in [tag] config).

    Stages: lead, new, repeat, loyal, at_risk, churned, reactivated. Tiers: high,
    potential, nurture. Changes are recorded in the history with their time, so
    `export contacts --where stage=at_risk --changed-since 7d` lists this week's newly
    at-risk customers. Running it twice changes nothing the second time.
    """
    day = parse_as_of(as_of)
    with open_store() as store:
        rules = TagRules.from_mapping(store.config.section("tag"))
        agg, _ = store.segments.customer_aggregates(as_of=day, for_tag=True)
        current = store.segments.contact_tags()
        plan = tag_plan(current, agg, rules)
        scored = rfm_scores(agg)  # kept for `show`, which then needs no pass over the orders
        cells = {"as_of": day.isoformat(), "digest": cells_digest(scored)}
        cells_changed = store.segments.rfm_cells_state() != cells
        if dry_run:
            ext = store.segments.external_ids([c for c, *_ in plan])
            rows = ({"contact_id": c, "external_id": e, "field": f, "old": o, "new": n}
                    for (c, f, o, n), e in zip(plan, ext))
            emit(rows, fmt, CHANGE_COLUMNS)
        elif plan or cells_changed:
            with store.write("tag") as op:
                # under the write lock: re-plan against the stored values of this moment
                plan = tag_plan(store.segments.contact_tags(), agg, rules)
                store.segments.apply_tags(op.id, plan, as_of=day)
                op.counts.update(_counts(plan, len(current)))
                if cells_changed:
                    op.counts["rfm_cells"] = store.segments.save_rfm_cells(scored, as_of=day,
                                                                  digest=cells["digest"])
    counts = _counts(plan, len(current))
    verb = "would change" if dry_run else "changed"
    say(f"tag as of {day.isoformat()}: {counts['contacts']} contacts, {verb} "
        f"{counts['stage_changes']} stages and {counts['tier_changes']} tiers")


def _counts(plan: list, contacts: int) -> dict[str, int]:
    return {"contacts": contacts,
            "stage_changes": sum(1 for p in plan if p[1] == "stage"),
            "tier_changes": sum(1 for p in plan if p[1] == "tier")}


# ---- report rfm --------------------------------------------------------------------

def report_rfm(
    as_of: AsOfOpt = None,
    customers: Annotated[bool, typer.Option(
        "--customers", help="One row per customer instead of one row per segment.")] = False,
    segment: Annotated[str | None, typer.Option(
        "--segment", metavar="NAME", help="Only this segment (e.g. Champions, at-risk, "
        "重要价值客户).", show_default=False)] = None,
    scheme: Annotated[Scheme, typer.Option(
        "--scheme", help="standard (11 named segments) or cn8 (Chinese eight classes).",
        case_sensitive=False)] = Scheme.standard,
    lang: Annotated[Lang, typer.Option(
        "--lang", help="Labels in English (en) or Chinese (zh).", case_sensitive=False)] = Lang.en,
    currency: Annotated[str | None, typer.Option(
        "--currency", metavar="CODE", help="Only orders in this currency (and orders without "
        "one).", show_default=False)] = None,
    fmt: FormatOpt = None,
) -> None:
    """RFM scores and segments of every customer with a paid order.

    R = days since the last paid order, F = paid orders, M = net amount (refunds
    subtracted, cancelled orders ignored), each scored 1-5 by quintile (ties share a
    score). Default: one row per segment with a suggested action; --customers lists
    every customer. Contacts without a paid order are not in the report.
    """
    day = parse_as_of(as_of)
    wanted = _segment_filter(segment, scheme.value)
    with open_store() as store:
        agg, report_cur = store.segments.customer_aggregates(as_of=day, only=currency,
                                                    external_ids=customers)
    scored = rfm_scores(agg, scheme=scheme.value)
    if customers:
        scored["external_id"] = agg["external_id"].to_numpy() if len(agg) else []
    title = _title(day, report_cur, lang, scheme) if resolve_format(fmt) is Format.table else None
    if customers:
        if wanted:
            scored = scored[scored["segment"] == wanted]
        rows = _customer_rows(scored, scheme.value, lang.value)
        if title is None:
            emit(rows, fmt, CUSTOMER_COLUMNS)
        elif rows:
            _print_customers(rows, title, lang)
        return
    rows = segment_table(scored, scheme=scheme.value, lang=lang.value) if len(scored) else []
    if wanted:
        rows = [r for r in rows if r["segment"] == segment_label(wanted, lang.value)]
    if title is None:
        emit(rows, fmt, SEGMENT_COLUMNS)
    elif rows:
        _print_segments(rows, title, lang)


TABLE_HEADERS = {
    "en": ("segment", "customers", "share", "revenue", "rev.%", "R days", "F", "M"),
    "zh": ("客户分群", "客户数", "占比", "收入", "收入占比", "R天数", "F", "M"),
}
CUSTOMER_HEADERS = {
    "en": ("id", "external_id", "days", "orders", "net", "R", "F", "M", "cell", "segment"),
    "zh": ("ID", "客户编号", "天数", "次数", "金额", "R", "F", "M", "RFM", "客户分群"),
}


def _print_segments(rows: list[dict], title: str, lang: Lang) -> None:
    """The per-segment table for people (shares as percentages), then the actions."""
    table = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    for i, head in enumerate(TABLE_HEADERS[lang.value]):
        table.add_column(head, justify="left" if i == 0 else "right", no_wrap=i > 0)
    for r in rows:
        table.add_row(
            escape(r["segment"]), human(r["customers"]), f"{r['share']:.1%}",
            _num(r["revenue"], 0), f"{r['revenue_share']:.1%}",
            _num(r["mean_recency_days"], 0), _num(r["mean_frequency"], 1),
            _num(r["mean_monetary"], 0))
    out.print(table)
    actions = Table(title="建议行动" if lang is Lang.zh else "Suggested actions",
                    show_header=False, show_lines=False)
    actions.add_column(no_wrap=True, style="bold")
    actions.add_column(ratio=1)
    for r in rows:
        actions.add_row(escape(r["segment"]), escape(r["action"]))
    out.print(actions)
    zh = lang is Lang.zh
    _bars("各分群客户数" if zh else "Customers by segment",
          {r["segment"]: r["customers"] for r in rows}, "")
    _bars("各分群收入" if zh else "Revenue by segment",
          {r["segment"]: r["revenue"] for r in rows}, "money")


def _num(value: float | None, places: int) -> str:
    return "" if value is None else f"{value:,.{places}f}"


def _print_customers(rows: list[dict], title: str, lang: Lang) -> None:
    table = Table(title=title, header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    for i, head in enumerate(CUSTOMER_HEADERS[lang.value]):
        table.add_column(head, justify="right" if 2 <= i <= 7 else "left", no_wrap=i < 9)
    for r in rows:
        table.add_row(*(escape(human(r[c])) for c in CUSTOMER_COLUMNS))
    out.print(table)


def _title(day: Any, currency: str, lang: Lang, scheme: Scheme) -> str:
    cur = f" ({currency})" if currency else ""
    if lang is Lang.zh:
        return f"RFM 客户分群，截至 {day.isoformat()}{cur}"
    return f"RFM {scheme.value} segments as of {day.isoformat()}{cur}"


def _customer_rows(scored: pd.DataFrame, scheme: str, lang: str) -> list[dict]:
    """Records in segment order, biggest spender first; plain Python values."""
    order = {name: i for i, name in enumerate(CN8_SEGMENTS if scheme == "cn8" else SEGMENTS)}
    scored = scored.assign(_o=scored["segment"].map(order)).sort_values(
        ["_o", "monetary", "contact_id"], ascending=[True, False, True], kind="stable")
    labels = {name: segment_label(name, lang) for name in order}
    columns = {
        "contact_id": scored["contact_id"].astype("int64").tolist(),
        "external_id": scored["external_id"].tolist(),
        "recency_days": scored["recency_days"].astype("int64").tolist(),
        "frequency": scored["frequency"].astype("int64").tolist(),
        "monetary": scored["monetary"].astype(float).round(2).tolist(),
        "r": scored["r"].astype("int64").tolist(), "f": scored["f"].astype("int64").tolist(),
        "m": scored["m"].astype("int64").tolist(), "cell": scored["cell"].tolist(),
        "segment": [labels[s] for s in scored["segment"].tolist()],
    }
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def _fold(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def _segment_filter(name: str | None, scheme: str) -> str | None:
    """The canonical segment a --segment NAME means (English or Chinese, any case)."""
    if name is None:
        return None
    names = CN8_SEGMENTS if scheme == "cn8" else SEGMENTS
    for canon in names:
        if _fold(name) in {_fold(canon), _fold(segment_label(canon, "zh")),
                           _fold(segment_label(canon, "en"))}:
            return canon
    choices = ", ".join(names)
    raise UsageError(f"--segment {name!r} is not a segment of the {scheme} scheme; "
                     f"use one of: {choices}.")


# ---- report summary ----------------------------------------------------------------

def report_summary(
    currency: Annotated[str | None, typer.Option(
        "--currency", metavar="CODE", help="Only orders in this currency (and orders without "
        "one).", show_default=False)] = None,
    fmt: FormatOpt = None,
) -> None:
    """Customers by lifecycle stage x value tier (as set by `tag`) and their revenue.

    One row per stage and tier present (csv/json): customers, revenue (net, all orders
    up to today) and window_revenue (net, the [tag] tier window up to today). The table
    view adds a cross-table and bar charts of customers by stage and revenue by tier.
    Run `tag` first; untagged contacts show with an empty stage and tier.
    """
    from datetime import date

    with open_store() as store:
        agg, report_cur = store.segments.customer_aggregates(as_of=date.today(), only=currency,
                                                    for_tag=True)
        tags = store.segments.contact_tags()
        window = int(store.config.get("tag", "tier_window_days"))
    rows = summary_rows(tags, agg)
    if resolve_format(fmt) is not Format.table:
        emit(rows, fmt, SUMMARY_COLUMNS)
        return
    if rows:
        _print_summary(rows, report_cur, window)


def summary_rows(tags: pd.DataFrame, agg: pd.DataFrame) -> list[dict]:
    """stage, tier, customers, revenue, window_revenue per stage x tier (untagged = '')."""
    if not len(tags):
        return []
    merged = tags.merge(agg[["contact_id", "monetary", "window_revenue"]], on="contact_id",
                        how="left")
    merged["stage"] = merged["stage"].fillna("")
    merged["tier"] = merged["tier"].fillna("")
    grouped = merged.groupby(["stage", "tier"], sort=False).agg(
        customers=("contact_id", "size"), revenue=("monetary", "sum"),
        window_revenue=("window_revenue", "sum")).reset_index()
    s_order = {s: i for i, s in enumerate(STAGES)}
    t_order = {t: i for i, t in enumerate(TIERS)}
    grouped["_s"] = grouped["stage"].map(lambda s: s_order.get(s, len(s_order)))
    grouped["_t"] = grouped["tier"].map(lambda t: t_order.get(t, len(t_order)))
    grouped = grouped.sort_values(["_s", "stage", "_t", "tier"], kind="stable")
    return [{"stage": r.stage, "tier": r.tier, "customers": int(r.customers),
             "revenue": round(float(r.revenue), 2),
             "window_revenue": round(float(r.window_revenue), 2)}
            for r in grouped.itertuples(index=False)]


def _print_summary(rows: list[dict], currency: str, window: int) -> None:
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    tiers = list(dict.fromkeys(t for t in TIERS if any(r["tier"] == t for r in rows)))
    tiers += sorted({r["tier"] for r in rows} - set(tiers))
    cross = Table(title="Customers by stage x tier", header_style="bold")
    cross.add_column("stage")
    for t in tiers:
        cross.add_column(escape(_name(t, TIER_ZH)), justify="right")
    cross.add_column("total", justify="right")
    counts = {(r["stage"], r["tier"]): r["customers"] for r in rows}
    for s in stages:
        line = [counts.get((s, t), 0) for t in tiers]
        cross.add_row(escape(_name(s, STAGE_ZH)), *(human(v) for v in line), human(sum(line)))
    totals = [sum(counts.get((s, t), 0) for s in stages) for t in tiers]
    cross.add_row("total", *(human(v) for v in totals), human(sum(totals)), style="bold")
    out.print(cross)
    by_stage = {s: sum(counts.get((s, t), 0) for t in tiers) for s in stages}
    _bars("Customers by stage", {_name(s, STAGE_ZH): v for s, v in by_stage.items()}, "")
    unit = f", {currency}" if currency else ""
    for key, label in (("revenue", "all orders"), ("window_revenue", f"last {window} days")):
        revenue = {t: sum(r[key] for r in rows if r["tier"] == t) for t in tiers}
        _bars(f"Net revenue by tier ({label}{unit})",
              {_name(t, TIER_ZH): v for t, v in revenue.items()}, "money")


def _name(code: str, zh: dict[str, str]) -> str:
    if not code:
        return "(untagged)"
    return f"{code} {zh[code]}" if code in zh else code


def _bars(title: str, values: dict[str, float], unit: str, width: int = 40) -> None:
    """A horizontal bar chart: label, bar scaled to the largest value, value, share."""
    table = Table(title=title, show_header=False, box=None, padding=(0, 1))
    table.add_column(justify="left")
    table.add_column(justify="left")
    table.add_column(justify="right")
    table.add_column(justify="right")
    top = max((abs(v) for v in values.values()), default=0) or 1
    total = sum(values.values())
    for label, value in values.items():
        bar = "█" * max(int(round(width * max(value, 0) / top)), 1 if value > 0 else 0)
        share = f"{value / total:.0%}" if total else ""
        table.add_row(escape(label), bar, human(float(value) if unit else int(value)), share)
    out.print(table)
