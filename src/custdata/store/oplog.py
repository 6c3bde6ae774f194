"""The operation log: one row per command that changed data, written inside its transaction."""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from custdata.store.component import Component

_committed: list[int] = []  # operation ids committed by this process, in order


def committed_operations() -> list[int]:
    """Ids of the operations this process has committed (an interrupt after one of them
    must not claim the store was left as it was)."""
    return list(_committed)


def utc_now() -> str:
    """The current time as custdata stores it: ISO 8601 UTC, seconds, with a Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


@dataclass
class Operation:
    """The operation-log row of a write in progress; commands fill `counts`."""

    id: int
    at: str
    counts: dict[str, Any] = field(default_factory=dict)
    input_file: str | None = None
    sha256: str | None = None


class OpLog(Component):
    """Start, finish and list the logged operations."""

    def start(self, command: str, *, input_file: str | None, sha256: str | None) -> Operation:
        op = Operation(0, utc_now(), input_file=input_file, sha256=sha256)
        op.id = self.db.insert(
            "INSERT INTO oplog (at, user, command, input_file, input_sha256) "
            "VALUES (?, ?, ?, ?, ?)", (op.at, self.db.login or os_user(), command, input_file,
                                       sha256))
        return op

    def finish(self, op: Operation) -> None:
        self.db.execute(
            "UPDATE oplog SET counts = ?, input_file = ?, input_sha256 = ? WHERE id = ?",
            (json.dumps(op.counts, ensure_ascii=False, sort_keys=True), op.input_file,
             op.sha256, op.id))

    @staticmethod
    def committed(op: Operation) -> None:
        _committed.append(op.id)

    def last_id(self, *, besides: Operation | None = None) -> int:
        """The id of the latest logged operation (0 before the first), leaving out
        `besides` (the write in progress): read before planning and again under the
        lock, a different value means another command committed in between."""
        row = self.db.execute("SELECT coalesce(max(id), 0) FROM oplog WHERE id <> ?",
                              (besides.id if besides else 0,)).fetchone()
        return int(row[0])

    def entries(self, since: str | None = None) -> list[dict]:
        """Every logged operation (since a UTC timestamp), oldest first, counts as a dict."""
        sql = "SELECT id, at, user, command, input_file, input_sha256, counts FROM oplog"
        args: tuple = ()
        if since:
            sql += " WHERE at >= ?"
            args = (since,)
        rows = []
        for r in self.db.execute(sql + " ORDER BY id", args):
            d = dict(r)
            d["counts"] = json.loads(d["counts"] or "{}")
            rows.append(d)
        return rows

    def commands(self) -> list[tuple[int, str]]:
        return [(r[0], r[1] or "") for r in self.db.execute("SELECT id, command FROM oplog")]

    def set_command(self, op_id: int, command: str) -> None:
        self.db.execute("UPDATE oplog SET command = ? WHERE id = ?", (command, op_id))
