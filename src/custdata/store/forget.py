"""`forget`: erasing one person's personal data everywhere, and the log redaction it needs.

The contact's personal fields, history, interaction notes and order references are
cleared; so is the history of every record merged into it; rejected rows that hold the
person and merge records that keep any of these records are deleted; logged command
lines that name the person's values are redacted. Recognising the person in free text
is the caller's (a `found_in` function): this module only knows where data lives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from custdata.errors import UsageError
from custdata.models import CONTACT_FIELDS, Change
from custdata.store.component import Component

# Contact fields `forget` keeps: they describe the sales process, not the person.
FORGET_KEEPS = frozenset({"source", "owner", "created_at", "updated_at", "stage", "tier"})


class Forget(Component):
    """Erasing a person (`erase`), and the operation log's redaction (`log_words`, `redact_log`)."""

    def person(self, contact_id: int) -> list[dict]:
        """The contact's row and the rows of every record merged into it (values opened).

        The first row is the contact's own; UsageError when no contact has that id.
        """
        row = self.store.contacts.get(contact_id)
        if row is None:
            raise UsageError(f"No contact has id {contact_id}.")
        rows, seen, todo = [row], {contact_id}, [contact_id]
        while todo:
            survivor = todo.pop()
            for r in self.db.execute("SELECT payload FROM merges WHERE survivor_id = ?",
                                     (survivor,)).fetchall():
                for kept in _payload_contacts(r["payload"]):
                    if kept["id"] not in seen:
                        seen.add(kept["id"])
                        todo.append(kept["id"])
                        rows.append(self.unseal_row("contacts", kept))
        return rows

    def erase(self, op: Any, contact_id: int, merged_ids: list[int], *,
              found_in: Callable[[str], bool], log_hits: set[str]) -> dict:
        """Erase the contact (and the history of `merged_ids`, merged into it), inside `op`.

        found_in(raw line) -> True for the rejected rows that hold the person; log_hits:
        the words to redact from logged command lines. Returns counts per table.
        """
        blank = [f for f in CONTACT_FIELDS if f not in FORGET_KEEPS]
        sets = ", ".join(f"{f} = NULL" for f in blank)
        self.db.execute(
            f"UPDATE contacts SET {sets}, extra = '{{}}', email_key = NULL, phone_key = NULL, "
            "id_number_key = NULL, phone_type = NULL, changed_at = ? WHERE id = ?",
            (op.at, contact_id))
        ids = [contact_id, *merged_ids]
        marks = ",".join("?" * len(ids))
        counts = {"history": self.db.execute(
            f"DELETE FROM history WHERE contact_id IN ({marks})", ids).rowcount}
        counts["interactions"] = self.db.execute(
            "UPDATE interactions SET note = NULL, customer_ref = NULL, extra = '{}' "
            "WHERE contact_id = ?", (contact_id,)).rowcount
        self.db.execute(  # a line's extra columns may name the buyer (Billing Name ...)
            "UPDATE order_lines SET extra = '{}' WHERE order_pk IN "
            "(SELECT id FROM orders WHERE contact_id = ?)", (contact_id,))
        counts["orders"] = self.db.execute(
            "UPDATE orders SET customer_ref = NULL, extra = '{}' WHERE contact_id = ?",
            (contact_id,)).rowcount
        counts["rejects"] = self._forget_rejects(found_in)
        counts["merges"] = self._forget_merges(set(ids))
        counts["merged_records"] = len(merged_ids)
        counts["log_redacted"] = self.redact_log(log_hits) if log_hits else 0
        self.store.history.record(op.id, [Change(contact_id, "*", None, None, "forget")],
                                  at=op.at)
        op.counts.update(counts)
        return counts

    def _forget_rejects(self, found_in: Callable[[str], bool]) -> int:
        gone = []
        unseal = self.protector.unsealer("rejects", "raw")
        for r in self.db.execute("SELECT id, line, raw FROM rejects").fetchall():
            if found_in(unseal(r["line"], r["raw"]) or ""):
                gone.append((r["id"],))
        self.db.executemany("DELETE FROM rejects WHERE id = ?", gone)
        return len(gone)

    def _forget_merges(self, ids: set[int]) -> int:
        """Drop merge records whose payload keeps any of these records' old values."""
        gone = 0
        for r in self.db.execute("SELECT id, survivor_id, payload FROM merges").fetchall():
            if r["survivor_id"] in ids or ids & _ids_in(r["payload"]):
                self.db.execute("DELETE FROM merges WHERE id = ?", (r["id"],))
                gone += 1
        return gone

    # ---- the operation log ------------------------------------------------------------
    def log_words(self, forms: Callable[[str], set[str]]) -> dict[str, set[str]]:
        """Words of the logged command lines that could be values, by each of their forms.

        forms(word) -> the word's other spellings (normalized email, phone, ID number), so
        a value logged in any spelling is redacted when a contact's value matches it.
        """
        words: dict[str, set[str]] = {}
        for (command,) in self.db.execute("SELECT command FROM oplog"):
            for word in _split_words(command or ""):
                if len(word) < 3:
                    continue
                for form in ({word, word.lower()} | forms(word)) - {None, ""}:
                    words.setdefault(form, set()).add(word)
        return words

    def redact_log(self, values: set[str]) -> int:
        """Replace `values` in the logged command lines with "***"; returns rows changed."""
        changed = 0
        for row in self.db.execute("SELECT id, command FROM oplog").fetchall():
            parts = re.split(r"([\s=,'\"]+)", row["command"] or "")
            text = "".join("***" if p in values else p for p in parts)
            if text != row["command"]:
                self.db.execute("UPDATE oplog SET command = ? WHERE id = ?", (text, row["id"]))
                changed += 1
        return changed


def _split_words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s=,'\"]+", text) if w]


def _payload_contacts(payload: str) -> list[dict]:
    """The contact rows a merge record keeps (as stored), or [] for a payload of another shape."""
    try:
        data = json.loads(payload or "null")
    except ValueError:
        return []
    rows = data.get("contacts") if isinstance(data, dict) else None
    return [dict(r) for r in rows or [] if isinstance(r, dict) and isinstance(r.get("id"), int)]


def _ids_in(payload: str) -> set[int]:
    """Every contact id named in a merge payload (ids under keys named like *id*)."""
    found: set[int] = set()

    def walk(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, int) and not isinstance(node, bool) and "id" in key:
            found.add(node)

    try:
        walk(json.loads(payload or "null"))
    except ValueError:
        pass
    return found
