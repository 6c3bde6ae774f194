"""Merging duplicate contacts and undoing a merge exactly (the `merges` table).

A merge keeps, in `merges.payload`, every member's contact row exactly as stored (sealed
values and blind-index keys stay sealed: no plaintext of an encrypted column is written)
and the ids of the orders and interactions it moved. `unmerge` puts those rows back with
their ids and moves the orders and interactions back, so an export afterwards is
byte-identical to one before the merge.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
import dataclasses
from dataclasses import dataclass
from typing import Any

from custdata.errors import NotFoundError, UsageError
from custdata.models import CONTACT_FIELDS, Change
from custdata.store.component import Component
from custdata.store.extra import seal_extra

PAYLOAD_VERSION = 1
# The contacts table's match-key column of each keyed field.
KEY_COLUMNS = (("email", "email_key"), ("phone", "phone_key"), ("id_number", "id_number_key"))
_USER_FIELDS = (*CONTACT_FIELDS, "extra")

# survive(current member rows, opened) -> (survivor id, the survivor's fields after the merge)
Survivorship = Callable[[Sequence[Mapping[str, Any]]], "tuple[int, dict[str, Any]]"]


def _marks(items: Iterable[Any]) -> str:
    return ",".join("?" for _ in items)


def _columns_of_field(name: str) -> tuple[str, ...]:
    """The stored columns that move with a user field (its key, phone type, change time)."""
    extra = {"phone": ("phone_key", "phone_type"), "email": ("email_key",),
             "id_number": ("id_number_key",), "stage": ("stage_changed_at",),
             "tier": ("tier_changed_at",)}
    return (name, *extra.get(name, ()))


@dataclass
class UnmergeCounts:
    """What `unmerge` did: contacts restored, rows moved back, later changes kept."""

    merge_id: str
    survivor_id: int
    restored_contacts: int
    orders: int
    interactions: int
    kept_fields: list[str] = dataclasses.field(default_factory=list)

    def as_counts(self) -> dict[str, Any]:
        return {"merge_id": self.merge_id, "restored_contacts": self.restored_contacts,
                "orders": self.orders, "interactions": self.interactions,
                "kept_fields": self.kept_fields}


class Merges(Component):
    """Store capability: `merge_cluster` and `unmerge`, both inside `Store.write`."""

    def _stored_contacts(self, ids: list[int]) -> dict[int, dict]:
        rows = self.db.execute(
            f"SELECT * FROM contacts WHERE id IN ({_marks(ids)})", ids).fetchall()
        return {r["id"]: dict(r) for r in rows}

    def last_seq(self) -> int:
        """The sequence number of the latest merge (0 before the first)."""
        return self.db.execute("SELECT coalesce(max(rowid), 0) FROM merges").fetchone()[0]

    def merged_since(self, seq: int) -> set[int]:
        """Ids of every contact in a merge made after `seq` (see `last_seq`) and not undone."""
        ids: set[int] = set()
        for row in self.db.execute(
                "SELECT payload FROM merges WHERE rowid > ? AND undone_at IS NULL", (seq,)):
            ids.update(json.loads(row[0])["member_ids"])
        return ids

    def merge_cluster(self, op: Any, merge_id: str, member_ids: list[int],
                      survive: Survivorship) -> tuple[int, int] | None:
        """Merge `member_ids` as they are stored now; `survive` picks the survivor and its
        values from the members' current rows (opened), read inside this write.

        Runs inside `self.store.write(...)` (op is its operation). Returns (survivor id,
        contacts removed), or None when a member no longer exists (nothing is written).
        """
        ids = sorted(set(member_ids))
        stored = self._stored_contacts(ids)
        if len(stored) != len(ids):
            return None
        plain = {i: self.unseal_row("contacts", dict(row)) for i, row in stored.items()}
        survivor_id, values = survive([plain[i] for i in ids])
        others = [i for i in ids if i != survivor_id]
        moved = {}
        for table in ("orders", "interactions"):
            moved[table] = [
                {"row": r[0], "contact": r[1]} for r in self.db.execute(
                    f"SELECT id, contact_id FROM {table} WHERE contact_id IN ({_marks(others)}) "
                    "ORDER BY id", others)]
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
        payload = {
            "version": PAYLOAD_VERSION, "survivor_id": survivor_id, "member_ids": ids,
            "key_id": getattr(self.protector, "key_id", None),
            "contacts": [stored[i] for i in ids], "orders": moved["orders"],
            "interactions": moved["interactions"],
        }
        self.db.execute(
            "INSERT INTO merges (id, at, op_id, survivor_id, payload) VALUES (?, ?, ?, ?, ?)",
            (merge_id, op.at, op.id, survivor_id,
             json.dumps(payload, ensure_ascii=False, sort_keys=True)))
        return survivor_id, len(others)

    def _apply_survivor(self, op: Any, merge_id: str, survivor_id: int, ids: list[int],
                        stored: dict[int, dict], plain: dict[int, dict],
                        values: dict[str, Any]) -> list[Change]:
        seal = self.protector.seal
        current = plain[survivor_id]
        sets: dict[str, Any] = {}
        changes = []
        for field in _USER_FIELDS:
            if field not in values or values[field] == current.get(field):
                continue
            new = values[field]
            source = next((i for i in ids if plain[i].get(field) == new), survivor_id)
            if field == "extra":
                sets["extra"] = seal_extra(self.protector, survivor_id, new or "{}")
            else:
                sets[field] = seal("contacts", field, survivor_id, new)
            for kind, key_column in KEY_COLUMNS:
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
            raise NotFoundError(f"No merge has the id {merge_id!r}.", hint="merge_id")
        return dict(row)

    def of_operation(self, op_id: int) -> list[tuple[str, str | None]]:
        """(merge id, undone at) of every merge the operation `op_id` made, in the order made."""
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT id, undone_at FROM merges WHERE op_id = ? ORDER BY rowid", (op_id,))]

    def unmerge(self, op: Any, merge_id: str) -> UnmergeCounts:
        """Restore the members of one merge as they were stored before it, inside the
        write `op`; survivor fields changed after the merge keep their current values.

        Everything is read under the write lock. Raises NotFoundError for an unknown id,
        UsageError when the merge was undone, a later merge holds its contacts, the key
        state differs, or a restored id or external id is taken.
        """
        record = self.merge_record(merge_id)
        if record["undone_at"]:
            raise UsageError(f"Merge {merge_id} was already undone at {record['undone_at']}.")
        payload = json.loads(record["payload"])
        self._check_later_merges(record, set(payload["member_ids"]))
        survivor_id = payload["survivor_id"]
        if payload.get("key_id") != getattr(self.protector, "key_id", None):
            raise UsageError(f"Merge {merge_id} was stored under another encryption key or "
                             "state; decrypt or rotate back to that state to undo it.")
        others = [c for c in payload["contacts"] if c["id"] != survivor_id]
        taken = self._stored_contacts([c["id"] for c in others])
        if taken:
            raise UsageError(f"Cannot undo merge {merge_id}: contact id(s) "
                             f"{', '.join(map(str, sorted(taken)))} are in use again.")
        now = self._stored_contacts([survivor_id]).get(survivor_id)
        if now is None:
            raise UsageError(f"Cannot undo merge {merge_id}: the surviving contact "
                             f"{survivor_id} no longer exists.")
        kept = self._changed_since_merge(record, survivor_id)
        columns = set(self.db.columns_of("contacts"))
        changes: list[Change] = []
        for row in payload["contacts"]:
            row = {k: v for k, v in row.items() if k in columns}
            if row["id"] == survivor_id:
                changes += self._restore_survivor(merge_id, row, now, kept)
            else:
                changes += self._restore_member(merge_id, survivor_id, row)
        for table in ("orders", "interactions"):
            self.db.executemany(
                f"UPDATE {table} SET contact_id = ? WHERE id = ? AND contact_id = ?",
                [(m["contact"], m["row"], survivor_id) for m in payload[table]])
        self.store.history.record(op.id, changes, at=op.at)
        self.db.execute("UPDATE merges SET undone_at = ? WHERE id = ?", (op.at, merge_id))
        counts = UnmergeCounts(merge_id, survivor_id, len(others), len(payload["orders"]),
                               len(payload["interactions"]), kept)
        op.counts.update(counts.as_counts())
        return counts

    def _changed_since_merge(self, record: dict, survivor_id: int) -> list[str]:
        """The survivor's fields a later command changed (the history says), in field order.

        The history, not a copy of the merged row, decides: encrypt, decrypt and rotate-key
        re-seal values without changing them (their history rows only mark that).
        """
        changed = {r[0] for r in self.db.execute(
            "SELECT DISTINCT field FROM history WHERE contact_id = ? AND op_id > ? "
            "AND operation NOT IN ('merge', 'unmerge', 'encrypt', 'decrypt', 'rotate-key')",
            (survivor_id, record["op_id"]))}
        return [f for f in _USER_FIELDS if f in changed]

    def _restore_survivor(self, merge_id: str, row: dict, now: dict,
                          kept: list[str]) -> list[Change]:
        """Put the survivor's pre-merge row back, except the fields in `kept`."""
        skip = {c for f in kept for c in _columns_of_field(f)}
        restore = {k: v for k, v in row.items() if k != "id" and k not in skip}
        if kept:
            restore["changed_at"] = max(str(now.get("changed_at") or ""),
                                        str(row.get("changed_at") or "")) or None
        assignments = ", ".join(f"{k} = ?" for k in restore)
        self.db.execute(f"UPDATE contacts SET {assignments} WHERE id = ?",
                        [*restore.values(), row["id"]])
        before = self.unseal_row("contacts", dict(now))
        after = self.unseal_row("contacts", {**now, **restore})
        detail = {"merge_id": merge_id}
        changes = [Change(row["id"], f, before.get(f), after.get(f), "unmerge", detail)
                   for f in _USER_FIELDS if before.get(f) != after.get(f)]
        changes.append(Change(row["id"], "merged_from", merge_id, None, "unmerge", detail))
        return changes

    def _restore_member(self, merge_id: str, survivor_id: int, row: dict) -> list[Change]:
        """Insert a merged-away contact back with its id and stored values."""
        try:
            self.db.execute(f"INSERT INTO contacts ({', '.join(row)}) VALUES ({_marks(row)})",
                            list(row.values()))
        except self.db.IntegrityError as exc:
            raise UsageError(f"Cannot undo merge {merge_id}: contact {row['id']}'s external "
                             "id now belongs to another contact.") from exc
        return [Change(row["id"], "merged_into", f"{merge_id}: {survivor_id}", None, "unmerge",
                       {"merge_id": merge_id})]

    def _check_later_merges(self, record: dict, ids: set[int]) -> None:
        for r in self.db.execute(
                "SELECT id, payload FROM merges WHERE undone_at IS NULL AND rowid > ?",
                (record["seq"],)):
            later = set(json.loads(r["payload"])["member_ids"])
            if later & ids:
                raise UsageError(f"Merge {r['id']} was made later and involves the same "
                                 f"contacts; undo it first (`custdata unmerge {r['id']}`).")
