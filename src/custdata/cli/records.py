"""show, history, log, backup and config show: looking at what the store holds."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from custdata.api import segments as api_segments
from custdata.cli._shared import (
    Format, FormatOpt, emit, human, open_store, out, parse_since, resolve_contact,
    resolve_format, say, state,
)
from custdata.errors import UsageError
from custdata.models import CONTACT_FIELDS

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("show")(show)
    app.command("history")(history)
    app.command("log")(log)
    app.command("backup")(backup)
    app.add_typer(config_app, name="config")
    config_app.command("show")(config_show)


ContactArg = Annotated[str, typer.Argument(
    help="Contact id, external id, email or phone (prefix id:, ext:, email: or phone: to "
         "be explicit).")]


def show(contact: ContactArg, fmt: FormatOpt = None) -> None:
    """One customer, all of it: profile, stage, tier, RFM, orders and interactions."""
    with open_store() as store:
        cid = resolve_contact(store, contact)
        profile = store.contacts.get(cid) or {}
        totals = store.linked.order_totals(cid)
        orders = store.linked.orders_of(cid, limit=10)
        talks = store.linked.interactions_of(cid, limit=10)
        rfm = _rfm(store, cid)
    card = _card(profile, totals, rfm)
    fmt = resolve_format(fmt)
    if fmt is Format.table:
        _print_card(card, orders, talks)
        return
    if fmt is Format.json:
        doc = {**card, "recent_orders": [_order_view(o) for o in orders],
               "recent_interactions": [_talk_view(t) for t in talks]}
        out.file.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
        return
    emit([card], fmt, list(card))


def _rfm(store: Any, contact_id: int) -> dict:
    """The RFM cell as of the last `tag` (like stage and tier); before any `tag`, today's."""
    stored = store.segments.stored_rfm(contact_id)
    if stored is not None:
        return stored
    today = date.today()
    live = api_segments.rfm_of_contact(store, store.config, contact_id, today)
    return {**(live or {}), "as_of": today.isoformat()}


def _card(profile: dict, totals: dict, rfm: dict) -> dict[str, Any]:
    card: dict[str, Any] = {"id": profile["id"]}
    card.update({f: profile.get(f) for f in CONTACT_FIELDS})
    card["extra"] = json.loads(profile.get("extra") or "{}")
    card["orders"] = totals["orders"] or 0
    card["paid_orders"] = totals["paid_orders"] or 0
    card["net_amount"] = float(totals["net_amount"] or 0)
    card["first_order"] = totals["first_order"]
    card["last_order"] = totals["last_order"]
    card["rfm_cell"] = rfm.get("cell")
    card["rfm_segment"] = rfm.get("segment")
    card["rfm_as_of"] = rfm["as_of"]
    return card


def _order_view(o: dict) -> dict:
    """An order as read, with its status as custdata understands it (blank means paid)."""
    view = {k: o.get(k) for k in ("order_id", "order_date", "amount", "currency", "product",
                                  "category")}
    view["status"] = o.get("status_norm") or o.get("status")
    return view


def _talk_view(t: dict) -> dict:
    return {k: t.get(k) for k in ("at", "channel", "direction", "outcome", "satisfaction", "note")}


def _print_card(card: dict, orders: list[dict], talks: list[dict]) -> None:
    profile = Table(show_header=False, box=None, pad_edge=False)
    profile.add_column(style="bold")
    profile.add_column(overflow="fold")
    for key, value in card.items():
        if value not in (None, "", {}):
            profile.add_row(key, escape(human(value)))
    out.print(profile)
    for title, rows, view in (("Last orders", orders, _order_view),
                              ("Last interactions", talks, _talk_view)):
        if not rows:
            continue
        views = [view(r) for r in rows]
        table = Table(title=title, title_justify="left", header_style="bold")
        for col in views[0]:
            table.add_column(col, overflow="fold")
        for v in views:
            table.add_row(*(escape(human(x)) for x in v.values()))
        out.print(table)


def history(contact: ContactArg, fmt: FormatOpt = None) -> None:
    """Every recorded change to one contact: when, by which operation, old and new value."""
    with open_store() as store:
        cid = resolve_contact(store, contact)
        rows = store.history.of(cid)
    emit(rows, fmt, ["at", "operation", "field", "old", "new", "detail", "user", "op_id"])


def log(
    since: Annotated[str | None, typer.Option(
        "--since", help="Only operations since DATE or an age like 7d.", show_default=False)] = None,
    fmt: FormatOpt = None,
) -> None:
    """The operation log: every command that changed data, who ran it, on what, with counts."""
    with open_store() as store:
        rows = store.oplog.entries(parse_since(since) if since else None)
    emit(rows, fmt, ["id", "at", "user", "command", "input_file", "input_sha256", "counts"])


def backup(
    path: Annotated[Path, typer.Argument(help="Backup file, or a folder to put a dated one in.")],
) -> None:
    """An online, consistent copy of the store (SQLite backup API), safe while others write."""
    target = path
    if path.is_dir():
        from datetime import datetime

        target = path / f"{state.db.stem}-{datetime.now():%Y%m%d-%H%M%S}.db"
    if target.resolve() == state.db.resolve():
        raise UsageError("The backup path is the store itself; choose another file.")
    if not target.parent.exists():
        raise UsageError(f"The folder {target.parent} does not exist.")
    with open_store() as store:
        store.backup(target)
    say(f"Backed up {state.db} to {target}")


def config_show(fmt: FormatOpt = None) -> None:
    """Every setting with its effective value, where it came from, and what it does."""
    rows = state.config.rows()
    emit(rows, fmt, ["section", "key", "value", "origin", "description"])
