"""Encrypting, decrypting and re-keying a store in place.

Each of these is one transaction that re-writes every sealed value from the old
protector's view to the new one's ("transcoding"), followed by a scrub of the file:
secure_delete was on while the old values were overwritten, then the WAL is
checkpointed and truncated and the file VACUUMed, so no old plaintext survives in
the database file, its -wal, or its free pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

from custdata.crypto import TOKEN_PREFIX, CryptoProtector, PlainProtector, key_id, new_salt
from custdata.crypto.recode import ContactRecoder, recode_rows
from custdata.errors import KeyFileError, StoreError, UsageError
from custdata.models import CONTACT_FIELDS
from custdata.normalize.keys import KEY_KINDS
from custdata.normalize.keys import key_of as plain_key
from custdata.store.component import Component

META_KEY_ID = "crypto.key_id"
META_SALT = "crypto.salt"
META_COLUMNS = "crypto.columns"

# Columns other code queries in SQL or uses as a plain key; they cannot be encrypted.
NOT_ENCRYPTABLE = frozenset({"external_id", "stage", "tier", "created_at", "updated_at",
                             "consent", "tags"})
_BATCH = 5000
_CACHE_KIB = 64 * 1024


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


class CryptoStore(Component):
    """encrypt / decrypt / rotate-key on the store (see custdata.crypto).

    Also the log redaction and file scrub that ForgetMixin's `forget` uses.
    """

    # ---- state -------------------------------------------------------------------
    def state(self) -> CryptoState | None:
        kid = self.store.meta.get(META_KEY_ID)
        if kid is None:
            return None
        return CryptoState(kid, self.store.meta.get(META_SALT) or "",
                           tuple(json.loads(self.store.meta.get(META_COLUMNS) or "[]")))

    def crypto_protector(self, key: bytes | None) -> Any:
        """The protector this store needs: plain, or crypto with `key` (masking without).

        Raises KeyFileError when `key` is not the store's key; nothing is touched.
        """
        state = self.state()
        if state is None:
            return PlainProtector()
        return CryptoProtector(key, salt=state.salt, columns=state.columns,
                               expected_key_id=state.key_id)

    def _save_state(self, protector: Any) -> None:
        if isinstance(protector, CryptoProtector) and protector.encrypted_columns:
            self.store.meta.set(META_KEY_ID, protector.key_id)
            self.store.meta.set(META_SALT, protector.salt)
            self.store.meta.set(META_COLUMNS, json.dumps(sorted(protector.encrypted_columns)))
        else:
            for name in (META_KEY_ID, META_SALT, META_COLUMNS):
                self.store.meta.set(name, None)

    # ---- the three re-keyings -------------------------------------------------------
    def encrypt_columns(self, key: bytes, columns: Iterable[str], *, command: str = "",
                        workers: int | None = None) -> dict:
        """Encrypt `columns` (added to any already encrypted) in one transaction; scrub after.

        `workers`: processes that seal a big store's contacts (None: every core; 1: here).
        """
        columns = set(columns)
        bad = sorted(c for c in columns if c not in CONTACT_FIELDS or c in NOT_ENCRYPTABLE)
        if bad:
            allowed = ", ".join(c for c in CONTACT_FIELDS if c not in NOT_ENCRYPTABLE)
            raise UsageError(f"Cannot encrypt {', '.join(bad)}; encryptable columns: {allowed}.")
        old = self.crypto_protector(key)
        state = self.state()
        new = CryptoProtector(key, salt=state.salt if state else new_salt(),
                              columns=columns | set(state.columns if state else ()))
        return self._rekey_store(old, new, command, "encrypt", workers)

    def decrypt_columns(self, key: bytes, columns: Iterable[str] | None = None, *,
                        command: str = "", workers: int | None = None) -> dict:
        """Decrypt `columns` (all when None) in one transaction (`workers`: see encrypt)."""
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
        return self._rekey_store(old, new, command, "decrypt", workers)

    def rotate_key(self, old_key: bytes, new_key: bytes, *, command: str = "",
                   workers: int | None = None) -> dict:
        """Re-encrypt every sealed value and blind index under `new_key`, in one transaction.

        `workers`: see encrypt_columns.
        """
        old = self.crypto_protector(old_key)
        if not isinstance(old, CryptoProtector):
            raise UsageError("This store has no encrypted columns; there is no key to rotate. "
                             "Run `custdata encrypt` first.")
        if key_id(new_key) == old.key_id:
            raise KeyFileError("The new key file holds the store's current key; "
                               "make a new one with `custdata keygen --key-file PATH`.")
        new = CryptoProtector(new_key, salt=new_salt(), columns=old.encrypted_columns)
        return self._rekey_store(old, new, command, "rotate-key", workers)

    def _rekey_store(self, old: Any, new: Any, command: str, operation: str,
                     workers: int | None) -> dict:
        self.db.execute("PRAGMA secure_delete = ON")
        self.db.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")  # index rebuilds sort in it
        with self.store.write(command) as op:
            counts = self._transcode(old, new, workers)
            self._save_state(new)
            self._record_rekey(op, operation, old, new)
            op.counts.update(counts)
        self.store.protector = new
        self.store.crypto.scrub_file()
        return counts

    def _record_rekey(self, op: Any, operation: str, old: Any, new: Any) -> None:
        """One history row per contact and re-keyed column that holds a value.

        The rows say what happened and under which key id, never a value: the history
        must not keep plaintext of an encrypted column.
        """
        before, after = set(old.encrypted_columns), set(new.encrypted_columns)
        fields = {"encrypt": after - before, "decrypt": before - after}.get(operation, after)
        key = getattr(new, "key_id", None) or getattr(old, "key_id", None)
        if not fields:
            return
        names = sorted(fields)  # contact columns, checked against CONTACT_FIELDS
        value_of = " ".join(f"WHEN '{c}' THEN c.{c}" for c in names)
        rows = ", ".join(f"('{c}')" for c in names)
        # Contacts in the outer loop (CROSS JOIN fixes the order), so that history and its
        # (contact_id, id) index are appended to, not inserted into, a million times.
        self.db.execute(
            "INSERT INTO history (contact_id, at, op_id, operation, field, old, new, detail) "
            "SELECT c.id, ?, ?, ?, f.column1, NULL, NULL, ? FROM contacts AS c CROSS JOIN "
            f"(VALUES {rows}) AS f "
            f"WHERE CASE f.column1 {value_of} END IS NOT NULL",
            (op.at, op.id, operation, json.dumps({"key_id": key})))

    # ---- transcoding ----------------------------------------------------------------
    def _transcode(self, old: Any, new: Any, workers: int | None) -> dict:
        """Re-write every sealed value and blind index from `old`'s form to `new`'s."""
        region = self.store.config.get("general", "region")
        counts = {"columns": len(new.encrypted_columns), "contacts": 0, "history": 0,
                  "rejects": 0, "orders": 0, "interactions": 0, "merges": 0, "log_redacted": 0}
        cols = [c for c in CONTACT_FIELDS if _needs_transcode(old, new, "contacts", c)]
        kinds = [(k, col) for k, col in KEY_KINDS
                 if (k in old.encrypted_columns or k in new.encrypted_columns)
                 and (_needs_transcode(old, new, "contacts", k) or not _same_key(old, new))]
        hits: set[str] = set()
        if cols or kinds:
            recoder = ContactRecoder(old, new, columns=cols, kinds=kinds, region=region,
                                     log_words=self.store.crypto.log_words(region))
            counts["contacts"] = self._transcode_contacts(recoder, hits, workers)
            counts["history"] = self._transcode_history(old, new, cols)
            counts["merges"] = self._transcode_merges(recoder, new)
        for table, column, rid in (("rejects", "raw", "line"), ("orders", "customer_ref", "id"),
                                   ("interactions", "customer_ref", "id")):
            if _needs_transcode(old, new, table, column):
                counts[table] = self._transcode_column(old, new, table, column, rid)
        if hits:
            counts["log_redacted"] = self.store.crypto.redact_log(hits)
        return counts

    def _transcode_contacts(self, recoder: ContactRecoder, hits: set[str],
                            workers: int | None) -> int:
        """Re-key every contact row; the logged words found in their plaintext go to `hits`."""
        sets = ", ".join(f"{c} = ?" for c in recoder.writes)
        done = 0
        rows = self._rows_by_id("contacts", recoder.reads)
        # closing: on an error the pool stops here and now, not when the traceback goes
        with self._indexes_dropped("contacts", recoder.writes), \
                closing(recode_rows(recoder, rows, workers=workers)) as recoded:
            for updates, found in recoded:
                self.db.executemany(f"UPDATE contacts SET {sets} WHERE id = ?", updates)
                hits |= found
                done += len(updates)
        return done

    def _rows_by_id(self, table: str, columns: list[str]) -> Iterator[tuple]:
        """`columns` (id first) of every row of `table` as tuples, in id order.

        Read a batch at a time, so the caller may update the rows already read.
        """
        sql = (f"SELECT {', '.join(columns)} FROM {table} WHERE id > ? "
               f"ORDER BY id LIMIT {_BATCH}")
        last = 0
        # plain tuples: cheaper than sqlite3.Row, and picklable (for the recode workers)
        while rows := self.db.tuples(sql, (last,)).fetchall():
            last = rows[-1][0]
            yield from rows

    @contextmanager
    def _indexes_dropped(self, table: str, columns: Iterable[str]) -> Iterator[None]:
        """Drop the indexes of `table` on any of `columns` for a bulk update; rebuild them after.

        Sorting a million new keys once beats a million random updates of each index.
        Runs inside the caller's transaction: a rollback brings the indexes back.
        """
        rebuild = self.db.drop_indexes(table, columns)
        yield
        for sql in rebuild:
            self.db.execute(sql)

    def _transcode_merges(self, recoder: ContactRecoder, new: Any) -> int:
        """Re-seal the contact rows a merge keeps for `unmerge`, and its key id."""
        done = 0
        for r in self.db.execute("SELECT id, payload FROM merges").fetchall():
            try:
                payload = json.loads(r["payload"])
            except ValueError:
                continue
            if not isinstance(payload, dict) or not isinstance(payload.get("contacts"), list):
                continue
            for row in payload["contacts"]:
                if isinstance(row, dict) and "id" in row:
                    row.update(recoder.recode_mapping(row))
            payload["key_id"] = getattr(new, "key_id", None)
            self.db.execute("UPDATE merges SET payload = ? WHERE id = ?",
                              (json.dumps(payload, ensure_ascii=False, sort_keys=True), r["id"]))
            done += 1
        return done

    def _transcode_history(self, old: Any, new: Any, cols: list[str]) -> int:
        if not cols:
            return 0
        marks = ",".join("?" * len(cols))
        last, done = 0, 0
        while rows := self.db.execute(
                f"SELECT id, contact_id, field, old, new FROM history WHERE id > ? "
                f"AND field IN ({marks}) AND (old IS NOT NULL OR new IS NOT NULL) "
                f"ORDER BY id LIMIT {_BATCH}", (last, *cols)).fetchall():
            updates = []
            for r in rows:
                cid, fld = r["contact_id"], r["field"]
                updates.append((
                    new.seal("history", fld, cid, old.unseal("history", fld, cid, r["old"])),
                    new.seal("history", fld, cid, old.unseal("history", fld, cid, r["new"])),
                    r["id"]))
            self.db.executemany("UPDATE history SET old = ?, new = ? WHERE id = ?", updates)
            done += len(rows)
            last = rows[-1]["id"]
        return done

    def _transcode_column(self, old: Any, new: Any, table: str, column: str, rid: str) -> int:
        """Re-seal one always-sealed column; `rid` names the column that binds the row.

        A customer reference that is just the contact's external id (not a sensitive
        column) is left plain, so the usual order files cost nothing to encrypt.
        """
        if table == "rejects":
            sql = (f"SELECT id, {rid} AS rid, {column} AS v, NULL AS ext FROM {table} "
                   f"WHERE id > ? AND {column} IS NOT NULL ORDER BY id LIMIT {_BATCH}")
        else:
            sql = (f"SELECT t.id, t.{rid} AS rid, t.{column} AS v, c.external_id AS ext "
                   f"FROM {table} t LEFT JOIN contacts c ON c.id = t.contact_id "
                   f"WHERE t.id > ? AND t.{column} IS NOT NULL AND "
                   f"(substr(t.{column}, 1, {len(TOKEN_PREFIX)}) = '{TOKEN_PREFIX}' "
                   f"OR t.{column} IS NOT c.external_id) ORDER BY t.id LIMIT {_BATCH}")
        unseal, seal = old.unsealer(table, column), new.sealer(table, column)
        last, done = 0, 0
        while rows := self.db.execute(sql, (last,)).fetchall():
            updates = []
            for r in rows:
                plain = unseal(r["rid"], r["v"])
                updates.append((plain if plain == r["ext"] else seal(r["rid"], plain), r["id"]))
            self.db.executemany(f"UPDATE {table} SET {column} = ? WHERE id = ?", updates)
            done += len(rows)
            last = rows[-1]["id"]
        return done

    # ---- the operation log ------------------------------------------------------------
    def log_words(self, region: str) -> dict[str, set[str]]:
        """Words of the logged command lines that could be values, by their normalized forms.

        "13800138000" is found under itself and "+8613800138000", so a phone or email
        logged in any spelling is redacted when a contact's value matches it.
        """
        words: dict[str, set[str]] = {}
        for (command,) in self.db.execute("SELECT command FROM oplog"):
            for word in _split_words(command or ""):
                if len(word) < 3:
                    continue
                forms = {word, word.lower()}
                if "@" in word:
                    forms.add(plain_key("email", word, region))
                if sum(ch.isdigit() for ch in word) >= 7:
                    forms.update((plain_key("phone", word, region),
                                  plain_key("id_number", word, region)))
                for form in forms - {None}:
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

    # ---- scrubbing ----------------------------------------------------------------------
    def scrub_file(self, *, vacuum: bool = True) -> None:
        """Leave no old bytes behind: checkpoint and truncate the WAL, VACUUM, again.

        Raises StoreError when another process keeps the WAL from being truncated.
        """
        self.db.execute("PRAGMA secure_delete = ON")
        self._checkpoint()
        if vacuum:
            self.db.execute("VACUUM")
            self._checkpoint()

    def _checkpoint(self) -> None:
        busy, _, _ = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise StoreError(
                "The change was committed, but another custdata process is reading the store, "
                "so old values may remain in its -wal file until that process ends. Run "
                "`custdata encrypt` again when nothing else uses the store to finish the scrub."
            )


def _split_words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s=,'\"]+", text) if w]
