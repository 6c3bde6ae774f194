"""Orders and interactions as a customer's card shows them, and every table for export."""

from __future__ import annotations

from collections.abc import Iterator

from custdata.store.component import Component


class Linked(Component):
    """One contact's orders and interactions."""

    def orders_of(self, contact_id: int, limit: int | None = None) -> list[dict]:
        sql = ("SELECT * FROM orders WHERE contact_id = ? ORDER BY day DESC, id DESC"
               + (f" LIMIT {int(limit)}" if limit else ""))
        return [dict(r) for r in self.db.execute(sql, (contact_id,))]

    def order_totals(self, contact_id: int) -> dict:
        row = self.db.execute(
            "SELECT count(*) AS orders, "
            "sum(status_norm = 'paid') AS paid_orders, "
            "sum(CASE WHEN status_norm IN ('paid', 'refunded') THEN amount_value END) AS net_amount, "
            "min(CASE WHEN status_norm = 'paid' THEN day END) AS first_order, "
            "max(CASE WHEN status_norm = 'paid' THEN day END) AS last_order, "
            "group_concat(DISTINCT currency) AS currencies "
            "FROM orders WHERE contact_id = ?", (contact_id,)).fetchone()
        return dict(row)

    def interactions_of(self, contact_id: int, limit: int | None = None) -> list[dict]:
        sql = ("SELECT * FROM interactions WHERE contact_id = ? ORDER BY day DESC, id DESC"
               + (f" LIMIT {int(limit)}" if limit else ""))
        return [self.unseal_row("interactions", dict(r))
                for r in self.db.execute(sql, (contact_id,))]


class Tables(Component):
    """Whole tables streamed for export."""

    def count(self, table: str) -> int:
        """How many rows contacts/orders/interactions hold."""
        if table not in ("contacts", "orders", "interactions"):
            raise ValueError(table)
        return self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def rows(self, table: str, *, equal: dict[str, str] | None = None,
             missing: tuple[str, ...] = (), opened_equal: dict[str, str] | None = None,
             changed_since: str | None = None, batch: int = 5000,
             order_by: str | None = None, descending: bool = False,
             limit: int | None = None) -> Iterator[dict]:
        """Rows of contacts/orders/interactions in id order (or `order_by` a stored column,
        then id), streamed.

        equal: stored column = value (keys already in their stored, indexed form);
        missing: columns that must be empty; opened_equal: sealed columns compared after
        opening; changed_since: contacts changed at or after this UTC timestamp; limit:
        at most this many rows (with opened_equal, counted after the comparison).
        Sorting is SQLite's (a top-N sort with a limit): memory stays flat either way.
        """
        clauses: list[str] = []
        args: list[object] = []
        for column in missing:
            clauses.append(f"({column} IS NULL OR {column} = '')")
        for column, value in (equal or {}).items():
            clauses.append(f"{column} = ?")
            args.append(value)
        if changed_since and table == "contacts":
            clauses.append("changed_at >= ?")
            args.append(changed_since)
        where_sql = " AND ".join(clauses)
        after = opened_equal or {}
        if order_by is not None:
            yield from self._sorted(table, where_sql, args, order_by, descending,
                                    None if after else limit, after)
            return
        last = 0
        while True:
            sql = (f"SELECT * FROM {table} WHERE id > ? {('AND ' + where_sql) if where_sql else ''} "
                   f"ORDER BY id LIMIT {batch}")
            rows = self.db.execute(sql, (last, *args)).fetchall()
            if not rows:
                return
            yield from self._opened(table, rows, after)
            last = rows[-1]["id"]

    def _opened(self, table: str, rows: list, after: dict[str, str]) -> Iterator[dict]:
        """The rows opened with the key, those whose opened values match `after` (the
        filters on sealed columns, checked after opening)."""
        for r in rows:
            row = self.unseal_row(table, dict(r))
            if all(row[c] == v for c, v in after.items()):
                yield row

    def _sorted(self, table: str, where_sql: str, args: list, order_by: str, descending: bool,
                limit: int | None, after: dict[str, str]) -> Iterator[dict]:
        """The rows in `order_by` order (empty values last), streamed from one cursor."""
        way = "DESC" if descending else "ASC"
        sql = (f"SELECT * FROM {table} {('WHERE ' + where_sql) if where_sql else ''} "
               f"ORDER BY ({order_by} IS NULL OR {order_by} = '') ASC, {order_by} {way}, id "
               + (f"LIMIT {int(limit)}" if limit is not None else ""))
        cursor = self.db.execute(sql, tuple(args))
        while True:
            rows = cursor.fetchmany(1000)
            if not rows:
                return
            yield from self._opened(table, rows, after)
