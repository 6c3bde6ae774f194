"""Store reads for `report html` that no other command needs: the last tag run's stage
moves and the merges made by `dedupe --merge`.

`Reporting` is the store's component for them (`store.reporting`).
"""

from __future__ import annotations

import json
from typing import Any

from custdata.store.component import Component


def last_stage_moves(store: Any) -> dict[str, Any]:
    """{"op_id", "at", "as_of", "moves": [(old, new, count), ...]} of the last `tag` run
    that changed a stage ("" for a stage that was empty), or {} when none did.

    Reads the run's history rows only: history ids grow with operation ids, so the first
    row of the run is found by a binary search on the rowid instead of a full scan.
    """
    conn = store.db
    row = conn.execute(
        "SELECT id, at FROM oplog "
        "WHERE CAST(json_extract(counts, '$.stage_changes') AS INTEGER) > 0 "
        "ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return {}
    op_id, at = int(row[0]), row[1]
    start = _first_history_id(conn, op_id)
    if start is None:
        return {}
    moves = conn.execute(
        "SELECT COALESCE(old, ''), COALESCE(new, ''), count(*), max(detail) FROM history "
        "WHERE id >= ? AND op_id = ? AND field = 'stage' AND operation = 'tag' "
        "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2", (start, op_id)).fetchall()
    as_of = None
    for m in moves:
        as_of = as_of or _detail_as_of(m[3])
    return {"op_id": op_id, "at": at, "as_of": as_of,
            "moves": [(m[0], m[1], int(m[2])) for m in moves]}


def _first_history_id(conn: Any, op_id: int) -> int | None:
    """The smallest history id whose op_id is >= `op_id` (None when there is none)."""
    bounds = conn.execute("SELECT min(id), max(id) FROM history").fetchone()
    if bounds is None or bounds[0] is None:
        return None
    lo, hi = int(bounds[0]), int(bounds[1]) + 1
    probe = "SELECT id, COALESCE(op_id, 0) FROM history WHERE id >= ? ORDER BY id LIMIT 1"
    while lo < hi:
        mid = (lo + hi) // 2
        found = conn.execute(probe, (mid,)).fetchone()
        if found is None or found[1] >= op_id:
            hi = mid
        else:
            lo = min(int(found[0]) + 1, hi)
    return lo


def _detail_as_of(detail: str | None) -> str | None:
    try:
        value = json.loads(detail) if detail else None
    except ValueError:
        return None
    return value.get("as_of") if isinstance(value, dict) else None


def merge_summary(store: Any) -> dict[str, Any]:
    """merges in force, contacts they removed, merges undone, and the last merge time."""
    row = store.db.execute(
        "SELECT count(*) FILTER (WHERE undone_at IS NULL), "
        "total(CASE WHEN undone_at IS NULL "
        "      THEN json_array_length(payload, '$.member_ids') - 1 END), "
        "count(undone_at), max(at) FROM merges").fetchone()
    return {"merges": int(row[0] or 0), "merged_contacts": int(row[1] or 0),
            "undone": int(row[2] or 0), "last_merge_at": row[3]}


class Reporting(Component):
    """What the manager's page reads beyond the reports: stage moves and merges."""

    def last_stage_moves(self) -> dict[str, Any]:
        return last_stage_moves(self.store)

    def merge_summary(self) -> dict[str, Any]:
        return merge_summary(self.store)
