"""team init / grant / revoke / members and copy: parse, call custdata.api.team, render."""

from __future__ import annotations

from typing import Annotated

import typer

from custdata.api import team
from custdata.cli._shared import FormatOpt, emit, say

team_app = typer.Typer(help="Roles on a team store (PostgreSQL): admin, editor, viewer.",
                       no_args_is_help=True)

RoleArg = Annotated[str, typer.Argument(help="admin, editor or viewer.")]
UserArg = Annotated[str, typer.Argument(help="The person's database login.")]


def register(app: typer.Typer) -> None:
    app.add_typer(team_app, name="team")
    team_app.command("init")(team_init)
    team_app.command("grant")(grant)
    team_app.command("revoke")(revoke)
    team_app.command("members")(members)
    app.command("copy")(copy)


def team_init(
    ctx: typer.Context,
    owners: Annotated[bool, typer.Option(
        "--owners", help="Viewers see only the contacts they own (row-level security on "
        "the owner column) and those contacts' orders and interactions.")] = False,
) -> None:
    """Create the admin, editor and viewer roles on the server and grant them this store."""
    done = team.team_init(ctx.obj, owners=owners)
    say(f"Team roles ready: {', '.join(done['roles'])}"
        + ("; viewers see only the contacts they own" if done["owners"] else ""))


def grant(ctx: typer.Context, user: UserArg, role: RoleArg) -> None:
    """Give a database login a team role (the login is created when it does not exist)."""
    name = team.grant(ctx.obj, user, role)
    say(f"{user} now has {name}")


def revoke(ctx: typer.Context, user: UserArg, role: RoleArg) -> None:
    """Take a team role away from a database login."""
    name = team.revoke(ctx.obj, user, role)
    say(f"{user} no longer has {name}")


def members(ctx: typer.Context, fmt: FormatOpt = None) -> None:
    """Every database login holding a team role."""
    emit(team.members(ctx.obj), fmt, team.MEMBER_COLUMNS)


def copy(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="The store to copy: a file or a postgresql:// URL.")],
    target: Annotated[str, typer.Argument(help="A new or empty store: a file or a URL.")],
) -> None:
    """Copy a whole store between engines (SQLite <-> PostgreSQL), checked by counts and hash."""
    done = team.copy(ctx.obj, source, target)
    counts = ", ".join(f"{table} {n}" for table, n in done.counts.items())
    say(f"Copied {done.source} to {done.target}: {counts}; content hash {done.sha256[:16]} "
        "matches")
