"""The team store's roles on the server: admin, editor, viewer (PostgreSQL only).

`team init` makes three group roles and grants them the store's tables: a viewer reads
(and saves audit runs), an editor also writes, an admin is an editor who may also run
forget, encrypt, decrypt and rotate-key (checked before such a write: the server cannot
tell an erasure from an edit). With `owners`, row-level security lets a viewer see only
the contacts whose `owner` is their login, and only those contacts' rows in every other
table (orders, interactions, history, merges, the find index, ...: OWNED), in every command. A write by a login without the role it needs is exit 3,
naming the role.
"""

from __future__ import annotations

import json
from typing import Any

from custdata.errors import StoreError, UsageError
from custdata.store.component import Component

ROLES = ("admin", "editor", "viewer")
_READ_TABLES = ("contacts", "orders", "interactions", "history", "oplog", "merges",
                "rejects", "audit_runs", "meta", "rfm_cells", "dedupe_labels", "order_lines",
                "suppressed", "find_index", "find_dirty", "custdata_schema")
# With `team init --owners`: what a viewer sees of each table that tells something of a
# contact (an editor sees every row). Subqueries on contacts/orders/oplog are themselves
# filtered, so a viewer sees only their own customers' rows; the operation log (whose
# command lines can name people) only the operations they ran themselves, and the rejects
# of those.
_MINE = "IN (SELECT id FROM contacts)"
OWNED = {
    "contacts": "owner = session_user",
    "orders": f"contact_id {_MINE}",
    "interactions": f"contact_id {_MINE}",
    "history": f"contact_id {_MINE}",
    "merges": f"survivor_id {_MINE}",
    "rfm_cells": f"contact_id {_MINE}",
    "find_index": f"contact_id {_MINE}",
    "find_dirty": f"contact_id {_MINE}",
    "dedupe_labels": f"contact_a {_MINE} AND contact_b {_MINE}",
    "order_lines": "order_pk IN (SELECT id FROM orders)",
    "oplog": '"user" = session_user',
    "rejects": "op_id IN (SELECT id FROM oplog)",
}


def owned_policies(editor: str, viewer: str) -> str:
    """The row-level-security script of `team init --owners` (re-runnable)."""
    lines = []
    for table, mine in OWNED.items():
        lines += [f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;",
                  f"DROP POLICY IF EXISTS custdata_all ON {table};",
                  f"DROP POLICY IF EXISTS custdata_own ON {table};",
                  f"CREATE POLICY custdata_all ON {table} TO {editor} USING (true) "
                  "WITH CHECK (true);",
                  f"CREATE POLICY custdata_own ON {table} FOR SELECT TO {viewer} USING ({mine});"]
    return "\n".join(lines)


class PermissionDenied(StoreError):
    """This login lacks the team role a command needs (exit 3)."""


def role_name(role: str) -> str:
    """The server's group role of a custdata role ("editor" -> custdata_editor)."""
    if role not in ROLES:
        raise UsageError(f"{role!r} is not a team role; choose admin, editor or viewer.")
    return f"custdata_{role}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Team(Component):
    """Make the roles, grant and revoke them, and check one before a write."""

    def _server(self) -> Any:
        if self.db.dialect != "postgres":
            raise UsageError("Team roles live on a PostgreSQL server; this store is an SQLite "
                             "file (its file permissions decide who may use it).", hint="db")
        return self.db

    def setup(self, *, owners: bool) -> dict[str, Any]:
        """Create the roles (if missing) and grant them this store; {"roles", "owners"}."""
        db = self._server()
        names = {r: role_name(r) for r in ROLES}
        for name in names.values():
            db.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
                       f"'{name}') THEN CREATE ROLE {name} NOLOGIN; END IF; END $$")
        db.execute(f"GRANT {names['viewer']} TO {names['editor']}")
        # an admin hands out the viewer and editor roles (ADMIN OPTION, held through the
        # admin group); the admin role itself comes WITH ADMIN OPTION to each admin (grant)
        db.execute(f"GRANT {names['editor']} TO {names['admin']} WITH ADMIN OPTION")
        db.execute(f"GRANT {names['viewer']} TO {names['admin']} WITH ADMIN OPTION")
        database = db.execute("SELECT current_database()").fetchone()[0]
        db.execute(f"GRANT CONNECT, TEMPORARY ON DATABASE {_ident(database)} TO {names['viewer']}")
        db.execute(f"GRANT USAGE ON SCHEMA {_ident(db.schema())} TO {names['viewer']}")
        db.execute(f"GRANT SELECT ON {', '.join(_READ_TABLES)} TO {names['viewer']}")
        db.execute(f"GRANT INSERT ON audit_runs TO {names['viewer']}")
        db.execute(f"GRANT USAGE ON SEQUENCE audit_runs_id_seq TO {names['viewer']}")
        db.execute(f"GRANT INSERT, UPDATE, DELETE ON {', '.join(_READ_TABLES[:-1])} "
                   f"TO {names['editor']}")
        db.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {_ident(db.schema())} "
                   f"TO {names['editor']}")
        if owners:
            db.execute_script(owned_policies(names["editor"], names["viewer"]))
        self.store.meta.set("team", json.dumps({"roles": list(ROLES), "owners": owners}))
        return {"roles": [names[r] for r in ROLES], "owners": owners}

    def grant(self, user: str, role: str) -> str:
        """Make `user` (a server login, created when missing) a member of `role`.

        An admin gets the admin role WITH ADMIN OPTION and, when this login may give it,
        the server's CREATEROLE attribute: what `team grant` needs to make new logins.
        Creating a login without CREATEROLE is StoreError (exit 3) naming what is missing.
        """
        db = self._server()
        name = role_name(role)
        if not db.execute("SELECT 1 FROM pg_roles WHERE rolname = ?", (name,)).fetchone():
            raise UsageError("This server has no team roles yet; run `custdata team init` "
                             "first.")
        may_create = bool(db.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles "
                                     "WHERE rolname = current_user").fetchone()[0])
        if not db.execute("SELECT 1 FROM pg_roles WHERE rolname = ?", (user,)).fetchone():
            if not may_create:
                raise StoreError(
                    f"Making the new login {user!r} needs the server's CREATEROLE attribute, "
                    f"which {db.login} lacks. Ask the server's superuser to run "
                    f"`ALTER ROLE {_ident(db.login or '')} CREATEROLE` (or to create the "
                    "login), then grant again.")
            db.execute(f"CREATE ROLE {_ident(user)} LOGIN")
        admin = " WITH ADMIN OPTION" if role == "admin" else ""
        db.execute(f"GRANT {name} TO {_ident(user)}{admin}")
        if role == "admin" and may_create:
            db.execute("SAVEPOINT custdata_createrole")
            try:  # a newer server may refuse it to a non-superuser: the grant stands
                db.execute(f"ALTER ROLE {_ident(user)} CREATEROLE")
            except Exception:  # noqa: BLE001 - the attribute is a convenience, said at use
                db.execute("ROLLBACK TO SAVEPOINT custdata_createrole")
        return name

    def revoke(self, user: str, role: str) -> str:
        """Take `role` away from `user` (the login itself stays)."""
        db = self._server()
        name = role_name(role)
        if not db.execute("SELECT 1 FROM pg_roles WHERE rolname = ?", (user,)).fetchone():
            raise UsageError(f"There is no login {user!r} on this server.")
        db.execute(f"REVOKE {name} FROM {_ident(user)}")
        return name

    def members(self) -> list[dict[str, str]]:
        """Every login with a team role: {"user", "role"}, by user."""
        if self.db.dialect != "postgres":
            return []
        return self.db.rows(
            "SELECT m.rolname AS user, substr(g.rolname, 10) AS role FROM pg_auth_members a "
            "JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member "
            "WHERE g.rolname IN ('custdata_admin', 'custdata_editor', 'custdata_viewer') "
            "AND m.rolcanlogin ORDER BY 1, 2")

    def require(self, role: str, command: str) -> None:
        """PermissionDenied unless this login may run a `role` command (no team: anyone)."""
        if self.db.dialect != "postgres" or self.store.meta.get("team") is None:
            return
        ok = self.db.execute(
            "SELECT r.rolsuper OR pg_has_role(session_user, ?, 'MEMBER') OR "
            "pg_has_role(session_user, (SELECT tableowner FROM pg_tables WHERE tablename = "
            "'contacts' AND schemaname = current_schema()), 'MEMBER') "
            "FROM pg_roles r WHERE r.rolname = session_user", (role_name(role),)).fetchone()
        if not (ok and ok[0]):
            raise PermissionDenied(f"{command} needs the {role} role on this team store; "
                                   f"{self.db.login} does not have it. Ask a custdata admin "
                                   f"(custdata team grant {self.db.login} {role}).")
