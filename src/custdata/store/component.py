"""The base of every store component: a named part of `Store` that speaks SQL for one subject."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from custdata.store.extra import EXTRA_TABLES, unseal_extra

if TYPE_CHECKING:
    from custdata.crypto.protector import Protector
    from custdata.store import Store
    from custdata.store.database import SQLiteDatabase


class Component:
    """One subject of the store (contacts, history, oplog, ...), sharing its database."""

    def __init__(self, store: "Store") -> None:
        self.store = store

    @property
    def db(self) -> "SQLiteDatabase":  # or PostgresDatabase: the same interface
        return self.store.db

    @property
    def protector(self) -> "Protector":
        return self.store.protector

    def unseal_row(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        """The row with its sealed columns opened (or masked, without the key)."""
        protector = self.protector
        if not protector.encrypted_columns:
            return row
        rid = row["id"]
        for col in protector.sealed_columns(table):
            if col in row:
                row[col] = protector.unseal(table, col, rid, row[col])
        if "extra" in row and table in EXTRA_TABLES:
            row["extra"] = unseal_extra(protector, rid, row["extra"], table)
        return row
