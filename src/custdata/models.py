"""Canonical field names (SPEC.md section 2) and small frozen records shared by the core."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

# Contact fields a user can import, in export order. `id` and `extra` frame them.
CONTACT_FIELDS: tuple[str, ...] = (
    "external_id", "name", "gender", "birth_date", "company", "title", "industry",
    "company_size", "email", "phone", "id_number", "address", "city", "province",
    "postal_code", "country", "source", "owner", "consent", "created_at", "updated_at",
    "stage", "tier", "tags",
)
ORDER_FIELDS: tuple[str, ...] = (
    "order_id", "customer_id", "order_date", "amount", "currency", "product", "category",
    "status",
)
INTERACTION_FIELDS: tuple[str, ...] = (
    "customer_id", "at", "channel", "direction", "outcome", "satisfaction", "note",
)
FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {
    "contacts": CONTACT_FIELDS,
    "orders": ORDER_FIELDS,
    "interactions": INTERACTION_FIELDS,
}
ORDER_STATUSES = ("paid", "refunded", "cancelled")
# The per-customer order aggregates the store computes and segments scores, in order.
AGGREGATE_COLUMNS: tuple[str, ...] = (
    "contact_id", "recency_days", "frequency", "monetary", "paid_days", "tenure_days",
    "gap_days", "window_revenue", "prior_revenue", "window_orders",
)


@dataclass(frozen=True)
class Reject:
    """A row that could not be stored: its physical line, raw text and why."""

    line: int
    raw: str
    reason: str


@dataclass(frozen=True)
class Skipped:
    """A row that is not data (blank, a totals row): its physical line and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class ImportCounts:
    """The summary line of `import`:
    read = inserted + updated + unchanged + rejected + skipped."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    orders: int | None = None  # an orders file: how many orders its lines made
    erased: int = 0  # of the skipped: rows of people erased at their request (forget)

    def summary(self) -> str:
        """"read 10, inserted 6, updated 0, unchanged 0, rejected 3, skipped 1"; an orders
        file with several lines to an order says "read 9994 lines in 5009 orders, ..."."""
        lines = self.inserted + self.updated + self.unchanged
        made = f" lines in {self.orders} orders" \
            if self.orders is not None and self.orders != lines else ""
        return (
            f"read {self.read}{made}, inserted {self.inserted}, updated {self.updated}, "
            f"unchanged {self.unchanged}, rejected {self.rejected}, skipped {self.skipped}"
            + (f" ({self.erased} erased at the person's request)" if self.erased else "")
        )


@dataclass(frozen=True)
class Change:
    """One recorded change to a stored contact value (the `history` table)."""

    contact_id: int
    field: str
    old: str | None
    new: str | None
    operation: str
    detail: dict = field(default_factory=dict)


class CleanedContact(NamedTuple):
    """One contact's cleaned values, as `clean` writes them (store.cleaning.write_cleaned).

    values: column -> new plain value (derived columns such as phone_type included);
    keys: (kind, key column, plain match key) for each match key of a changed field;
    old_keys: key column -> the key as stored now (a key is written only when it moves);
    changes: the history rows (operation "clean"); none when only a derived column moved.
    """

    contact_id: int
    values: dict[str, str | None]
    keys: tuple[tuple[str, str, str | None], ...]
    old_keys: dict[str, str | None]
    changes: list[Change]
