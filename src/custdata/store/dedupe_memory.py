"""What dedupe remembers between runs: the fitted model and the labelled pairs.

The model is JSON (made and read by the dedupe core; here it is only text) under the
`meta` key `dedupe_model`. A labelled pair is kept once, smaller contact id first; a later
decision on the same pair replaces the earlier one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from custdata.store.component import Component

MODEL_KEY = "dedupe_model"


class DedupeMemory(Component):
    """The stored dedupe model and the same/different decisions on pairs of contacts."""

    def model(self) -> dict[str, Any] | None:
        """The stored model's data (as saved), or None when none is stored or it is unreadable."""
        text = self.store.meta.get(MODEL_KEY)
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def save_model(self, op: Any, data: dict[str, Any]) -> None:
        """Keep `data` (JSON-able) as the model, replacing the one before (inside `op`)."""
        self.store.meta.set(MODEL_KEY, json.dumps(data, sort_keys=True))
        op.counts["model_rows"] = data.get("rows")

    def labels(self) -> list[tuple[int, int, bool]]:
        """Every labelled pair: (contact a, contact b, same), in the order they were stored."""
        return [(a, b, bool(same)) for a, b, same in self.db.tuples(
            "SELECT contact_a, contact_b, same FROM dedupe_labels ORDER BY at, contact_a, "
            "contact_b")]

    def save_labels(self, op: Any, labels: Iterable[tuple[int, int, bool]], source: str) -> int:
        """Store decisions (a later one on a pair replaces the earlier); returns how many."""
        rows = [(min(a, b), max(a, b), int(bool(same)), op.at, op.id, source)
                for a, b, same in labels]
        self.db.executemany(
            "INSERT INTO dedupe_labels (contact_a, contact_b, same, at, op_id, source) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(contact_a, contact_b) DO UPDATE SET "
            "same = excluded.same, at = excluded.at, op_id = excluded.op_id, "
            "source = excluded.source", rows)
        op.counts["labels"] = op.counts.get("labels", 0) + len(rows)
        return len(rows)
