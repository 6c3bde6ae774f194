"""Encrypting, decrypting and re-keying a store in place: the SQL of it.

A re-keying is one transaction (the caller's `Store.write`) that re-writes every sealed
value from the old protector's form to the new one's ("transcoding"): contact columns
and their blind indexes, the copies of those fields in `extra`, history values, merge
before-images, rejected rows and customer references. The protectors and the recoding
of contact rows (match keys, normalisation) come from the caller: this module holds no
domain rule, only where the values are and how to rewrite them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from custdata.crypto import TOKEN_PREFIX, CryptoProtector
from custdata.errors import StoreError, UsageError
from custdata.models import CONTACT_FIELDS
from custdata.store.component import Component
from custdata.store.extra import EXTRA_TABLES, recode_extra

META_KEY_ID = "crypto.key_id"
META_SALT = "crypto.salt"
META_COLUMNS = "crypto.columns"
META_SCRUB = "crypto.scrub_pending"  # a committed change whose file is not compacted yet

# Columns other code queries in SQL or uses as a plain key; they cannot be encrypted.
NOT_ENCRYPTABLE = frozenset({"external_id", "stage", "tier", "created_at", "updated_at",
                             "consent", "tags"})
_BATCH = 5000
CACHE_KIB = 64 * 1024  # page cache while re-keying: the index rebuilds sort in it


@dataclass(frozen=True)
class CryptoState:
    """What the store's meta table says about its encryption."""

    key_id: str
    salt: str
    columns: tuple[str, ...]


class RowRecoder(Protocol):
    """Contact rows (tuples of `reads`) -> UPDATE parameters (`writes`, then the id)."""

    reads: list[str]
    writes: list[str]

    def recode_mapping(self, row: dict[str, Any]) -> dict[str, Any]: ...


class Recoding(Protocol):
    """The domain side of re-keying, given by the caller (crypto.recode and normalize.keys).

    kinds: (kind, match-key column) pairs; recoder: a RowRecoder from `old` to `new`;
    recode_rows: (updates, logged words found) per chunk of rows, in order (maybe on
    worker processes).
    """

    kinds: Sequence[tuple[str, str]]

    def recoder(self, old: Any, new: Any, *, columns: list[str],
                kinds: list[tuple[str, str]], log_words: dict[str, set[str]]) -> RowRecoder: ...

    def recode_rows(self, recoder: RowRecoder, rows: Iterable[tuple], *,
                    workers: int | None) -> Iterator[tuple[list, set[str]]]: ...


def _seals(protector: Any, table: str, column: str) -> bool:
    return bool(protector.seals(table, column))


def same_key(old: Any, new: Any) -> bool:
    """True when both protectors seal under the same key and salt."""
    return (isinstance(old, CryptoProtector) and isinstance(new, CryptoProtector)
            and old.key_id == new.key_id and old.salt == new.salt)


def _needs_transcode(old: Any, new: Any, table: str, column: str) -> bool:
    a, b = _seals(old, table, column), _seals(new, table, column)
    return a != b or (a and not same_key(old, new))


def check_encryptable(columns: Iterable[str]) -> None:
    """Raise UsageError naming the columns that cannot be encrypted (and those that can)."""
    bad = sorted(c for c in columns if c not in CONTACT_FIELDS or c in NOT_ENCRYPTABLE)
    if bad:
        allowed = ", ".join(c for c in CONTACT_FIELDS if c not in NOT_ENCRYPTABLE)
        raise UsageError(f"Cannot encrypt {', '.join(bad)}; encryptable columns: {allowed}.")


class CryptoStore(Component):
    """The encryption state in meta, and the transcoding of a whole store."""

    # ---- state -------------------------------------------------------------------
    def state(self) -> CryptoState | None:
        kid = self.store.meta.get(META_KEY_ID)
        if kid is None:
            return None
        return CryptoState(kid, self.store.meta.get(META_SALT) or "",
                           tuple(json.loads(self.store.meta.get(META_COLUMNS) or "[]")))

    def save_state(self, protector: Any) -> None:
        if isinstance(protector, CryptoProtector) and protector.encrypted_columns:
            self.store.meta.set(META_KEY_ID, protector.key_id)
            self.store.meta.set(META_SALT, protector.salt)
            self.store.meta.set(META_COLUMNS, json.dumps(sorted(protector.encrypted_columns)))
        else:
            for name in (META_KEY_ID, META_SALT, META_COLUMNS):
                self.store.meta.set(name, None)

    # ---- compacting after a re-keying or an erasure ---------------------------------
    def mark_scrub_pending(self) -> None:
        """Inside the write: the file is to be compacted after the commit (and retried)."""
        self.store.meta.set(META_SCRUB, "1")

    def scrub_pending(self) -> bool:
        return self.store.meta.get(META_SCRUB) is not None

    def finish_scrub(self) -> str | None:
        """Compact the file (VACUUM, WAL truncated) and clear the pending mark.

        Returns None when done, else why it is left for the next writing command.
        """
        reason = self.db.compact()
        if reason is not None:
            return reason
        try:
            self.db.begin_write()
        except StoreError:
            return "another process is writing to the store"
        try:
            self.store.meta.set(META_SCRUB, None)
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise
        self.db.checkpoint()
        return None

    # ---- the re-keying -----------------------------------------------------------
    def transcode(self, op: Any, old: Any, new: Any, *, operation: str, recoding: Recoding,
                  log_words: dict[str, set[str]], workers: int | None = None,
                  advance: Callable[[int], None] | None = None) -> dict:
        """Re-write every sealed value from `old`'s form to `new`'s, inside `op`'s write.

        Saves `new` as the store's encryption state and records one history row per
        contact and re-keyed column; returns counts per table. `log_words`: words of
        logged command lines by value form (see Forget.log_words); those found in the
        plaintext of a contact are redacted from the log. advance(n): n more contacts done.
        """
        counts = {"columns": len(new.encrypted_columns), "contacts": 0, "history": 0,
                  "rejects": 0, "orders": 0, "interactions": 0, "merges": 0, "extra": 0,
                  "log_redacted": 0}
        cols = [c for c in CONTACT_FIELDS if _needs_transcode(old, new, "contacts", c)]
        kinds = [(k, col) for k, col in recoding.kinds
                 if (k in old.encrypted_columns or k in new.encrypted_columns)
                 and (_needs_transcode(old, new, "contacts", k) or not same_key(old, new))]
        hits: set[str] = set()
        if cols or kinds:
            recoder = recoding.recoder(old, new, columns=cols, kinds=kinds, log_words=log_words)
            counts["contacts"] = self._transcode_contacts(recoding, recoder, hits, workers,
                                                          advance)
            counts["extra"] = sum(self._transcode_extra(table, old, new, cols)
                                  for table in EXTRA_TABLES)
            counts["history"] = self._transcode_history(old, new, cols)
            counts["merges"] = self._transcode_merges(recoder, old, new)
        for table, column, rid in (("rejects", "raw", "line"), ("orders", "customer_ref", "id"),
                                   ("interactions", "customer_ref", "id")):
            if _needs_transcode(old, new, table, column):
                counts[table] = self._transcode_column(old, new, table, column, rid)
        if hits:
            counts["log_redacted"] = self.store.forget.redact_log(hits)
        self.save_state(new)
        self._record_rekey(op, operation, old, new)
        op.counts.update(counts)
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
    def _transcode_contacts(self, recoding: Recoding, recoder: RowRecoder, hits: set[str],
                            workers: int | None,
                            advance: Callable[[int], None] | None = None) -> int:
        """Re-key every contact row; the logged words found in their plaintext go to `hits`."""
        sets = ", ".join(f"{c} = ?" for c in recoder.writes)
        done = 0
        rows = self._rows_by_id("contacts", recoder.reads)
        recoded = recoding.recode_rows(recoder, rows, workers=workers)
        try:
            with self.db.indexes_dropped("contacts", recoder.writes):
                for updates, found in recoded:
                    self.db.executemany(f"UPDATE contacts SET {sets} WHERE id = ?", updates)
                    hits |= found
                    done += len(updates)
                    if advance is not None:
                        advance(len(updates))
        finally:
            # on an error the pool stops here and now, not when the traceback goes
            close = getattr(recoded, "close", None)
            if close is not None:
                close()
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

    def _transcode_extra(self, table: str, old: Any, new: Any, cols: list[str]) -> int:
        """Re-seal the copies of re-keyed fields held in `table`'s `extra` (phone_2,
        email_3, an order's delivery address, ...); returns the rows changed."""
        if not cols:
            return 0
        probe = " OR ".join(f"instr(extra, '\"{c}') > 0" for c in cols)
        last, done = 0, 0
        while rows := self.db.tuples(
                f"SELECT id, extra FROM {table} WHERE id > ? AND extra <> '{{}}' AND ({probe}) "
                f"ORDER BY id LIMIT {_BATCH}", (last,)).fetchall():
            updates = [(text, rid) for rid, extra in rows
                       if (text := recode_extra(old, new, rid, extra, table)) is not None]
            self.db.executemany(f"UPDATE {table} SET extra = ? WHERE id = ?", updates)
            done += len(updates)
            last = rows[-1][0]
        return done

    def _transcode_merges(self, recoder: RowRecoder, old: Any, new: Any) -> int:
        """Re-seal the contact rows a merge keeps for `unmerge` (extra included), and its key id."""
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
                    extra = recode_extra(old, new, row["id"], row.get("extra"))
                    row["extra"] = row.get("extra") if extra is None else extra
            payload["key_id"] = getattr(new, "key_id", None)
            self.db.execute("UPDATE merges SET payload = ? WHERE id = ?",
                            (json.dumps(payload, ensure_ascii=False, sort_keys=True), r["id"]))
            done += 1
        return done

    def _transcode_history(self, old: Any, new: Any, cols: list[str]) -> int:
        """Re-seal history values of re-keyed fields, and the field copies in `extra` changes."""
        if not cols:
            return 0
        marks = ",".join("?" * len(cols))
        last, done = 0, 0
        while rows := self.db.execute(
                f"SELECT id, contact_id, field, old, new FROM history WHERE id > ? "
                f"AND field IN ({marks}, 'extra') AND (old IS NOT NULL OR new IS NOT NULL) "
                f"ORDER BY id LIMIT {_BATCH}", (last, *cols)).fetchall():
            updates = [(*self._history_values(old, new, r), r["id"]) for r in rows]
            self.db.executemany("UPDATE history SET old = ?, new = ? WHERE id = ?", updates)
            done += len(rows)
            last = rows[-1]["id"]
        return done

    @staticmethod
    def _history_values(old: Any, new: Any, r: Any) -> tuple[Any, Any]:
        cid, fld = r["contact_id"], r["field"]
        if fld == "extra":
            return tuple(v if (t := recode_extra(old, new, cid, v)) is None else t
                         for v in (r["old"], r["new"]))
        return tuple(new.seal("history", fld, cid, old.unseal("history", fld, cid, r[v]))
                     for v in ("old", "new"))

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
