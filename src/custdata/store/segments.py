"""Store side of tag / report rfm / report summary: per-customer order aggregates in SQL.

One GROUP BY over the orders' parsed columns (day, amount_value, status_norm, currency)
gives every aggregate the core needs; the core scores them with numpy/pandas.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from datetime import date, timedelta

from types import ModuleType
from typing import TYPE_CHECKING

from custdata.models import AGGREGATE_COLUMNS, Change
from custdata.store.component import Component
from custdata.store.oplog import utc_now

if TYPE_CHECKING:
    import pandas as pd


def _pandas() -> ModuleType:
    """pandas, imported on first use (a second of start-up no other command pays)."""
    import pandas

    return pandas

_CUR = "upper(trim(coalesce(currency, '')))"
_PAID = "status_norm = 'paid'"
# NULL amounts stay NULL: total() skips them, as if they were 0
_NET = "CASE WHEN status_norm = 'paid' THEN amount_value ELSE -abs(amount_value) END"
# Money is summed in whole units of 1/MONEY_UNITS (k = 4 decimals): each order's amount
# (after the rate) is rounded to a unit, half away from zero, in double arithmetic the
# same way on both engines (SQLite's round(r) is (int)(r +/- 0.5), spelt out for
# PostgreSQL, whose round(double) breaks ties to even), and divided once per sum. The
# units are whole numbers held in doubles, so a sum is exact whatever the order of the
# additions (a parallel worker's partial sums, SQLite's ranges) while the customer's
# amounts add up to less than 2**53 units (about 900 billion): both engines then give
# the same figure to the last bit. Past that the sums stay finite floats (no overflow),
# exact to ~16 digits. -0.0 is made 0.0 (PostgreSQL's sum starts from its first value).
MONEY_UNITS = 10_000
# tag on a server: past this many contacts changed, contacts' plain indexes are dropped
# for the UPDATE and built again (minutes -> seconds at 800k changes of 1M contacts)
REBUILD_INDEXES_AFTER = 50_000
_LITE_UNITS = "round(({net}) * 10000.0)"
_PG_UNITS = ("trunc(({net}) * 10000::float8 + CASE WHEN ({net}) < 0 THEN -0.5::float8 "
             "ELSE 0.5::float8 END)")

# The orders both dialects aggregate: paid and refunded, up to as_of, in one id range.
_ORDERS_BY_CONTACT = """FROM orders
WHERE contact_id >= :lo AND contact_id < :hi AND day <= :as_of
  AND status_norm IN ('paid', 'refunded') {only}
GROUP BY contact_id
"""
# One pass over the covering index orders_rfm (contact_id, day, status_norm,
# amount_value, currency): rows arrive grouped by contact, so no sort and no table reads.
_AGGREGATE_SQL = """
SELECT contact_id,
       CAST(julianday(:as_of) - julianday(max(CASE WHEN {paid} THEN day END)) AS INTEGER)
           AS recency_days,
       sum({paid}) AS frequency,
       total({units}) / 10000.0 AS monetary,
       min(currency) AS cur_min, max(currency) AS cur_max
       {tag_columns}
""" + _ORDERS_BY_CONTACT + """HAVING sum({paid}) > 0
"""
_TAG_COLUMNS = """,
       count(DISTINCT CASE WHEN {paid} THEN day END) AS paid_days,
       CAST(julianday(:as_of) - julianday(min(CASE WHEN {paid} THEN day END)) AS INTEGER)
           AS tenure_days,
       max(CASE WHEN {paid} THEN day END) AS last_day,
       total(CASE WHEN day > :win THEN {units} END) / 10000.0 AS window_revenue,
       total(CASE WHEN day > :prior AND day <= :win THEN {units} END) / 10000.0
           AS prior_revenue,
       total(CASE WHEN day > :win THEN {paid} END) AS window_orders"""
# The same aggregates in PostgreSQL's own terms: FILTER clauses and the built-in sum and
# count (C functions the planner can run in parallel workers) instead of the SQL-language
# total()/sum(boolean)/julianday() stand-ins that make the shared SQL run there; dates
# subtract as dates (whole days, as julianday's difference cast to an integer). A sum
# over no amount is NULL here and 0.0 in total(): coalesce.
_PG_AGGREGATE_SQL = """
SELECT contact_id,
       CAST(:as_of AS date) - CAST(max(day) FILTER (WHERE {paid}) AS date) AS recency_days,
       count(*) FILTER (WHERE {paid}) AS frequency,
       (coalesce(sum({units}), 0) + 0) / 10000::float8 AS monetary,
       min(currency) AS cur_min, max(currency) AS cur_max
       {tag_columns}
""" + _ORDERS_BY_CONTACT + """HAVING count(*) FILTER (WHERE {paid}) > 0
"""
_PG_TAG_COLUMNS = """,
       count(DISTINCT day) FILTER (WHERE {paid}) AS paid_days,
       CAST(:as_of AS date) - CAST(min(day) FILTER (WHERE {paid}) AS date) AS tenure_days,
       max(day) FILTER (WHERE {paid}) AS last_day,
       (coalesce(sum({units}) FILTER (WHERE day > :win), 0) + 0) / 10000::float8
           AS window_revenue,
       (coalesce(sum({units}) FILTER (WHERE day > :prior AND day <= :win), 0) + 0)
           / 10000::float8 AS prior_revenue,
       count(*) FILTER (WHERE day > :win AND {paid}) AS window_orders"""
# The day before the last paid day, only where the first-to-last span can hold a gap
# longer than the threshold (index lookups on (contact_id, day), a few customers).
_GAP_SQL = """
SELECT a.contact_id, julianday(a.last_day) - julianday((
           SELECT max(p.day) FROM orders p
           WHERE p.contact_id = a.contact_id AND p.status_norm = 'paid' AND p.day < a.last_day))
FROM temp.segment_gap_candidates a
"""


class Segments(Component):
    """Order aggregates, stage/tier writes and the stored RFM cells for `tag` and `report`.

    Domain rules (windows, rates, thresholds) come in as values from custdata.api.
    """

    def order_aggregates(self, *, as_of: date, window_days: int = 365,
                         rates: Mapping[str, float] | None = None, only: str | None = None,
                         for_tag: bool = False, gap_over: float | None = None,
                         external_ids: bool = False) -> tuple[pd.DataFrame, set[str]]:
        """(aggregates per customer, currencies seen) from one GROUP BY over the orders.

        Amounts are multiplied by `rates[currency]` (1 for other currencies); `only`
        keeps orders in that currency (and orders without one). Without `for_tag` only
        contact_id, recency_days, frequency and monetary are filled. `gap_days` is
        computed only where the first-to-last span exceeds `gap_over` (None: nowhere).
        The currencies seen (raw spellings) are exact when there is at most one; when
        several show up, ask `order_currencies` for the full list.
        """
        params: dict[str, object] = {}
        net = _NET
        if rates:
            whens = []
            for i, (code, value) in enumerate(sorted(rates.items())):
                params[f"c{i}"], params[f"r{i}"] = code.strip().upper(), float(value)
                whens.append(f"WHEN :c{i} THEN :r{i}")
            net = f"({_NET}) * (CASE {_CUR} {' '.join(whens)} ELSE 1.0 END)"
        only_sql = ""
        if only:
            only_sql = f"AND {_CUR} IN (:only, '')"
            params["only"] = only.strip().upper()
        params.update(as_of=as_of.isoformat(),
                      win=(as_of - timedelta(days=window_days)).isoformat(),
                      prior=(as_of - timedelta(days=2 * window_days)).isoformat())
        on_server = self.db.dialect == "postgres"
        tag_sql, query = ((_PG_TAG_COLUMNS, _PG_AGGREGATE_SQL) if on_server
                          else (_TAG_COLUMNS, _AGGREGATE_SQL))
        units = (_PG_UNITS if on_server else _LITE_UNITS).format(net=net)
        tag_columns = tag_sql.format(paid=_PAID, units=units) if for_tag else ""
        sql = query.format(paid=_PAID, units=units, only=only_sql, tag_columns=tag_columns)
        pd = _pandas()
        if on_server:  # parallel plans are welcome: the money sums are exact (MONEY_UNITS)
            # no JIT: compiling the expressions (again in every parallel worker) took 11 s
            # of a 68 s aggregate at 1M contacts, more than it saved (52 s without)
            self.db.execute("SET jit = off")
            frame = self.db.frame_by_contact_range(
                sql, params, text=("cur_min", "cur_max", "last_day"))
            self.db.execute("RESET jit")  # not after an error: a failed transaction
            # refuses it, and the command ends there anyway
        else:
            rows, names = self.db.fetch_by_contact_range(sql, params)
            frame = pd.DataFrame.from_records(rows, columns=names)
        # raw spellings: one spelling is exact; several ('CNY', 'cny ', 'USD') need
        # order_currencies, as a customer's min and max can hide a third currency
        seen = {str(c) for c in pd.concat([frame["cur_min"], frame["cur_max"]]).dropna()
                .unique() if str(c).strip()}
        frame = frame.drop(columns=["cur_min", "cur_max"])
        if for_tag:
            frame["gap_days"] = self._gaps(frame, gap_over)
            frame = frame.drop(columns=["last_day"])
        else:
            for col in AGGREGATE_COLUMNS[4:]:
                frame[col] = 0.0
        frame = frame[list(AGGREGATE_COLUMNS)]
        for col in ("contact_id", "recency_days", "frequency", "paid_days", "tenure_days",
                    "window_orders"):
            frame[col] = frame[col].astype("int64")
        for col in ("monetary", "gap_days", "window_revenue", "prior_revenue"):
            frame[col] = frame[col].astype("float64")
        if external_ids:
            frame["external_id"] = self._external_ids(frame["contact_id"])
        return frame, seen

    def _gaps(self, frame: pd.DataFrame, gap_over: float | None) -> pd.Series:
        gaps = _pandas().Series(float("nan"), index=frame.index)
        if gap_over is None or not len(frame):
            return gaps
        span = frame["tenure_days"] - frame["recency_days"]
        candidates = frame.loc[span > gap_over, ["contact_id", "last_day"]]
        if not len(candidates):
            return gaps
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS segment_gap_candidates "
                          "(contact_id INTEGER PRIMARY KEY, last_day TEXT)")
        self.db.execute("DELETE FROM temp.segment_gap_candidates")
        # COPY on a server (a quarter of the customers can be candidates); the temp
        # table comes first in the name lookup on both engines
        self.db.insert_rows("segment_gap_candidates", ["contact_id", "last_day"],
                            [(int(c), d) for c, d in candidates.itertuples(index=False,
                                                                          name=None)])
        found = dict(self.db.tuples(_GAP_SQL, ()).fetchall())
        self.db.execute("DELETE FROM temp.segment_gap_candidates")
        return frame["contact_id"].map(found).astype("float64")

    def external_ids(self, contact_ids: Iterable[int]) -> list[str | None]:
        """The external_id of each contact id, in order (None where there is none)."""
        return self._external_ids(_pandas().Series(list(contact_ids), dtype="int64"))

    def _external_ids(self, contact_ids: pd.Series) -> list[str | None]:
        if not len(contact_ids):
            return []
        rows = self.db.tuples("SELECT id, external_id FROM contacts", ()).fetchall()
        by_id = dict(rows)
        if "external_id" in self.protector.encrypted_columns:
            unseal = self.protector.unseal
            by_id = {i: unseal("contacts", "external_id", i, v) for i, v in rows}
        return [by_id.get(int(i)) for i in contact_ids]

    def order_currencies(self, *, as_of: date) -> set[str]:
        """Every currency of the paid/refunded orders dated on or before `as_of`."""
        sql = (f"SELECT DISTINCT {_CUR} FROM orders WHERE contact_id IS NOT NULL "
               "AND day <= ? AND status_norm IN ('paid', 'refunded')")
        return {r[0] for r in self.db.execute(sql, (as_of.isoformat(),)) if r[0]}

    def contact_tags(self) -> pd.DataFrame:
        """contact_id, stage, tier of every contact (None = never set)."""
        cur = self.db.tuples("SELECT id AS contact_id, stage, tier FROM contacts ORDER BY id", ())
        frame = _pandas().DataFrame.from_records(cur.fetchall(),
                                                 columns=["contact_id", "stage", "tier"])
        frame["contact_id"] = frame["contact_id"].astype("int64")
        return frame

    def apply_tags(self, op_id: int, changes: Iterable[tuple[int, str, str | None, str]],
                   *, as_of: date) -> int:
        """Write stage/tier changes with their change times and history rows ("tag")."""
        now = utc_now()
        changes = list(changes)
        # each contact's row written once, both fields together (an UPDATE is a new row
        # version in every index of contacts on a server: changed_at is indexed): one
        # set-based UPDATE (COPY + FROM on a server) per set of fields changed
        fields: dict[int, dict[str, str | None]] = {}
        for cid, field, _, new in changes:
            fields.setdefault(cid, {})[field] = new
        groups: dict[tuple[str, ...], list[tuple]] = {}
        for cid, values in fields.items():
            names = tuple(sorted(values))
            groups.setdefault(names, []).append(
                (*(values[f] for f in names), *(now for _ in names), now, cid))
        # many rows on a server: its indexes rebuilt once, not a new entry per row in each
        # (a reader started before waits for this write, as for a big orders import)
        bulk = (self.db.dialect == "postgres" and len(fields) >= REBUILD_INDEXES_AFTER
                and self._owns_contacts())
        with self.db.indexes_dropped("contacts") if bulk else nullcontext():
            for names, rows in sorted(groups.items()):
                self.db.update_rows("contacts", [*names, *(f"{f}_changed_at" for f in names),
                                                 "changed_at"], rows)
        detail = {"as_of": as_of.isoformat()}
        self.store.history.record(op_id, (Change(cid, f, old, new, "tag", detail)
                                    for cid, f, old, new in changes), at=now)
        return len(changes)

    def _owns_contacts(self) -> bool:
        """Whether this server login may drop contacts' indexes (owns the table, or is
        a member of the role that does); a team editor may not."""
        return bool(self.db.execute("SELECT pg_has_role(relowner, 'USAGE') FROM pg_class "
                                    "WHERE oid = 'contacts'::regclass").fetchone()[0])

    def save_rfm_cells(self, scored: pd.DataFrame, *, as_of: date, digest: str) -> int:
        """Replace the stored RFM cells with `scored`'s (contact_id, cell, segment)."""
        self.db.execute("DELETE FROM rfm_cells")
        self.db.insert_rows("rfm_cells", ["contact_id", "cell", "segment"], list(
            zip(scored["contact_id"].astype(int).tolist(), scored["cell"].tolist(),
                scored["segment"].tolist())))
        self.store.meta.set("rfm_cells", json.dumps({"as_of": as_of.isoformat(), "digest": digest}))
        return len(scored)

    def rfm_cells_state(self) -> dict | None:
        """{"as_of", "digest"} of the stored RFM cells, or None before the first `tag`."""
        text = self.store.meta.get("rfm_cells")
        return json.loads(text) if text else None

    def stored_rfm(self, contact_id: int) -> dict | None:
        """The contact's cell and segment as of the last `tag` ({"as_of": ...} alone when
        it had no paid order then), or None when `tag` never ran."""
        saved = self.rfm_cells_state()
        if saved is None:
            return None
        row = self.db.execute("SELECT cell, segment FROM rfm_cells WHERE contact_id = ?",
                                (contact_id,)).fetchone()
        return {"as_of": saved["as_of"], "cell": row[0] if row else None,
                "segment": row[1] if row else None}


__all__ = ["Segments", "AGGREGATE_COLUMNS"]
