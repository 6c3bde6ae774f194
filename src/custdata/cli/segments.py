"""tag, report rfm and report summary (report churn is added by cli/churn.py)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from custdata.api import segments as api
from custdata.cli._shared import (
    Format, FormatOpt, emit, human, out, parse_as_of, resolve_format, say,
)

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
    ctx: typer.Context,
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
    result = api.tag(ctx.obj, as_of=parse_as_of(as_of), dry_run=dry_run)
    if dry_run:
        emit(result.changes, fmt, CHANGE_COLUMNS)
    verb = "would change" if dry_run else "changed"
    say(f"tag as of {result.as_of.isoformat()}: {result.contacts} contacts, {verb} "
        f"{result.stage_changes} stages and {result.tier_changes} tiers")


# ---- report rfm --------------------------------------------------------------------

def report_rfm(
    ctx: typer.Context,
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
    report = api.report_rfm(ctx.obj, as_of=parse_as_of(as_of), customers=customers,
                            segment=segment, scheme=scheme.value, lang=lang.value,
                            currency=currency)
    table = resolve_format(fmt) is Format.table
    if not table:
        emit(report.rows, fmt, CUSTOMER_COLUMNS if customers else SEGMENT_COLUMNS)
    elif report.rows:
        title = _title(report.as_of, report.currency, lang, scheme)
        (_print_customers if customers else _print_segments)(report.rows, title, lang)


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


# ---- report summary ----------------------------------------------------------------

def report_summary(
    ctx: typer.Context,
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
    report = api.report_summary(ctx.obj, currency=currency)
    if resolve_format(fmt) is not Format.table:
        emit(report.rows, fmt, SUMMARY_COLUMNS)
        return
    if report.rows:
        _print_summary(report.rows, report.currency, report.window_days)


def _print_summary(rows: list[dict], currency: str, window: int) -> None:
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    tiers = list(dict.fromkeys(t for t in api.TIERS if any(r["tier"] == t for r in rows)))
    tiers += sorted({r["tier"] for r in rows} - set(tiers))
    cross = Table(title="Customers by stage x tier", header_style="bold")
    cross.add_column("stage")
    for t in tiers:
        cross.add_column(escape(_name(t, api.TIER_ZH)), justify="right")
    cross.add_column("total", justify="right")
    counts = {(r["stage"], r["tier"]): r["customers"] for r in rows}
    for s in stages:
        line = [counts.get((s, t), 0) for t in tiers]
        cross.add_row(escape(_name(s, api.STAGE_ZH)), *(human(v) for v in line), human(sum(line)))
    totals = [sum(counts.get((s, t), 0) for s in stages) for t in tiers]
    cross.add_row("total", *(human(v) for v in totals), human(sum(totals)), style="bold")
    out.print(cross)
    by_stage = {s: sum(counts.get((s, t), 0) for t in tiers) for s in stages}
    _bars("Customers by stage", {_name(s, api.STAGE_ZH): v for s, v in by_stage.items()}, "")
    unit = f", {currency}" if currency else ""
    for key, label in (("revenue", "all orders"), ("window_revenue", f"last {window} days")):
        revenue = {t: sum(r[key] for r in rows if r["tier"] == t) for t in tiers}
        _bars(f"Net revenue by tier ({label}{unit})",
              {_name(t, api.TIER_ZH): v for t, v in revenue.items()}, "money")


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
