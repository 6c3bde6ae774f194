"""team init / grant / revoke / members, and copy: the team store's own commands.

    from custdata.api import Session, team
    team.team_init(Session(db="postgresql://admin@db.example/crm"), owners=True)
    team.copy(Session(), "crm.db", "postgresql://admin@db.example/crm")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custdata.api.session import Session
from custdata.errors import UsageError
from custdata.store import open_store
from custdata.store.copying import copy_store
from custdata.store.location import is_server_url, store_location

MEMBER_COLUMNS = ["user", "role"]


def team_init(session: Session, *, owners: bool = False) -> dict[str, Any]:
    """Create the admin/editor/viewer roles on the server and grant them this store;
    owners: viewers see only the contacts they own. Returns {"roles", "owners"}."""
    with session.store() as store, store.write(session.command_line, role="admin"):
        return store.team.setup(owners=owners)


def grant(session: Session, user: str, role: str) -> str:
    """Give the login `user` the team role `role`; returns the server's role name."""
    with session.store() as store, store.write(session.command_line, role="admin"):
        return store.team.grant(user, role)


def revoke(session: Session, user: str, role: str) -> str:
    """Take the team role `role` from `user`; returns the server's role name."""
    with session.store() as store, store.write(session.command_line, role="admin"):
        return store.team.revoke(user, role)


def members(session: Session) -> list[dict[str, str]]:
    """Every login holding a team role (MEMBER_COLUMNS)."""
    with session.store(read_only=True) as store:
        return store.team.members()


@dataclass(frozen=True)
class CopyResult:
    """A finished copy: the two stores, rows per table, and the content hash they share."""

    source: str
    target: str
    counts: dict[str, int]
    sha256: str


def copy(session: Session, source: str | Path, target: str | Path) -> CopyResult:
    """Copy the whole store `source` into the new or empty store `target` (SQLite file or
    PostgreSQL URL, either way) in one transaction on the target; counts and a content
    hash are compared before it commits. Sealed values travel sealed: no key is needed."""
    src, dst = store_location(source), store_location(target)
    if str(src) == str(dst) or (isinstance(src, Path) and isinstance(dst, Path)
                                and src.resolve() == dst.resolve()):
        raise UsageError("The source and the target are the same store; name another target.")
    with open_store(src, wait=session.wait, create=False, read_only=True) as inp, \
            open_store(dst, wait=session.wait) as out:
        done = copy_store(inp.db, out.db)
    shown = [str(store_location(p)) if is_server_url(p) else str(p) for p in (src, dst)]
    return CopyResult(shown[0], shown[1], done.counts, done.sha256)
