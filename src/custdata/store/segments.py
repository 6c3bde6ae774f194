"""Store side of tag / report rfm / report summary: per-customer order aggregates in SQL.

One GROUP BY over the orders' parsed columns (day, amount_value, status_norm, currency)
gives every aggregate the core needs; the core scores them with numpy/pandas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

import pandas as pd

from custdata.models import Change
from custdata.segments import (
    AGGREGATE_COLUMNS, TagRules, as_of_window, report_currency, rfm_scores,
)
from custdata.store.core import utc_now

_CUR = "upper(trim(coalesce(o.currency, '')))"

_AGGREGATE_SQL = """
WITH o AS (
    SELECT o.contact_id, o.day, o.status_norm = 'paid' AS paid, {cur} AS cur,
           CASE o.status_norm WHEN 'paid' THEN coalesce(o.amount_value, 0)
                ELSE -abs(coalesce(o.amount_value, 0)) END * ({rate}) AS net
    FROM orders o
    WHERE o.contact_id IS NOT NULL AND o.day IS NOT NULL AND o.day <= :as_of
      AND o.status_norm IN ('paid', 'refunded') {only}
), g AS (
    SELECT contact_id,
           max(CASE WHEN paid THEN day END) AS last_day,
           min(CASE WHEN paid THEN day END) AS first_day,
           sum(paid) AS frequency,
           total(net) AS monetary,
           count(DISTINCT CASE WHEN paid THEN day END) AS paid_days,
           total(CASE WHEN day > :win THEN net END) AS window_revenue,
           total(CASE WHEN day > :prior AND day <= :win THEN net END) AS prior_revenue,
           total(CASE WHEN day > :win THEN paid END) AS window_orders,
           min(nullif(cur, '')) AS cur_min, max(nullif(cur, '')) AS cur_max
    FROM o GROUP BY contact_id
)
SELECT g.contact_id,
       CAST(julianday(:as_of) - julianday(g.last_day) AS INTEGER) AS recency_days,
       coalesce(g.frequency, 0) AS frequency, g.monetary,
       g.paid_days,
       CAST(julianday(:as_of) - julianday(g.first_day) AS INTEGER) AS tenure_days,
       CASE WHEN julianday(g.last_day) - julianday(g.first_day) > :gap_over THEN
           julianday(g.last_day) - julianday((
               SELECT max(p.day) FROM orders p
               WHERE p.contact_id = g.contact_id AND p.status_norm = 'paid'
                 AND p.day < g.last_day))
       END AS gap_days,
       g.window_revenue, g.prior_revenue, g.window_orders, g.cur_min, g.cur_max
       {extra_columns}
FROM g {join}
WHERE g.frequency > 0
ORDER BY g.contact_id
"""


class SegmentsMixin:
    """Order aggregates, stage/tier writes and the summary for `tag` and `report`."""

    def order_aggregates(self, *, as_of: date, window_days: int = 365,
                         rates: Mapping[str, float] | None = None, only: str | None = None,
                         gap_over: float | None = None, external_ids: bool = False,
                         ) -> tuple[pd.DataFrame, set[str]]:
        """(aggregates per customer, currencies seen) from one GROUP BY over the orders.

        Amounts are multiplied by `rates[currency]` (1 for other currencies); `only`
        keeps orders in that currency (and orders without one). `gap_days` is computed
        only where the first-to-last span exceeds `gap_over` (None: nowhere). The
        currencies seen are exact when there is at most one, else a subset of two or more.
        """
        params: dict[str, object] = {}
        rate_sql = "1.0"
        if rates:
            whens = []
            for i, (code, value) in enumerate(sorted(rates.items())):
                params[f"c{i}"], params[f"r{i}"] = code.strip().upper(), float(value)
                whens.append(f"WHEN :c{i} THEN :r{i}")
            rate_sql = f"CASE {_CUR} {' '.join(whens)} ELSE 1.0 END"
        only_sql = ""
        if only:
            only_sql = f"AND {_CUR} IN (:only, '')"
            params["only"] = only.strip().upper()
        iso, win, prior = as_of_window(as_of, window_days)
        params.update(as_of=iso, win=win, prior=prior,
                      gap_over=1e18 if gap_over is None else float(gap_over))
        sql = _AGGREGATE_SQL.format(
            cur=_CUR, rate=rate_sql, only=only_sql,
            extra_columns=", c.external_id" if external_ids else "",
            join="LEFT JOIN contacts c ON c.id = g.contact_id" if external_ids else "")
        cur = self.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        frame = pd.DataFrame.from_records(cur.fetchall(), columns=names)
        seen = set(frame["cur_min"].dropna()) | set(frame["cur_max"].dropna())
        frame = frame.drop(columns=["cur_min", "cur_max"])
        for col in ("contact_id", "recency_days", "frequency", "paid_days", "tenure_days",
                    "window_orders"):
            frame[col] = frame[col].astype("int64")
        for col in ("monetary", "gap_days", "window_revenue", "prior_revenue"):
            frame[col] = frame[col].astype("float64")
        if external_ids and "external_id" in self.protector.encrypted_columns:
            frame["external_id"] = [self.protector.unseal("contacts", "external_id", int(i), v)
                                    for i, v in zip(frame["contact_id"], frame["external_id"])]
        return frame, seen

    def order_currencies(self, *, as_of: date) -> set[str]:
        """Every currency of the paid/refunded orders dated on or before `as_of`."""
        sql = (f"SELECT DISTINCT {_CUR} FROM orders o WHERE o.contact_id IS NOT NULL "
               "AND o.day IS NOT NULL AND o.day <= ? AND o.status_norm IN ('paid', 'refunded')")
        return {r[0] for r in self.conn.execute(sql, (as_of.isoformat(),)) if r[0]}

    def customer_aggregates(self, *, as_of: date, only: str | None = None,
                            for_tag: bool = False, external_ids: bool = False,
                            ) -> tuple[pd.DataFrame, str]:
        """(aggregates, report currency) with the [rfm] currency rules applied.

        Raises UsageError (exit 2) for several currencies without rates. With `for_tag`
        the gaps the lifecycle rules need are computed too.
        """
        configured = str(self.config.get("rfm", "currency") or "")
        rates = dict(self.config.get("rfm", "rates") or {})
        rules = TagRules.from_mapping(self.config.section("tag"))
        sql_rates = {k: v for k, v in rates.items()
                     if configured and k.strip().upper() != configured.strip().upper()}
        frame, seen = self.order_aggregates(
            as_of=as_of, window_days=rules.tier_window_days,
            rates=None if only else sql_rates, only=only,
            gap_over=rules.churn_days if for_tag else None, external_ids=external_ids)
        if len(seen) > 1 and not only:
            seen = self.order_currencies(as_of=as_of)
        currency, _ = report_currency(seen, configured=configured, rates=rates, only=only)
        return frame, currency

    def contact_tags(self) -> pd.DataFrame:
        """contact_id, stage, tier of every contact (None = never set)."""
        cur = self.conn.execute("SELECT id AS contact_id, stage, tier FROM contacts ORDER BY id")
        frame = pd.DataFrame.from_records(cur.fetchall(), columns=["contact_id", "stage", "tier"])
        frame["contact_id"] = frame["contact_id"].astype("int64")
        return frame

    def apply_tags(self, op_id: int, changes: Iterable[tuple[int, str, str | None, str]],
                   *, as_of: date) -> int:
        """Write stage/tier changes with their change times and history rows ("tag")."""
        now = utc_now()
        changes = list(changes)
        for field in ("stage", "tier"):
            rows = [(new, now, now, cid) for cid, f, _, new in changes if f == field]
            self.conn.executemany(
                f"UPDATE contacts SET {field} = ?, {field}_changed_at = ?, changed_at = ? "
                "WHERE id = ?", rows)
        detail = {"as_of": as_of.isoformat()}
        self.record_changes(op_id, (Change(cid, f, old, new, "tag", detail)
                                    for cid, f, old, new in changes), at=now)
        return len(changes)

    def rfm_of_contact(self, contact_id: int, as_of: date) -> dict | None:
        """The RFM cell, segment, recency_days, frequency, monetary of one customer, or None.

        Scores rank the customer among all customers, so this scores everybody. None for
        a contact without paid orders, or when currencies are mixed without rates.
        """
        from custdata.errors import UsageError

        try:
            frame, _ = self.customer_aggregates(as_of=as_of)
        except UsageError:
            return None
        if not (frame["contact_id"] == contact_id).any():
            return None
        row = rfm_scores(frame).set_index("contact_id").loc[contact_id]
        return {"cell": row["cell"], "segment": row["segment"],
                "recency_days": int(row["recency_days"]), "frequency": int(row["frequency"]),
                "monetary": round(float(row["monetary"]), 2)}


__all__ = ["SegmentsMixin", "AGGREGATE_COLUMNS"]
