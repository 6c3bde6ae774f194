"""init, import and export: parse the options, call custdata.api.data, print the result."""

from __future__ import annotations

import sys
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from custdata.api import data, rejects
from custdata.api.session import Session, no_progress
from custdata.cli._shared import Format, emit, emit_pages, err, parse_since, resolve_format, say
from custdata.errors import UsageError

import_app = typer.Typer(help="Import contacts, orders or interactions from CSV or .xlsx "
                         "(FILE or - for stdin).",
                         no_args_is_help=True)
export_app = typer.Typer(help="Export contacts, orders, interactions or rejects (streams; any size).",
                         no_args_is_help=True)

KINDS = data.KINDS


class OnConflict(str, Enum):
    update = "update"
    skip = "skip"
    fail = "fail"


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
    for kind in KINDS:
        import_app.command(kind, help=f"Import {kind} from a CSV or .xlsx FILE (- for stdin).")(
            _import_command(kind))
        export_app.command(kind, help=f"Export {kind}.")(_export_command(kind))
    export_app.command("rejects", help="Export the rows imports rejected.")(export_rejects)


# ---- init --------------------------------------------------------------------------

def init(
    ctx: typer.Context,
    region: Annotated[str, typer.Option("--region", help="Default phone region written to "
                                        "the config (ISO 3166-1 alpha-2).")] = "CN",
) -> None:
    """Create the store and a commented custdata.toml beside it (never overwritten)."""
    done = data.init(ctx.obj, region=region)
    say(f"{'Created store' if done.created else 'Store already exists'}: {done.store}")
    if done.config_written:
        say(f"Wrote config: {done.config} (default phone region {region.upper()})")
    else:
        say(f"Config already exists (left as it is): {done.config}")


# ---- import ------------------------------------------------------------------------

def _import_command(kind: str) -> Any:
    def command(
        ctx: typer.Context,
        file: Annotated[str, typer.Argument(help="CSV or .xlsx file, or - for stdin.")],
        map_: Annotated[list[str] | None, typer.Option(
            "--map", help="SRC=FIELD: read column SRC as FIELD (repeatable).")] = None,
        encoding: Annotated[str, typer.Option(
            "--encoding", help="auto, or a codec such as utf-8, gb18030, utf-16.")] = "auto",
        delimiter: Annotated[str, typer.Option(
            "--delimiter", help="auto, or one of , ; tab |.")] = "auto",
        region: Annotated[str | None, typer.Option(
            "--region", help="Phone region for numbers without +country (default: config).",
            show_default=False)] = None,
        source: Annotated[str | None, typer.Option(
            "--source", help="Set `source` on imported contacts that have none.",
            show_default=False)] = None,
        on_conflict: Annotated[OnConflict, typer.Option(
            "--on-conflict", help="What to do with a row that matches a stored record: "
            "update it, skip it, or fail the import.")] = OnConflict.update,
        clean: Annotated[bool, typer.Option(
            "--clean", help="Run `clean` on the imported contacts in the same transaction.")] = False,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="Count what would happen; write nothing.")] = False,
        rejects: Annotated[Path | None, typer.Option(
            "--rejects", help="Also write rejected rows (line, reason, raw) to this CSV.",
            show_default=False)] = None,
        strict: Annotated[bool, typer.Option(
            "--strict", help="Any rejected row fails the whole import (exit 1, nothing written).")] = False,
        decimal: Annotated[str, typer.Option(
            "--decimal", help="Decimal separator of amounts: auto (decided per column from "
            "all its values), ',' or '.'.")] = "auto",
        header_row: Annotated[int | None, typer.Option(
            "--header-row", min=1, help="Row number of the header (from 1, as Excel numbers "
            "rows); default: the first row naming known fields.", show_default=False)] = None,
        sheet: Annotated[str | None, typer.Option(
            "--sheet", help="Sheet of an .xlsx workbook (default: the first).",
            show_default=False)] = None,
    ) -> None:
        session: Session = ctx.obj
        try:
            counts = data.import_records(
                session, kind, file, mapping=_parse_map(map_ or []), encoding=encoding,
                delimiter=delimiter, decimal=decimal, header_row=header_row, sheet=sheet,
                region=region, source=source,
                on_conflict=on_conflict.value, clean=clean, dry_run=dry_run, rejects=rejects,
                strict=strict)
        except data.StrictRejects as exc:
            _summary(exc.counts.summary())
            raise
        # The summary line is the contract's, printed even with --quiet: scripts parse it.
        _summary(("dry run: " if dry_run else "") + counts.summary()
                 + counts.encoding_note("pass --encoding NAME if the text looks wrong"))

    command.__doc__ = f"Import {kind} from a CSV or .xlsx FILE (- for stdin)."
    return command


def _parse_map(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        src, sep, fld = item.partition("=")
        if not sep or not src.strip() or not fld.strip():
            raise UsageError(f"--map {item!r} should look like SRC=FIELD, e.g. --map 手机=phone.")
        mapping[src.strip()] = fld.strip().lower()
    return mapping


def _summary(line: str) -> None:
    err.print(line, markup=False, highlight=False, soft_wrap=True)


# ---- export ------------------------------------------------------------------------

def _export_command(kind: str) -> Any:
    def command(
        ctx: typer.Context,
        where: Annotated[list[str] | None, typer.Option(
            "--where", help="FIELD=VALUE: only records whose FIELD equals VALUE (repeatable; "
            "email, phone and id_number match in any spelling).")] = None,
        changed_since: Annotated[str | None, typer.Option(
            "--changed-since", help="Contacts changed since DATE or an age like 7d.",
            show_default=False)] = None,
        mask: Annotated[bool, typer.Option(
            "--mask", help="Mask the sensitive columns (138****8000), encrypted or not; "
            "no key needed.")] = False,
        raw: Annotated[bool, typer.Option(
            "--raw", help="Do not neutralise CSV cells that start with = + - @ tab or CR.")] = False,
        columns: Annotated[str | None, typer.Option(
            "--columns", metavar="A,B", help="Only these columns, in this order (a table at "
            "a terminal shows a short set by default).", show_default=False)] = None,
        sort: Annotated[str | None, typer.Option(
            "--sort", metavar="FIELD[:desc]", help="Sort by FIELD (empty values last), "
            "FIELD:desc for the largest first; default: by id.", show_default=False)] = None,
        limit: Annotated[int | None, typer.Option(
            "--limit", metavar="N", help="At most N records.", show_default=False)] = None,
        fmt: Annotated[ExportFormat | None, typer.Option(
            "--format", "-f", case_sensitive=False, help="table, csv, json, jsonl or xlsx "
            "(a workbook on stdout: redirect it to a file; default: table on a terminal, "
            "csv in a pipe).")] = None,
    ) -> None:
        session: Session = ctx.obj
        if _stdout_is_terminal():  # rows (or the table's pages) stream to that terminal
            session = replace(session, progress=no_progress)
        if fmt is ExportFormat.xlsx and _stdout_is_terminal():
            raise UsageError("--format xlsx writes a workbook: redirect it to a file "
                             f"(custdata export {kind} -f xlsx > {kind}.xlsx).")
        table = fmt is ExportFormat.table or (fmt is None and resolve_format(None) is Format.table)
        chosen = columns or (",".join(data.TABLE_DEFAULT[kind])
                             if table and kind in data.TABLE_DEFAULT else None)
        rows = data.export_rows(session, kind, where=_parse_where(where or []), mask=mask,
                                changed_since=parse_since(changed_since) if changed_since
                                else None, columns=chosen, sort=sort, limit=limit)
        shown = [c.strip().lower() for c in chosen.split(",")] if chosen else \
            data.EXPORT_COLUMNS[kind]
        if fmt is ExportFormat.xlsx:
            data.write_workbook(kind, rows)
        elif table:
            _export_table(kind, rows, list(dict.fromkeys(c for c in shown if c)),
                          chosen_by_user=columns is not None)
        else:
            emit(rows, Format(fmt.value) if fmt else None, shown, neutral=not raw)

    command.__doc__ = f"Export {kind} (id first, then the fields, then extra)."
    return command


TABLE_TIP_ROWS = 1000  # past this many rows, a table suggests csv


def _export_table(kind: str, rows: Any, columns: list[str], *, chosen_by_user: bool) -> None:
    """Records as a table, page by page as they are read; a tip when it was long or when
    columns were left out."""
    dropped: list[str] = []
    count = emit_pages(rows, columns, dropped=dropped)
    if dropped:
        say(f"Left out {', '.join(dropped)} (the terminal is too narrow); choose columns "
            "with --columns A,B, or use --format csv for every column.")
    elif not chosen_by_user and kind in data.TABLE_DEFAULT:
        say(f"Showing the columns {', '.join(columns)}; choose others with --columns A,B, or "
            "use --format csv for every column.")
    if count > TABLE_TIP_ROWS:
        say(f"{count:,} records: --format csv (or --limit N, --where FIELD=VALUE) reads "
            "better past a screenful.")


def export_rejects(
    ctx: typer.Context,
    operation: Annotated[int | None, typer.Option(
        "--operation", help="Only the rejects of this import (its id in `custdata log`).",
        show_default=False)] = None,
    raw: Annotated[bool, typer.Option(
        "--raw", help="Do not neutralise CSV cells that start with = + - @ tab or CR.")] = False,
    fmt: Annotated[Format | None, typer.Option(
        "--format", "-f", case_sensitive=False,
        help="table, csv, json or jsonl (default: table on a terminal, csv in a pipe).")] = None,
) -> None:
    """Export the rejected import rows kept in the store: operation, file, line, reason,
    raw text (each file's rejects once, however often it was imported)."""
    session: Session = ctx.obj
    rows = rejects.export_rejects(session, operation=operation)
    emit(rows, fmt, rejects.REJECT_COLUMNS, neutral=not raw)


class ExportFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    xlsx = "xlsx"


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _parse_where(items: list[str]) -> dict[str, str]:
    where = {}
    for item in items:
        fld, sep, value = item.partition("=")
        if not sep or not fld.strip():
            raise UsageError(f"--where {item!r}: use FIELD=VALUE, e.g. --where city=上海.")
        where[fld.strip().lower()] = value
    return where
