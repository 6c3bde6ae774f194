"""Merging duplicate contacts and undoing a merge exactly (the `merges` table).

A merge keeps, in `merges.payload`, every member's contact row exactly as stored (sealed
values and blind-index keys stay sealed: no plaintext of an encrypted column is written)
and the ids of the orders and interactions it moved. `unmerge` puts those rows back with
their ids and moves the orders and interactions back, so an export afterwards is
byte-identical to one before the merge.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable

from custdata.errors import NotFoundError, UsageError
from custdata.models import CONTACT_FIELDS, Change
from custdata.normalize.keys import KEY_KINDS
from custdata.store.component import Component

PAYLOAD_VERSION = 1


def _marks(items: Iterable[Any]) -> str:
    return ",".join("?" for _ in items)


class Merges(Component):
    """Store capability: `merge_cluster` inside a write, and `unmerge`."""

    def _stored_contacts(self, ids: list[int]) -> dict[int, dict]:
        rows = self.db.execute(
            f"SELECT * FROM contacts WHERE id IN ({_marks(ids)})", ids).fetchall()
        return {r["id"]: dict(r) for r in rows}

    def merge_cluster(self, op: Any, merge_id: str, member_ids: list[int], survivor_id: int,
                      values: dict[str, Any]) -> int:
        """Merge `member_ids` into `survivor_id`, whose fields become `values` (plain text).

        Runs inside `self.store.write(...)` (op is its operation). Returns how many contacts were
        removed; 0 if a member no longer exists (the cluster is skipped).
        """
        ids = sorted(set(member_ids))
        stored = self._stored_contacts(ids)
        if len(stored) != len(ids) or survivor_id not in stored:
            return 0
        others = [i for i in ids if i != survivor_id]
        plain = {i: self.unseal_row("contacts", dict(row)) for i, row in stored.items()}
        moved = {}
        for table in ("orders", "interactions"):
            moved[table] = [
                {"row": r[0], "contact": r[1]} for r in self.db.execute(
                    f"SELECT id, contact_id FROM {table} WHERE contact_id IN ({_marks(others)}) "
                    "ORDER BY id", others)]
        payload = {
            "version": PAYLOAD_VERSION, "survivor_id": survivor_id, "member_ids": ids,
            "key_id": getattr(self.protector, "key_id", None),
            "contacts": [stored[i] for i in ids], "orders": moved["orders"],
            "interactions": moved["interactions"],
        }
        for table in ("orders", "interactions"):
            self.db.execute(
                f"UPDATE {table} SET contact_id = ? WHERE contact_id IN ({_marks(others)})",
                [survivor_id, *others])
        self.db.execute(f"DELETE FROM contacts WHERE id IN ({_marks(others)})", others)
        changes = self._apply_survivor(op, merge_id, survivor_id, ids, stored, plain, values)
        changes.append(Change(survivor_id, "merged_from", None,
                              f"{merge_id}: {', '.join(map(str, others))}", "merge",
                              {"merge_id": merge_id}))
        changes += [Change(i, "merged_into", None, f"{merge_id}: {survivor_id}", "merge",
                           {"merge_id": merge_id}) for i in others]
        self.store.history.record(op.id, changes, at=op.at)
        self.db.execute(
            "INSERT INTO merges (id, at, op_id, survivor_id, payload) VALUES (?, ?, ?, ?, ?)",
            (merge_id, op.at, op.id, survivor_id,
             json.dumps(payload, ensure_ascii=False, sort_keys=True)))
        return len(others)

    def _apply_survivor(self, op: Any, merge_id: str, survivor_id: int, ids: list[int],
                        stored: dict[int, dict], plain: dict[int, dict],
                        values: dict[str, Any]) -> list[Change]:
        seal = self.protector.seal
        current = plain[survivor_id]
        sets: dict[str, Any] = {}
        changes = []
        for field in (*CONTACT_FIELDS, "extra"):
            if field not in values or values[field] == current.get(field):
                continue
            new = values[field]
            source = next((i for i in ids if plain[i].get(field) == new), survivor_id)
            if field == "extra":
                sets["extra"] = new if new is not None else "{}"
            else:
                sets[field] = seal("contacts", field, survivor_id, new)
            for kind, key_column in KEY_KINDS:
                if kind == field:
                    sets[key_column] = stored[source][key_column] if new is not None else None
                    if kind == "phone":
                        sets["phone_type"] = stored[source]["phone_type"] if new else None
            changes.append(Change(survivor_id, field, current.get(field), new, "merge",
                                  {"merge_id": merge_id, "from": source}))
        sets["changed_at"] = op.at
        assignments = ", ".join(f"{column} = ?" for column in sets)
        self.db.execute(f"UPDATE contacts SET {assignments} WHERE id = ?",
                          [*sets.values(), survivor_id])
        return changes

    def merge_record(self, merge_id: str) -> dict:
        row = self.db.execute("SELECT rowid AS seq, * FROM merges WHERE id = ?",
                                (merge_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"No merge has the id {merge_id!r}; `dedupe --merge` printed "
                                "the merge ids, and `custdata history CONTACT` shows them.")
        return dict(row)

    def unmerge(self, merge_id: str, *, command: str = "") -> dict:
        """Restore the members of one merge exactly as they were stored before it."""
        record = self.merge_record(merge_id)
        if record["undone_at"]:
            raise UsageError(f"Merge {merge_id} was already undone at {record['undone_at']}.")
        payload = json.loads(record["payload"])
        ids = set(payload["member_ids"])
        self._check_later_merges(record, ids)
        survivor_id = payload["survivor_id"]
        key_id = getattr(self.protector, "key_id", None)
        if payload.get("key_id") != key_id:
            raise UsageError(f"Merge {merge_id} was stored under another encryption key or "
                             "state; decrypt or rotate back to that state to undo it.")
        others = [c for c in payload["contacts"] if c["id"] != survivor_id]
        taken = self._stored_contacts([c["id"] for c in others])
        if taken:
            raise UsageError(f"Cannot undo merge {merge_id}: contact id(s) "
                             f"{', '.join(map(str, sorted(taken)))} are in use again.")
        with self.store.write(command or f"unmerge {merge_id}") as op:
            now = self._stored_contacts([survivor_id]).get(survivor_id)
            if now is None:
                raise UsageError(f"Cannot undo merge {merge_id}: the surviving contact "
                                 f"{survivor_id} no longer exists.")
            before = self.unseal_row("contacts", dict(now))
            changes = []
            columns = set(self.db.columns_of("contacts"))
            for row in payload["contacts"]:
                row = {k: v for k, v in row.items() if k in columns}
                if row["id"] == survivor_id:
                    assignments = ", ".join(f"{k} = ?" for k in row if k != "id")
                    self.db.execute(f"UPDATE contacts SET {assignments} WHERE id = ?",
                                      [v for k, v in row.items() if k != "id"] + [survivor_id])
                    restored = self.unseal_row("contacts", dict(row))
                    changes += [Change(survivor_id, f, before.get(f), restored.get(f), "unmerge",
                                       {"merge_id": merge_id})
                                for f in (*CONTACT_FIELDS, "extra")
                                if before.get(f) != restored.get(f)]
                    changes.append(Change(survivor_id, "merged_from", merge_id, None,
                                          "unmerge", {"merge_id": merge_id}))
                else:
                    try:
                        self.db.execute(
                            f"INSERT INTO contacts ({', '.join(row)}) VALUES ({_marks(row)})",
                            list(row.values()))
                    except sqlite3.IntegrityError as exc:
                        raise UsageError(
                            f"Cannot undo merge {merge_id}: contact {row['id']}'s external id "
                            "now belongs to another contact.") from exc
                    changes.append(Change(row["id"], "merged_into",
                                          f"{merge_id}: {survivor_id}", None, "unmerge",
                                          {"merge_id": merge_id}))
            for table in ("orders", "interactions"):
                self.db.executemany(
                    f"UPDATE {table} SET contact_id = ? WHERE id = ? AND contact_id = ?",
                    [(m["contact"], m["row"], survivor_id) for m in payload[table]])
            self.store.history.record(op.id, changes, at=op.at)
            self.db.execute("UPDATE merges SET undone_at = ? WHERE id = ?", (op.at, merge_id))
            op.counts.update({"merge_id": merge_id, "restored_contacts": len(others),
                              "orders": len(payload["orders"]),
                              "interactions": len(payload["interactions"])})
        return op.counts

    def _check_later_merges(self, record: dict, ids: set[int]) -> None:
        for r in self.db.execute(
                "SELECT id, payload FROM merges WHERE undone_at IS NULL AND rowid > ?",
                (record["seq"],)):
            later = set(json.loads(r["payload"])["member_ids"])
            if later & ids:
                raise UsageError(f"Merge {r['id']} was made later and involves the same "
                                 f"contacts; undo it first (`custdata unmerge {r['id']}`).")
