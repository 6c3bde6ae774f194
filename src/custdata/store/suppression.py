"""The suppression list: keyed hashes of erased people's identifiers (issue 18, case 7).

`forget` adds the match keys of the person it erases (email, phone, id number, external
id), each as an HMAC-SHA256 under a random key of this store, never the value; `import`
asks, once per batch and kind of key, which of its rows' keys are on the list, and skips
those rows. The caller makes the normalized keys (custdata.normalize.keys): this module
only hashes and looks up.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from custdata.store.component import Component

_SECRET = "suppression_key"


class Suppression(Component):
    """`add` keys of an erased person, `matching` keys of rows to import, `erasures`."""

    def add(self, op_id: int, at: str, keys: Iterable[tuple[str, str]]) -> int:
        """Put (kind, normalized key) pairs on the list; returns how many were new."""
        digest = self._hasher(create=True)
        rows = sorted({(kind, digest(kind, key)) for kind, key in keys if key})
        before = self._count()
        self.db.executemany("INSERT OR IGNORE INTO suppressed (kind, key_hash, op_id, at) "
                            "VALUES (?, ?, ?, ?)", [(*r, op_id, at) for r in rows])
        return self._count() - before

    def active(self) -> bool:
        """Whether anyone was ever erased (an import checks nothing otherwise)."""
        return self.db.execute("SELECT 1 FROM suppressed LIMIT 1").fetchone() is not None

    def matching(self, kind: str, keys: Iterable[str | None]) -> set[str]:
        """The keys of `kind` (normalized, as given) that belong to an erased person."""
        digest = self._hasher(create=False)
        if digest is None:
            return set()
        by_hash = {digest(kind, k): k for k in set(keys) if k}
        found = self.db.rows_where_in("suppressed", "key_hash", by_hash, "kind, key_hash")
        return {by_hash[r["key_hash"]] for r in found if r["kind"] == kind}

    def erasures(self) -> list[dict]:
        """One row per erasure, oldest first: when, and how many identifiers it listed."""
        return [dict(r) for r in self.db.execute(
            "SELECT at, count(*) AS identifiers FROM suppressed GROUP BY op_id, at "
            "ORDER BY at, op_id").fetchall()]

    def _count(self) -> int:
        return self.db.execute("SELECT count(*) FROM suppressed").fetchone()[0]

    def _hasher(self, *, create: bool):
        """digest(kind, key) under this store's suppression key (made on first use)."""
        secret = self.store.meta.get(_SECRET)
        if secret is None:
            if not create:
                return None
            secret = secrets.token_hex(32)
            self.store.meta.set(_SECRET, secret)
        key = bytes.fromhex(secret)

        def digest(kind: str, value: str) -> str:
            return hmac.new(key, f"{kind}\x00{value}".encode("utf-8", "surrogatepass"),
                            hashlib.sha256).hexdigest()
        return digest
