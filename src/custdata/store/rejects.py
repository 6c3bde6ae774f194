"""Rejected import rows: line, raw text (sealed when the store is encrypted) and reason."""

from __future__ import annotations

from collections.abc import Iterable

from custdata.models import Reject
from custdata.store.component import Component


class Rejects(Component):
    """The rejects table."""

    def add(self, op_id: int, kind: str, input_file: str | None,
            rejects: Iterable[Reject]) -> None:
        seal = self.protector.seal
        self.db.executemany(
            "INSERT INTO rejects (op_id, kind, input_file, line, raw, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(op_id, kind, input_file, r.line, seal("rejects", "raw", r.line, r.raw), r.reason)
             for r in rejects])
