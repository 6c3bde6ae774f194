"""Encrypting, decrypting and re-keying a store in place, and erasing a person.

Each of these is one transaction that re-writes every sealed value from the old
protector's view to the new one's ("transcoding"), followed by a scrub of the file:
secure_delete was on while the old values were overwritten, then the WAL is
checkpointed and truncated and the file VACUUMed, so no old plaintext survives in
the database file, its -wal, or its free pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from custdata.crypto import CryptoProtector, key_id, new_salt
from custdata.errors import KeyFileError, StoreError, UsageError
from custdata.models import CONTACT_FIELDS, Change

META_KEY_ID = "crypto.key_id"
META_SALT = "crypto.salt"
META_COLUMNS = "crypto.columns"

# Columns other code queries in SQL or uses as a plain key; they cannot be encrypted.
NOT_ENCRYPTABLE = frozenset({"external_id", "stage", "tier", "created_at", "updated_at",
                             "consent", "tags"})
_KEY_KINDS = (("email", "email_key"), ("phone", "phone_key"), ("id_number", "id_number_key"))
_BATCH = 5000
# Contact fields `forget` keeps: they describe the sales process, not the person.
FORGET_KEEPS = frozenset({"source", "owner", "created_at", "updated_at", "stage", "tier"})


@dataclass(frozen=True)
class CryptoState:
    """What the store's meta table says about its encryption."""

    key_id: str
    salt: str
    columns: tuple[str, ...]


def _seals(protector: Any, table: str, column: str) -> bool:
    seals = getattr(protector, "seals", None)
    return bool(seals and seals(table, column))


def _same_key(old: Any, new: Any) -> bool:
    return (isinstance(old, CryptoProtector) and isinstance(new, CryptoProtector)
            and old.key_id == new.key_id and old.salt == new.salt)


def _needs_transcode(old: Any, new: Any, table: str, column: str) -> bool:
    a, b = _seals(old, table, column), _seals(new, table, column)
    return a != b or (a and not _same_key(old, new))


def plain_key(kind: str, value: str | None, region: str) -> str | None:
    """The normalized match key of a plaintext value, as import computes it."""
    from custdata.ingest import id_number_key
    from custdata.normalize import email_key, phone_key

    if kind == "email":
        return email_key(value)
    if kind == "phone":
        return phone_key(value, region)
    return id_number_key(value)


class CryptoMixin:
    """encrypt / decrypt / rotate-key / forget on the store (see custdata.crypto)."""

    # ---- state -------------------------------------------------------------------
    def crypto_state(self) -> CryptoState | None:
        kid = self.meta(META_KEY_ID)
        if kid is None:
            return None
        return CryptoState(kid, self.meta(META_SALT) or "",
                           tuple(json.loads(self.meta(META_COLUMNS) or "[]")))

    def crypto_protector(self, key: bytes | None) -> Any:
        """The protector this store needs: plain, or crypto with `key` (masking without).

        Raises KeyFileError when `key` is not the store's key; nothing is touched.
        """
        from custdata.store.core import PlainProtector

        state = self.crypto_state()
        if state is None:
            return PlainProtector()
        return CryptoProtector(key, salt=state.salt, columns=state.columns,
                               expected_key_id=state.key_id)

    def _save_state(self, protector: Any) -> None:
        if isinstance(protector, CryptoProtector) and protector.encrypted_columns:
            self.set_meta(META_KEY_ID, protector.key_id)
            self.set_meta(META_SALT, protector.salt)
            self.set_meta(META_COLUMNS, json.dumps(sorted(protector.encrypted_columns)))
        else:
            for name in (META_KEY_ID, META_SALT, META_COLUMNS):
                self.set_meta(name, None)

    # ---- the three re-keyings -------------------------------------------------------
    def encrypt_columns(self, key: bytes, columns: Iterable[str], *, command: str = "") -> dict:
        """Encrypt `columns` (added to any already encrypted) in one transaction; scrub after."""
        columns = set(columns)
        bad = sorted(c for c in columns if c not in CONTACT_FIELDS or c in NOT_ENCRYPTABLE)
        if bad:
            allowed = ", ".join(c for c in CONTACT_FIELDS if c not in NOT_ENCRYPTABLE)
            raise UsageError(f"Cannot encrypt {', '.join(bad)}; encryptable columns: {allowed}.")
        old = self.crypto_protector(key)
        state = self.crypto_state()
        new = CryptoProtector(key, salt=state.salt if state else new_salt(),
                              columns=columns | set(state.columns if state else ()))
        return self._rekey_store(old, new, command)

    def decrypt_columns(self, key: bytes, columns: Iterable[str] | None = None, *,
                        command: str = "") -> dict:
        """Decrypt `columns` (all when None) in one transaction."""
        from custdata.store.core import PlainProtector

        old = self.crypto_protector(key)
        if not isinstance(old, CryptoProtector):
            return {"columns": 0, "contacts": 0}
        keep = set() if columns is None else old.encrypted_columns - set(columns)
        unknown = sorted(set(columns or ()) - old.encrypted_columns)
        if unknown:
            raise UsageError(f"{', '.join(unknown)} is not encrypted; encrypted columns: "
                             f"{', '.join(sorted(old.encrypted_columns))}.")
        new: Any = (CryptoProtector(key, salt=old.salt, columns=keep) if keep
                    else PlainProtector())
        return self._rekey_store(old, new, command)

    def rotate_key(self, old_key: bytes, new_key: bytes, *, command: str = "") -> dict:
        """Re-encrypt every sealed value and blind index under `new_key`, in one transaction."""
        old = self.crypto_protector(old_key)
        if not isinstance(old, CryptoProtector):
            raise UsageError("This store has no encrypted columns; there is no key to rotate. "
                             "Run `custdata encrypt` first.")
        if key_id(new_key) == old.key_id:
            raise KeyFileError("The new key file holds the store's current key; "
                               "make a new one with `custdata keygen --key-file PATH`.")
        new = CryptoProtector(new_key, salt=new_salt(), columns=old.encrypted_columns)
        return self._rekey_store(old, new, command)

    def _rekey_store(self, old: Any, new: Any, command: str) -> dict:
        self.conn.execute("PRAGMA secure_delete = ON")
        with self.write(command) as op:
            counts = self._transcode(old, new)
            self._save_state(new)
            op.counts.update(counts)
        self.protector = new
        self.scrub_file()
        return counts

    # ---- transcoding ----------------------------------------------------------------
    def _transcode(self, old: Any, new: Any) -> dict:
        """Re-write every sealed value and blind index from `old`'s form to `new`'s."""
        region = self.config.get("general", "region")
        counts = {"columns": len(new.encrypted_columns), "contacts": 0, "history": 0,
                  "rejects": 0, "orders": 0, "interactions": 0, "log_redacted": 0}
        cols = [c for c in CONTACT_FIELDS if _needs_transcode(old, new, "contacts", c)]
        kinds = [(k, col) for k, col in _KEY_KINDS
                 if (k in old.encrypted_columns or k in new.encrypted_columns)
                 and (_needs_transcode(old, new, "contacts", k) or not _same_key(old, new))]
        hits: set[str] = set()
        words = self._log_words()
        if cols or kinds:
            counts["contacts"] = self._transcode_contacts(old, new, cols, kinds, region, words,
                                                          hits)
            counts["history"] = self._transcode_history(old, new, cols)
        for table, column, rid in (("rejects", "raw", "line"), ("orders", "customer_ref", "id"),
                                   ("interactions", "customer_ref", "id")):
            if _needs_transcode(old, new, table, column):
                counts[table] = self._transcode_column(old, new, table, column, rid)
        if hits:
            counts["log_redacted"] = self._redact_log(hits)
        return counts

    def _transcode_contacts(self, old: Any, new: Any, cols: list[str],
                            kinds: list[tuple[str, str]], region: str, words: set[str],
                            hits: set[str]) -> int:
        key_cols = [kc for _, kc in kinds]
        sel = ", ".join(["id", *dict.fromkeys(cols + [k for k, _ in kinds]), *key_cols])
        sets = ", ".join(f"{c} = ?" for c in cols + key_cols)
        last, done = 0, 0
        while rows := self.conn.execute(
                f"SELECT {sel} FROM contacts WHERE id > ? ORDER BY id LIMIT {_BATCH}",
                (last,)).fetchall():
            updates = []
            for row in rows:
                rid = row["id"]
                plain = {c: old.unseal("contacts", c, rid, row[c])
                         for c in dict.fromkeys(cols + [k for k, _ in kinds])}
                values = [new.seal("contacts", c, rid, plain[c]) for c in cols]
                for kind, kc in kinds:
                    normal = (plain_key(kind, plain[kind], region)
                              if kind in old.encrypted_columns else row[kc])
                    values.append(new.index(kind, normal))
                    if words and normal in words:
                        hits.add(normal)
                if words:
                    hits.update(v for v in plain.values() if v in words)
                updates.append((*values, rid))
            self.conn.executemany(f"UPDATE contacts SET {sets} WHERE id = ?", updates)
            done += len(rows)
            last = rows[-1]["id"]
        return done

    def _transcode_history(self, old: Any, new: Any, cols: list[str]) -> int:
        if not cols:
            return 0
        marks = ",".join("?" * len(cols))
        last, done = 0, 0
        while rows := self.conn.execute(
                f"SELECT id, contact_id, field, old, new FROM history WHERE id > ? "
                f"AND field IN ({marks}) ORDER BY id LIMIT {_BATCH}", (last, *cols)).fetchall():
            updates = []
            for r in rows:
                cid, fld = r["contact_id"], r["field"]
                updates.append((
                    new.seal("history", fld, cid, old.unseal("history", fld, cid, r["old"])),
                    new.seal("history", fld, cid, old.unseal("history", fld, cid, r["new"])),
                    r["id"]))
            self.conn.executemany("UPDATE history SET old = ?, new = ? WHERE id = ?", updates)
            done += len(rows)
            last = rows[-1]["id"]
        return done

    def _transcode_column(self, old: Any, new: Any, table: str, column: str, rid: str) -> int:
        """Re-seal one always-sealed column; `rid` names the column that binds the row."""
        last, done = 0, 0
        while rows := self.conn.execute(
                f"SELECT id, {rid} AS rid, {column} AS v FROM {table} WHERE id > ? "
                f"AND {column} IS NOT NULL ORDER BY id LIMIT {_BATCH}", (last,)).fetchall():
            self.conn.executemany(
                f"UPDATE {table} SET {column} = ? WHERE id = ?",
                [(new.seal(table, column, r["rid"], old.unseal(table, column, r["rid"], r["v"])),
                  r["id"]) for r in rows])
            done += len(rows)
            last = rows[-1]["id"]
        return done

    # ---- the operation log ------------------------------------------------------------
    def _log_words(self) -> set[str]:
        """Every word of the logged command lines that could be a value (3+ characters)."""
        words: set[str] = set()
        for (command,) in self.conn.execute("SELECT command FROM oplog"):
            for word in _split_words(command or ""):
                if len(word) >= 3:
                    words.add(word)
        return words

    def _redact_log(self, values: set[str]) -> int:
        """Replace `values` in the logged command lines with "***"; returns rows changed."""
        changed = 0
        for row in self.conn.execute("SELECT id, command FROM oplog").fetchall():
            parts = re.split(r"([\s=,'\"]+)", row["command"] or "")
            text = "".join("***" if p in values else p for p in parts)
            if text != row["command"]:
                self.conn.execute("UPDATE oplog SET command = ? WHERE id = ?", (text, row["id"]))
                changed += 1
        return changed

    # ---- scrubbing ----------------------------------------------------------------------
    def scrub_file(self, *, vacuum: bool = True) -> None:
        """Leave no old bytes behind: checkpoint and truncate the WAL, VACUUM, again.

        Raises StoreError when another process keeps the WAL from being truncated.
        """
        self.conn.execute("PRAGMA secure_delete = ON")
        self._checkpoint()
        if vacuum:
            self.conn.execute("VACUUM")
            self._checkpoint()

    def _checkpoint(self) -> None:
        busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise StoreError(
                "The change was committed, but another custdata process is reading the store, "
                "so old values may remain in its -wal file until that process ends. Run "
                "`custdata encrypt` again when nothing else uses the store to finish the scrub."
            )

    # ---- forget ---------------------------------------------------------------------------
    def forget_contact(self, contact_id: int, *, command: str = "") -> dict:
        """Erase one person's personal data everywhere; keep anonymous order amounts."""
        region = self.config.get("general", "region")
        row = self.contact(contact_id)
        if row is None:
            raise UsageError(f"No contact has id {contact_id}.")
        needles = _identifiers(row, region)
        self.conn.execute("PRAGMA secure_delete = ON")
        counts: dict[str, int] = {}
        with self.write(command or f"forget contact {contact_id}") as op:
            blank = [f for f in CONTACT_FIELDS if f not in FORGET_KEEPS]
            sets = ", ".join(f"{f} = NULL" for f in blank)
            self.conn.execute(
                f"UPDATE contacts SET {sets}, extra = '{{}}', email_key = NULL, phone_key = NULL, "
                "id_number_key = NULL, phone_type = NULL, changed_at = ? WHERE id = ?",
                (op.at, contact_id))
            counts["history"] = self.conn.execute(
                "DELETE FROM history WHERE contact_id = ?", (contact_id,)).rowcount
            counts["interactions"] = self.conn.execute(
                "UPDATE interactions SET note = NULL, customer_ref = NULL, extra = '{}' "
                "WHERE contact_id = ?", (contact_id,)).rowcount
            counts["orders"] = self.conn.execute(
                "UPDATE orders SET customer_ref = NULL, extra = '{}' WHERE contact_id = ?",
                (contact_id,)).rowcount
            counts["rejects"] = self._forget_rejects(needles)
            counts["merges"] = self._forget_merges(contact_id)
            counts["log_redacted"] = self._redact_log(needles) if needles else 0
            self.record_changes(op.id, [Change(contact_id, "*", None, None, "forget")], at=op.at)
            op.counts.update(counts)
        self.scrub_file()
        return counts

    def _forget_rejects(self, needles: set[str]) -> int:
        lowered = {n.lower() for n in needles}
        gone = []
        for r in self.conn.execute("SELECT id, line, raw FROM rejects").fetchall():
            raw = (self.protector.unseal("rejects", "raw", r["line"], r["raw"]) or "").lower()
            digits = re.sub(r"\D", "", raw)
            if any(n in raw or (n.isdigit() and len(n) >= 7 and n in digits) for n in lowered):
                gone.append((r["id"],))
        self.conn.executemany("DELETE FROM rejects WHERE id = ?", gone)
        return len(gone)

    def _forget_merges(self, contact_id: int) -> int:
        """Drop merge records whose payload keeps this person's old values."""
        gone = 0
        for r in self.conn.execute("SELECT id, survivor_id, payload FROM merges").fetchall():
            if r["survivor_id"] == contact_id or contact_id in _ids_in(r["payload"]):
                self.conn.execute("DELETE FROM merges WHERE id = ?", (r["id"],))
                gone += 1
        return gone


def _split_words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s=,'\"]+", text) if w]


def _identifiers(row: dict, region: str) -> set[str]:
    """The person's identifying strings, raw and normalized, to find them in free text."""
    out: set[str] = set()
    for field in ("external_id", "email", "phone", "id_number", "name"):
        value = row.get(field)
        if value and len(value.strip()) >= 3:
            out.add(value.strip())
    for kind in ("email", "phone", "id_number"):
        key = plain_key(kind, row.get(kind), region)
        if key and len(key) >= 3:
            out.add(key)
            if kind == "phone":
                digits = re.sub(r"\D", "", key)
                out.update(d for d in (digits, digits[-11:]) if len(d) >= 7)
    return out


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
