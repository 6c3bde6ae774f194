"""`custdata audit`: the data-quality and security scorecard, and its history."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from custdata.api import audit as audit_api
from custdata.api.session import Session
from custdata.cli._shared import (
    Format, FormatOpt, emit, emit_document, out, parse_as_of, resolve_format, say,
)
from custdata.errors import CheckFailed, UsageError


def register(app: typer.Typer) -> None:
    """Add `audit` to the root app."""
    app.command("audit")(audit)


def audit(
    ctx: typer.Context,
    fail_under: Annotated[float | None, typer.Option(
        "--fail-under", metavar="SCORE",
        help="Exit 1 when the overall score is below SCORE (any number; for cron).")] = None,
    history: Annotated[bool, typer.Option(
        "--history", help="Show the score of every stored run and the change since the one "
        "before, instead of auditing.")] = False,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="DATE", help="Judge freshness, retention and future orders as "
        "of DATE (default: today).")] = None,
    show_check: Annotated[str | None, typer.Option(
        "--show", metavar="CHECK", help="List the records that fail CHECK instead of "
        "auditing: stale, no-consent, past-retention, orphan-orders, orphan-interactions, "
        "future-orders, negative-amounts, unreadable-orders, or empty:FIELD.")] = None,
    fmt: FormatOpt = None,
) -> None:
    """Score the data 0-100 for quality and security, and say what to fix.

    Parts: completeness, validity, uniqueness, freshness, consistency and security;
    the overall score is their weighted mean (weights in the [audit] config). Every
    run is stored; --history shows the trend.
    """
    session: Session = ctx.obj
    fmt = resolve_format(fmt)
    if (history or show_check) and fail_under is not None:
        raise UsageError("--fail-under gates an audit run; it cannot be combined with "
                         "--history or --show.")
    if history and show_check:
        raise UsageError("Give either --history or --show, not both.")
    if show_check:
        with audit_api.records(session, show_check, as_of=parse_as_of(as_of)) as (columns, rows):
            emit(rows, fmt, columns=columns)
        return
    if history:
        show_history(audit_api.history(session), fmt)
        return
    run = audit_api.audit(session, as_of=parse_as_of(as_of), fail_under=fail_under)
    show(run, fmt)
    if run.failed:
        raise CheckFailed(f"The audit score {run.report.score} is below --fail-under "
                          f"{fail_under:g}.")


def show_history(rows: list[dict[str, Any]], fmt: Format) -> None:
    """The trend: one row per stored run."""
    if fmt is Format.table:  # people read the trend as +2.5 / -1.0
        rows = [{**r, "change": "" if r["change"] is None else f"{r['change']:+.1f}"}
                for r in rows]
    emit(rows, fmt, columns=list(audit_api.HISTORY_COLUMNS),
         title="Audit history" if rows else None)
    if fmt is Format.table and rows:
        out.print(history_chart(rows))


def show(run: audit_api.AuditRun, fmt: Format) -> None:
    """Print the report: a dashboard (table), one JSON object, or flat csv/jsonl rows."""
    report = run.report
    if report.empty:
        say("The store holds no contacts, orders or interactions: nothing to audit "
            "(no score; the run is not recorded).")
    if fmt is Format.json:
        emit_document(run.document())
    elif report.empty:
        return
    elif fmt is Format.table:
        out.print(dashboard(report, as_of=run.as_of.isoformat(), change=run.change))
    else:
        emit(run.rows(), fmt, columns=list(audit_api.REPORT_COLUMNS))


def dashboard(report: audit_api.AuditReport, *, as_of: str, change: float | None) -> Group:
    """The scorecard as rich renderables: overall score, one bar per part, the findings."""
    head = Text.assemble(
        ("Overall score  ", "bold"), _bar(report.score, 30), "  ",
        (_num(report.score), f"bold {_colour(report.score)}"), " / 100",
        ("" if change is None else f"   ({change:+.1f} since the last run)", "dim"))
    parts = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    parts.add_column("Part")
    parts.add_column("Weight", justify="right")
    parts.add_column("", no_wrap=True)
    parts.add_column("Score", justify="right")
    for name, part in report.parts.items():
        parts.add_row(name, f"{part.weight:g}", _bar(part.score, 24),
                      Text(_num(part.score) if part.score is not None else "n/a",
                           style=_colour(part.score)))
    counts = (f"{report.contacts:,} contacts, {report.orders:,} orders, "
              f"{report.interactions:,} interactions, as of {as_of}")
    blocks: list[Any] = [Panel(Group(head, Text(counts, style="dim"), Text(""), parts),
                               title="custdata audit", expand=False)]
    if report.findings:
        found = Table(title="What to fix", title_justify="left", header_style="bold",
                      show_lines=False)
        found.add_column("Part")
        found.add_column("Records", justify="right")
        found.add_column("Problem", overflow="fold")
        found.add_column("Show with", overflow="fold", style="cyan")
        for f in report.findings:
            found.add_row(f.part, f"{f.count:,}", escape(f.message), escape(f.command))
        blocks.append(found)
    else:
        blocks.append(Text("No failing checks.", style="green"))
    return Group(*blocks)


def history_chart(rows: list[dict[str, Any]]) -> Table:
    """The score of each run as a bar (0-100), oldest first."""
    chart = Table(title="Score per run", show_header=False, box=None, padding=(0, 1))
    for justify in ("right", "left", "left", "right"):
        chart.add_column(justify=justify, no_wrap=True)
    for r in rows:
        chart.add_row(f"#{r['run']}", str(r["at"])[:16], _bar(r["score"], 30),
                      Text(_num(r["score"]), style=_colour(r["score"])))
    return chart


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _colour(score: float | None) -> str:
    if score is None:
        return "dim"
    return "green" if score >= 90 else "yellow" if score >= 70 else "red"


def _bar(score: float | None, width: int) -> Text:
    if score is None:
        return Text("·" * width, style="dim")
    filled = round(max(0.0, min(score, 100.0)) / 100 * width)
    return Text.assemble(("█" * filled, _colour(score)), ("░" * (width - filled), "dim"))
