"""Reading contacts: by id, by identifier, streamed in id order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from custdata.errors import KeyFileError
from custdata.store.component import Component
from custdata.store.database import IN_LIMIT

# The identifier columns a contact can be looked up by (keys already normalized by the caller).
LOOKUP_COLUMNS = ("email_key", "phone_key", "id_number_key")
_KIND_OF = {"email_key": "email", "phone_key": "phone", "id_number_key": "id_number"}


class Contacts(Component):
    """The contacts table, as plain dicts with encrypted columns opened (or masked)."""

    def iter(self, where: str = "", args: tuple = (), *, batch: int = 5000) -> Iterator[dict]:
        """Every contact (matching the SQL condition `where`), in id order, streamed."""
        last = 0
        while True:
            sql = (f"SELECT * FROM contacts WHERE id > ? {('AND ' + where) if where else ''} "
                   f"ORDER BY id LIMIT {batch}")
            rows = self.db.execute(sql, (last, *args)).fetchall()
            if not rows:
                return
            for r in rows:
                yield self.unseal_row("contacts", dict(r))
            last = rows[-1]["id"]

    def by_ids(self, contact_ids: Iterable[int]) -> Iterator[dict]:
        """The contacts with these ids, in id order, streamed."""
        ids = sorted(set(contact_ids))
        for start in range(0, len(ids), IN_LIMIT):
            part = ids[start:start + IN_LIMIT]
            marks = ",".join("?" * len(part))
            for row in self.db.execute(
                    f"SELECT * FROM contacts WHERE id IN ({marks}) ORDER BY id", part):
                yield self.unseal_row("contacts", dict(row))

    def get(self, contact_id: int) -> dict | None:
        row = self.db.execute("SELECT * FROM contacts WHERE id = ?", (contact_id,)).fetchone()
        return self.unseal_row("contacts", dict(row)) if row else None

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM contacts").fetchone()[0]

    def max_id(self) -> int:
        return self.db.execute("SELECT coalesce(max(id), 0) FROM contacts").fetchone()[0]

    def find_ids(self, *, contact_id: int | None = None, external_id: str | None = None,
                 email_key: str | None = None, phone_key: str | None = None,
                 id_number_key: str | None = None) -> list[int]:
        """Ids of contacts matching any of the given identifiers (keys already normalized)."""
        found: set[int] = set()
        probes: list[tuple[str, object]] = [("id", contact_id), ("external_id", external_id)]
        no_key = None  # without the key, blind-index probes cannot run; the others still can
        for column, key in (("email_key", email_key), ("phone_key", phone_key),
                            ("id_number_key", id_number_key)):
            try:
                probes.append((column, self.protector.index(_KIND_OF[column], key)))
            except KeyFileError as exc:
                no_key = exc
        for column, value in probes:
            if value is None:
                continue
            found.update(r[0] for r in self.db.execute(
                f"SELECT id FROM contacts WHERE {column} = ?", (value,)))
        if not found and no_key is not None:
            raise no_key
        return sorted(found)

    def external_ids(self, contact_ids: Iterable[int]) -> dict[int, str | None]:
        return {r["id"]: r["external_id"] for r in self.db.rows_where_in(
            "contacts", "id", contact_ids, "id, external_id")}
