"""`custdata find`: parse options, call custdata.api.people, render."""

from __future__ import annotations

from typing import Annotated

import typer

from custdata.api import people
from custdata.api.session import Session
from custdata.cli._shared import FormatOpt, emit, say


def register(app: typer.Typer) -> None:
    """Add `find` to the root app."""
    app.command("find")(find)


def find(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(
        help="A name (characters or pinyin), company, part of a phone or email, or an "
             "external id.", show_default=False)],
    limit: Annotated[int, typer.Option(
        "--limit", "-n", metavar="N", help="Show at most N people, best first.")] = 50,
    fmt: FormatOpt = None,
) -> None:
    """Find people by name (王伟 or wangwei), company, part of a phone or email.

    Case and full-width letters do not matter. Best matches first: a whole name, then a
    whole email or phone, a company, then a name's start, and so on. Without the key an
    encrypted store shows masked values and finds phones and emails by what the mask shows.
    """
    session: Session = ctx.obj
    found = people.find(session, query, limit=limit)
    shown = emit(found.rows, fmt, people.FIND_COLUMNS)
    if not found.rows:
        say(f"No one matches {query[:200]!r}.")
    elif found.more:
        say(f"Showing the best {shown}; more people match (use --limit to see more).")
