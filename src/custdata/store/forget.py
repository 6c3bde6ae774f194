"""`forget`: erasing one person's personal data everywhere, and logging the act without it.

The contact's personal fields, history, interaction notes and order references are
cleared; rejected rows and merge records that hold the person are deleted; logged
command lines that name the person's values are redacted. Then the file is scrubbed
(see CryptoMixin.scrub_file), so nothing of the person survives in its free pages or WAL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from custdata.errors import UsageError
from custdata.models import CONTACT_FIELDS, Change
from custdata.normalize.keys import key_of as plain_key
from custdata.store.component import Component

# Contact fields `forget` keeps: they describe the sales process, not the person.
FORGET_KEEPS = frozenset({"source", "owner", "created_at", "updated_at", "stage", "tier"})


class Forget(Component):
    """`forget_contact` (uses CryptoMixin's log redaction and scrub)."""

    def forget_contact(self, contact_id: int, *, command: str = "") -> dict:
        """Erase one person's personal data everywhere; keep anonymous order amounts."""
        region = self.store.config.get("general", "region")
        row = self.store.contacts.get(contact_id)
        if row is None:
            raise UsageError(f"No contact has id {contact_id}.")
        person = _Person.of(row, region)
        self.db.execute("PRAGMA secure_delete = ON")
        counts: dict[str, int] = {}
        with self.store.write(command or f"forget contact {contact_id}") as op:
            blank = [f for f in CONTACT_FIELDS if f not in FORGET_KEEPS]
            sets = ", ".join(f"{f} = NULL" for f in blank)
            self.db.execute(
                f"UPDATE contacts SET {sets}, extra = '{{}}', email_key = NULL, phone_key = NULL, "
                "id_number_key = NULL, phone_type = NULL, changed_at = ? WHERE id = ?",
                (op.at, contact_id))
            counts["history"] = self.db.execute(
                "DELETE FROM history WHERE contact_id = ?", (contact_id,)).rowcount
            counts["interactions"] = self.db.execute(
                "UPDATE interactions SET note = NULL, customer_ref = NULL, extra = '{}' "
                "WHERE contact_id = ?", (contact_id,)).rowcount
            counts["orders"] = self.db.execute(
                "UPDATE orders SET customer_ref = NULL, extra = '{}' WHERE contact_id = ?",
                (contact_id,)).rowcount
            counts["rejects"] = self._forget_rejects(person)
            counts["merges"] = self._forget_merges(contact_id)
            words = self.store.crypto.log_words(region)
            hits = set().union(*(words.get(n, set()) for n in person.words()))
            counts["log_redacted"] = self.store.crypto.redact_log(hits) if hits else 0
            self.store.history.record(op.id, [Change(contact_id, "*", None, None, "forget")], at=op.at)
            op.counts.update(counts)
        self.store.crypto.scrub_file()
        return counts

    def _forget_rejects(self, person: "_Person") -> int:
        gone = []
        unseal = self.protector.unsealer("rejects", "raw")
        for r in self.db.execute("SELECT id, line, raw FROM rejects").fetchall():
            raw = unseal(r["line"], r["raw"]) or ""
            if person.found_in(raw):
                gone.append((r["id"],))
        self.db.executemany("DELETE FROM rejects WHERE id = ?", gone)
        return len(gone)

    def _forget_merges(self, contact_id: int) -> int:
        """Drop merge records whose payload keeps this person's old values."""
        gone = 0
        for r in self.db.execute("SELECT id, survivor_id, payload FROM merges").fetchall():
            if r["survivor_id"] == contact_id or contact_id in _ids_in(r["payload"]):
                self.db.execute("DELETE FROM merges WHERE id = ?", (r["id"],))
                gone += 1
        return gone


@dataclass
class _Person:
    """How to recognise one person in free text such as a rejected row's raw line."""

    cells: set[str]      # whole cells: external id, name, and the raw values (lower case)
    contained: set[str]  # long unique keys found anywhere: emails, ID numbers
    digits: set[str]     # phone digits found inside a cell's digits

    @classmethod
    def of(cls, row: dict, region: str) -> "_Person":
        cells = {str(row[f]).strip().lower() for f in ("external_id", "name", "email", "phone",
                                                        "id_number") if row.get(f)}
        contained = {k.lower() for k in (plain_key("email", row.get("email"), region),
                                         plain_key("id_number", row.get("id_number"), region))
                     if k and len(k) >= 6}
        contained |= {c for c in cells if "@" in c}
        phone = plain_key("phone", row.get("phone"), region) or ""
        digits = re.sub(r"\D", "", phone)
        return cls(cells - {""}, contained,
                   {d for d in (digits, digits[-11:], digits[-10:]) if len(d) >= 7})

    def words(self) -> set[str]:
        return self.cells | self.contained | self.digits

    def found_in(self, text: str) -> bool:
        lower = text.lower()
        if any(k in lower for k in self.contained):
            return True
        for cell in re.split(r"[,;\t|\r\n]", lower):
            cell = cell.strip().strip('"').strip()
            if cell in self.cells:
                return True
            if self.digits and any(d in re.sub(r"\D", "", cell) for d in self.digits):
                return True
        return False


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
