"""Store side of `report churn`: per-customer order and interaction facts up to a date.

Two GROUP BYs (orders, interactions) give the facts `custdata.churn` scores; nothing
after the as-of date is read, which is what makes `--backtest` honest. The orders one
runs on every core over contact-id ranges in a big store, as `report rfm` does.
"""

from __future__ import annotations
from custdata.store.component import Component

from collections.abc import Iterable, Mapping
from datetime import date, timedelta

_ORDER_FACTS_SQL = """
WITH o AS (
    SELECT contact_id, day, status_norm = 'paid' AS paid,
           CASE status_norm WHEN 'paid' THEN coalesce(amount_value, 0)
                ELSE -abs(coalesce(amount_value, 0)) END * ({rate}) AS net
    FROM orders
    WHERE contact_id >= :lo AND contact_id < :hi AND day IS NOT NULL AND day <= :as_of
      AND status_norm IN ('paid', 'refunded')
)
SELECT contact_id,
       min(CASE WHEN paid THEN day END) AS first_paid,
       max(CASE WHEN paid THEN day END) AS last_paid,
       count(DISTINCT CASE WHEN paid THEN day END) AS paid_days,
       min(day) AS first_order,
       max(day) AS last_order,
       total(CASE WHEN day > :window_start THEN net END) AS value
FROM o GROUP BY contact_id ORDER BY contact_id
"""

_CONTACT_SQL = """
SELECT contact_id, max(day) AS last_contact FROM interactions
WHERE contact_id IS NOT NULL AND day IS NOT NULL AND day <= :as_of
GROUP BY contact_id
"""

_RATING_SQL = """
SELECT contact_id, satisfaction_value AS last_rating, channel AS last_rating_channel
FROM (
    SELECT contact_id, satisfaction_value, channel,
           row_number() OVER (PARTITION BY contact_id ORDER BY day DESC, id DESC) AS n
    FROM interactions
    WHERE contact_id IS NOT NULL AND day IS NOT NULL AND day <= :as_of
      AND satisfaction_value BETWEEN 1 AND 5
) AS latest WHERE n = 1
"""


class ChurnFacts(Component):
    """Order histories, interaction recency and last ratings for churn scoring."""

    def churn_facts(self, *, as_of: date, window_days: int = 365,
                    rates: Mapping[str, float] | None = None) -> list[dict]:
        """One dict per contact with a paid or refunded order dated on or before `as_of`.

        Keys: contact_id, first_paid, last_paid, paid_days (distinct days with a paid
        order), first_order, last_order (paid or refunded), value (net revenue of the
        `window_days` up to as_of: refunds subtracted, cancelled orders ignored, each
        amount times `rates[its currency]`, 1 for a currency not in `rates`),
        last_contact, last_rating (1-5), last_rating_channel. Orders and interactions
        without a readable date are left out.
        """
        args = {"as_of": as_of.isoformat(),
                "window_start": (as_of - timedelta(days=window_days)).isoformat()}
        whens = []
        for i, (code, value) in enumerate(sorted((rates or {}).items())):
            args[f"cur{i}"], args[f"rate{i}"] = code.strip().upper(), float(value)
            whens.append(f"WHEN :cur{i} THEN :rate{i}")
        rate = (f"CASE upper(trim(coalesce(currency, ''))) {' '.join(whens)} ELSE 1.0 END"
                if whens else "1.0")
        rows, names = self.db.fetch_by_contact_range(_ORDER_FACTS_SQL.format(rate=rate), args)
        facts = [dict(zip(names, row)) for row in rows]
        by_id = {f["contact_id"]: f for f in facts}
        for f in facts:
            f.update(last_contact=None, last_rating=None, last_rating_channel=None)
        for row in self.db.execute(_CONTACT_SQL, args):
            if row["contact_id"] in by_id:
                by_id[row["contact_id"]]["last_contact"] = row["last_contact"]
        for row in self.db.execute(_RATING_SQL, args):
            if row["contact_id"] in by_id:
                channel = (row["last_rating_channel"] or "").strip().lower() or None
                by_id[row["contact_id"]].update(last_rating=int(row["last_rating"]),
                                                last_rating_channel=channel)
        return facts

    def churn_currencies(self) -> list[str]:
        """Distinct currencies of paid and refunded orders (upper-cased, blanks left out)."""
        rows = self.db.execute(
            "SELECT DISTINCT upper(trim(currency)) FROM orders WHERE currency IS NOT NULL "
            "AND trim(currency) != '' AND status_norm IN ('paid', 'refunded')")
        return sorted(row[0] for row in rows)

    def customers_ordering_between(self, after: date, until: date) -> set[int]:
        """Ids of contacts with a paid order dated after `after`, up to and including `until`."""
        rows = self.db.execute(
            "SELECT DISTINCT contact_id FROM orders WHERE contact_id IS NOT NULL "
            "AND status_norm = 'paid' AND day > ? AND day <= ?",
            (after.isoformat(), until.isoformat()))
        return {row[0] for row in rows}

    def last_order_day(self) -> date | None:
        """The latest paid or refunded order date in the store, if any."""
        row = self.db.execute(
            "SELECT max(day) FROM orders WHERE day IS NOT NULL "
            "AND status_norm IN ('paid', 'refunded')").fetchone()
        return date.fromisoformat(row[0][:10]) if row and row[0] else None

    def churn_contact_fields(self, ids: Iterable[int]) -> dict[int, dict]:
        """contact id -> external_id, stage, tier (as shown to the user) for `ids`."""
        ids = list(ids)
        out: dict[int, dict] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                    f"SELECT id, external_id, stage, tier FROM contacts WHERE id IN ({marks})",
                    chunk):
                row = self.unseal_row("contacts", dict(row))
                out[row["id"]] = {k: row[k] for k in ("external_id", "stage", "tier")}
        return out
