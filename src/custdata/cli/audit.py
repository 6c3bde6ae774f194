"""`custdata audit`: the data-quality and security scorecard, and its history."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from custdata.audit import (
    PARTS, REPORT_COLUMNS, AuditReport, audit_report, below, change_since, check_field_weights,
    check_validity_fields, effective_weights, history_rows, report_document, report_rows,
    validity_facts,
)
from custdata.cli._shared import (
    Format, FormatOpt, emit, err, open_store, out, parse_as_of, resolve_format, say, state,
)
from custdata.config import DEFAULTS
from custdata.errors import CheckFailed, UsageError
from custdata.io import text_stdout
from custdata.models import CONTACT_FIELDS
from custdata.store import utc_now
from custdata.validate import CHECKED_FIELDS, count_invalid

HISTORY_COLUMNS = ["run", "at", "score", "change", *PARTS]
_PRIVATE_BITS = 0o077  # any access by group or others
VALIDATE_FIELDS = tuple(f for f in CHECKED_FIELDS if f != "name")  # name: only "missing"


def register(app: typer.Typer) -> None:
    """Add `audit` to the root app."""
    app.command("audit")(audit)


def audit(
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
    fmt = resolve_format(fmt)
    if (history or show_check) and fail_under is not None:
        raise UsageError("--fail-under gates an audit run; it cannot be combined with "
                         "--history or --show.")
    if history and show_check:
        raise UsageError("Give either --history or --show, not both.")
    if show_check:
        show_records(show_check.strip(), as_of=parse_as_of(as_of), fmt=fmt)
        return
    if history:
        with open_store() as store:
            rows = history_rows(store.audit.audit_runs())
        if fmt is Format.table:  # people read the trend as +2.5 / -1.0
            rows = [{**r, "change": "" if r["change"] is None else f"{r['change']:+.1f}"}
                    for r in rows]
        emit(rows, fmt, columns=HISTORY_COLUMNS, title="Audit history" if rows else None)
        if fmt is Format.table and rows:
            out.print(history_chart(rows))
        return
    day = parse_as_of(as_of)
    with open_store() as store, _busy("Auditing the store"):
        report = run_audit(store, as_of=day)
        previous = store.audit.last_audit_score()
        if not report.empty:
            store.audit.save_audit_run(at=utc_now(), score=report.score,
                                 parts={n: p.score for n, p in report.parts.items()})
    change = change_since(report.score, previous)
    show(report, fmt, as_of=day.isoformat(), previous=previous, change=change)
    if below(report.score, fail_under):
        raise CheckFailed(f"The audit score {report.score} is below --fail-under "
                          f"{fail_under:g}.")


def show_records(check: str, *, as_of: date, fmt: Format) -> None:
    """Print the records that fail one check (the same rule the score counts)."""
    with open_store() as store:
        cfg = store.config
        columns, rows = store.audit.audit_records(
            check, as_of=as_of, stale_days=int(cfg.get("audit", "stale_days")),
            retention_days=int(cfg.get("audit", "retention_days")))
        emit(rows, fmt, columns=columns)


def run_audit(store: Any, *, as_of: date) -> AuditReport:
    """Gather the facts (SQL aggregates, validity of stored values, file modes) and score."""
    cfg = store.config
    weights = effective_weights(cfg.get("audit", "weights"), DEFAULTS["audit"]["weights"][0])
    field_weights = check_field_weights(cfg.get("audit", "field_weights"), CONTACT_FIELDS)
    snapshot = store.audit.audit_snapshot(
        as_of=as_of, stale_days=int(cfg.get("audit", "stale_days")),
        retention_days=int(cfg.get("audit", "retention_days")),
        sensitive_columns=cfg.get("crypto", "columns"))
    # Encrypted values can be judged only when the protector can open them (key given).
    protector = store.protector
    readable = protector.encrypted_columns if getattr(protector, "has_key", False) else ()
    sealed = set(snapshot.sealed_columns)
    unreadable = [c for c in sealed if c not in readable]

    def values(name: str) -> Iterable[Any]:
        if name not in sealed:
            return store.audit.audit_values(name)  # stored text
        return (row[name] for row in store.contacts.iter()
                if row.get(name) is not None and str(row[name]).strip())

    fields = check_validity_fields(cfg.get("audit", "validity_fields"), VALIDATE_FIELDS)
    checked = {f: snapshot.contacts - snapshot.empty.get(f, 0) for f in fields}
    validity = validity_facts(
        values, checked=checked, unreadable=unreadable, count_invalid=count_invalid,
        region=cfg.get("general", "region"), dayfirst=cfg.get("general", "dayfirst"))
    key_file = state.resolved_key_file()
    snapshot = replace(
        snapshot, validity=validity,
        database_exposed=_exposed(Path(store.path)), database_path=str(store.path),
        key_file_exposed=_exposed(Path(key_file)) if key_file else None,
        key_file_path=str(key_file or ""),
    )
    return audit_report(snapshot, weights=weights, field_weights=field_weights)


def _busy(message: str) -> AbstractContextManager[Any]:
    """A spinner on stderr while the audit runs, when a person is watching."""
    if state.quiet or not err.is_terminal:
        return nullcontext()
    return err.status(message)


def _exposed(path: Path) -> bool | None:
    """True when group or others may access `path`; None when it cannot be checked."""
    try:
        return bool(os.stat(path).st_mode & _PRIVATE_BITS)
    except OSError:
        return None


def show(report: AuditReport, fmt: Format, *, as_of: str, previous: float | None,
         change: float | None) -> None:
    """Print the report: a dashboard (table), one JSON object, or flat csv/jsonl rows."""
    if report.empty:
        say("The store holds no contacts, orders or interactions: nothing to audit "
            "(no score; the run is not recorded).")
    if fmt is Format.json:
        doc = report_document(report, as_of=as_of, previous_score=previous, change=change)
        stream = text_stdout()
        try:
            stream.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        finally:
            stream.flush()
            stream.detach()
    elif report.empty:
        return
    elif fmt is Format.table:
        out.print(dashboard(report, as_of=as_of, change=change))
    else:
        emit(report_rows(report), fmt, columns=list(REPORT_COLUMNS))


def dashboard(report: AuditReport, *, as_of: str, change: float | None) -> Group:
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
