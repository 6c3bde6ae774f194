"""export's view options: which columns, in which order, how many (`--columns`, `--sort`,
`--limit`), checked before the store is read.

    view = ExportView.of("contacts", EXPORT_COLUMNS["contacts"], columns="name,phone",
                         sort="created_at:desc", limit=20)
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from custdata.errors import UsageError

# Export field -> the stored column SQLite sorts by (a parsed number or day where one is kept).
_SORT_COLUMN = {
    "orders": {"id": "contact_id", "customer_id": "customer_ref", "amount": "amount_value",
               "order_date": "day"},
    "interactions": {"id": "contact_id", "customer_id": "customer_ref",
                     "satisfaction": "satisfaction_value"},
}
# Columns a table at a terminal shows when none are chosen: who, how to reach, where.
TABLE_DEFAULT = {
    "contacts": ["id", "external_id", "name", "company", "phone", "email", "city", "owner",
                 "stage", "tier"],
}


@dataclass(frozen=True)
class ExportView:
    """The columns to export (in order), the sort (an export field, stored column,
    descending) and the row limit; None = every column / id order / every row."""

    columns: list[str]
    sort_field: str | None = None
    sort_column: str | None = None
    descending: bool = False
    limit: int | None = None

    @classmethod
    def of(cls, kind: str, all_columns: list[str], *, columns: str | Iterable[str] | None = None,
           sort: str | None = None, limit: int | None = None) -> "ExportView":
        """The view `columns` ("a,b" or a list), `sort` ("field" or "field:desc") and
        `limit` describe; UsageError (exit 2) for an unknown column or a bad limit."""
        chosen = _columns(kind, all_columns, columns)
        if limit is not None and limit < 0:
            raise UsageError(f"The limit must be 0 or more (got {limit}).", hint="export_limit")
        if sort is None or not sort.strip():
            return cls(chosen, limit=limit)
        name, _, way = sort.strip().partition(":")
        name, way = name.strip().lower(), way.strip().lower()
        if way not in ("", "asc", "desc"):
            raise UsageError(f"Sort {sort!r}: write FIELD or FIELD:desc (or FIELD:asc).",
                             hint="sort")
        if name not in all_columns or name == "extra":
            raise UsageError(f"Cannot sort {kind} by {name!r}; use one of: "
                             f"{', '.join(c for c in all_columns if c != 'extra')}.", hint="sort")
        column = _SORT_COLUMN.get(kind, {}).get(name, name)
        return cls(chosen, name, column, way == "desc", limit)

    def shape(self, rows: Iterable[dict], *, all_columns: list[str]) -> Iterator[dict]:
        """The rows cut to the limit and, when columns were chosen, to those columns in
        order (every column: the rows pass whole, with what writers such as the
        workbook's read beside the fields, e.g. an order's parsed day)."""
        if self.limit is not None:
            rows = islice(rows, self.limit)
        if self.columns == all_columns:
            yield from rows
            return
        for row in rows:
            yield {c: row.get(c) for c in self.columns}

    def sorted_in_memory(self, rows: Iterable[dict]) -> Iterator[dict]:
        """The rows sorted by their opened values (a sealed column, which SQLite cannot
        order), empty values last: with a limit only the best `limit` are held (a heap);
        without one every row is."""
        field, keep = self.sort_field or "id", self.limit
        empties: list[dict] = []

        def filled() -> Iterator[dict]:
            for row in rows:
                if row.get(field) not in (None, ""):
                    yield row
                elif keep is None or len(empties) < keep:
                    empties.append(row)

        def key(row: dict) -> tuple[str, int]:
            return (str(row[field]), row["id"])

        if keep is None:
            best = sorted(filled(), key=key, reverse=self.descending)
            return iter(best + empties)
        pick = heapq.nlargest if self.descending else heapq.nsmallest
        best = pick(keep, filled(), key=key)
        return iter((best + empties)[:keep])


def _columns(kind: str, all_columns: list[str], columns: Any) -> list[str]:
    if columns is None:
        return list(all_columns)
    names = columns.split(",") if isinstance(columns, str) else list(columns)
    chosen = [n.strip().lower() for n in names if n.strip()]
    unknown = [n for n in chosen if n not in all_columns]
    if unknown or not chosen:
        raise UsageError(f"{', '.join(map(repr, unknown)) or 'No column'} is not a column of "
                         f"{kind}; choose from: {', '.join(all_columns)}.", hint="columns")
    return list(dict.fromkeys(chosen))
