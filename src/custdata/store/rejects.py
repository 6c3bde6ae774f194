"""Rejected import rows: line, raw text (sealed when the store is encrypted) and reason."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from custdata.models import Reject
from custdata.store.component import Component

REJECT_COLUMNS = ("id", "op_id", "kind", "input_file", "line", "reason", "raw")


class Rejects(Component):
    """The rejects table: `add` (once per file, line and text), `rows`, `operations`."""

    def add(self, op_id: int, kind: str, input_file: str | None,
            rejects: Iterable[Reject]) -> int:
        """Keep `rejects`, less those already kept from the same file (kind, file name,
        line, reason and raw text alike): a file imported twice keeps its rejects once.
        Returns how many were added."""
        rejects = list(rejects)
        known = self._known(kind, input_file, [r.line for r in rejects])
        fresh = [r for r in rejects if (r.line, r.reason, r.raw) not in known]
        seal = self.protector.seal
        self.db.executemany(
            "INSERT INTO rejects (op_id, kind, input_file, line, raw, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(op_id, kind, input_file, r.line, seal("rejects", "raw", r.line, r.raw), r.reason)
             for r in fresh])
        return len(fresh)

    def _known(self, kind: str, input_file: str | None, lines: list[int]
               ) -> set[tuple[int, str, str]]:
        """(line, reason, raw text opened) of the stored rejects of this file at `lines`."""
        unseal = self.protector.unseal
        found = set()
        lines = sorted(set(lines))
        for i in range(0, len(lines), 500):
            part = lines[i:i + 500]
            for row in self.db.execute(
                    "SELECT line, reason, raw FROM rejects WHERE input_file IS ? AND kind = ? "
                    f"AND line IN ({','.join('?' * len(part))})", (input_file, kind, *part)):
                found.add((row["line"], row["reason"],
                           unseal("rejects", "raw", row["line"], row["raw"])))
        return found

    def rows(self, op_id: int | None = None) -> Iterator[dict]:
        """The stored rejects (of one import operation, or all), in the order kept, raw
        text opened (masked without the key)."""
        where, params = ("WHERE op_id = ?", (op_id,)) if op_id is not None else ("", ())
        unseal = self.protector.unseal
        cursor = self.db.execute(
            f"SELECT {', '.join(REJECT_COLUMNS)} FROM rejects {where} ORDER BY id", params)
        for row in cursor:
            out = dict(row)
            out["raw"] = unseal("rejects", "raw", out["line"], out["raw"])
            yield out

    def operation_exists(self, op_id: int) -> bool:
        """Whether the operation log has an entry `op_id`."""
        return self.db.execute("SELECT 1 FROM oplog WHERE id = ?", (op_id,)).fetchone() \
            is not None
