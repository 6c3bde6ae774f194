"""show, history, log, backup and config show: parse, call custdata.api.records, render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from custdata.api import backups, records
from custdata.cli._shared import (
    Format, FormatOpt, emit, human, out, parse_since, resolve_format, say,
)

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("show")(show)
    app.command("history")(history)
    app.command("log")(log)
    app.command("backup")(backup)
    app.command("restore")(restore)
    app.add_typer(config_app, name="config")
    config_app.command("show")(config_show)


ContactArg = Annotated[str, typer.Argument(
    help="Contact id, external id, email or phone (prefix id:, ext:, email: or phone: to "
         "be explicit).")]


def show(ctx: typer.Context, contact: ContactArg, fmt: FormatOpt = None) -> None:
    """One customer, all of it: profile, stage, tier, RFM, orders and interactions."""
    found = records.show(ctx.obj, contact)
    fmt = resolve_format(fmt)
    if fmt is Format.table:
        _print_card(found.card, found.orders, found.interactions)
        return
    if fmt is Format.json:
        out.file.write(json.dumps(found.as_json(), ensure_ascii=False, indent=2) + "\n")
        return
    emit([found.card], fmt, list(found.card))


def _print_card(card: dict, orders: list[dict], talks: list[dict]) -> None:
    profile = Table(show_header=False, box=None, pad_edge=False)
    profile.add_column(style="bold")
    profile.add_column(overflow="fold")
    for key, value in card.items():
        if value not in (None, "", {}):
            profile.add_row(key, escape(human(value)))
    out.print(profile)
    for title, views in (("Last orders", orders), ("Last interactions", talks)):
        if not views:
            continue
        table = Table(title=title, title_justify="left", header_style="bold")
        for col in views[0]:
            table.add_column(col, overflow="fold")
        for v in views:
            table.add_row(*(escape(human(x)) for x in v.values()))
        out.print(table)


def history(ctx: typer.Context, contact: ContactArg, fmt: FormatOpt = None) -> None:
    """Every recorded change to one contact: when, by which operation, old and new value."""
    emit(records.history(ctx.obj, contact), fmt, records.HISTORY_COLUMNS)


def log(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only operations since DATE or an age like 7d.", show_default=False)] = None,
    fmt: FormatOpt = None,
) -> None:
    """The operation log: every command that changed data, who ran it, on what, with counts."""
    rows = records.log(ctx.obj, since=parse_since(since) if since else None)
    emit(rows, fmt, records.LOG_COLUMNS)


def backup(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(
        help="Backup file, or a folder (existing, or ending in /) to put a new dated one in.",
        metavar="PATH")],
    force: Annotated[bool, typer.Option(
        "--force", help="Replace PATH when it is an existing file.")] = False,
) -> None:
    """A checked, online copy of the store (0600), safe while others write.

    The store must pass SQLite's integrity check, and so must the copy before it is kept.
    """
    target = backups.backup(ctx.obj, path, force=force)
    say(f"Backed up {ctx.obj.db} to {target}")


def restore(
    ctx: typer.Context,
    backup_file: Annotated[Path, typer.Argument(
        help="A file `custdata backup` wrote.", metavar="BACKUP")],
) -> None:
    """Put a checked backup in the place of the store, atomically (the current store is
    kept aside until the restored one opens)."""
    done = backups.restore(ctx.obj, backup_file)
    say(f"Restored {ctx.obj.db} from {done.backup}"
        + ("" if done.replaced else " (there was no store before)"))


def config_show(ctx: typer.Context, fmt: FormatOpt = None) -> None:
    """Every setting with its effective value, where it came from, and what it does."""
    emit(records.config_rows(ctx.obj), fmt, records.CONFIG_COLUMNS)
