"""Store side of segments: the SQL aggregates against pandas and a plain GROUP BY."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from custdata.api import segments as api_segments
from custdata.errors import UsageError
from custdata.segments import AGGREGATE_COLUMNS, TagRules, customer_aggregates, tag_plan
from custdata.config import default_config
from custdata.store import Store, open_store

from tests.test_segments import generated_orders


def make_store(tmp_path: Path, orders: pd.DataFrame, currency: object = "CNY",
               contacts: int | None = None, config=None) -> Store:
    store = open_store(tmp_path / "c.db")
    store.config = config or default_config()  # the settings these tests hand the api
    ids = sorted({int(c) for c in orders["contact_id"].dropna()})
    top = max(ids + [contacts or 0])
    store.db.conn.executemany(
        "INSERT INTO contacts (id, external_id, changed_at) VALUES (?, ?, '2020-01-01T00:00:00Z')",
        [(i, f"C{i:04d}") for i in range(1, top + 1)])
    rows = []
    for n, (cid, day, amount, status) in enumerate(orders.itertuples(index=False)):
        cur = currency[n % len(currency)] if isinstance(currency, list) else currency
        rows.append((f"O{n}", None if pd.isna(cid) else int(cid), day,
                     None if pd.isna(amount) else float(amount), status, cur))
    store.db.conn.executemany(
        "INSERT INTO orders (order_id, contact_id, day, amount_value, status_norm, currency) "
        "VALUES (?, ?, ?, ?, ?, ?)", rows)
    return store


PLAIN_RFM_SQL = """
SELECT contact_id,
       julianday(?) - julianday(max(CASE WHEN status_norm = 'paid' THEN day END)),
       sum(status_norm = 'paid'),
       sum(CASE status_norm WHEN 'paid' THEN ifnull(amount_value, 0)
                            WHEN 'refunded' THEN -abs(ifnull(amount_value, 0)) ELSE 0 END)
FROM orders WHERE day <= ? AND contact_id IS NOT NULL
GROUP BY contact_id HAVING sum(status_norm = 'paid') > 0 ORDER BY contact_id
"""


@pytest.mark.parametrize("as_of", [date(2023, 6, 15), date(2024, 12, 31), date(2027, 1, 1)])
def test_sql_aggregates_match_pandas_and_a_plain_group_by(tmp_path: Path, as_of: date) -> None:
    orders = generated_orders(seed=11, customers=80)
    store = make_store(tmp_path, orders)
    got, seen = store.segments.order_aggregates(as_of=as_of, window_days=200, for_tag=True, gap_over=-1)
    assert seen == {"CNY"}
    want = customer_aggregates(orders, as_of=as_of, window_days=200)
    assert got["contact_id"].tolist() == want["contact_id"].tolist()
    for col in AGGREGATE_COLUMNS:
        np.testing.assert_allclose(got[col].to_numpy(float), want[col].to_numpy(float),
                                   err_msg=col)
    plain = sqlite3.connect(tmp_path / "c.db").execute(
        PLAIN_RFM_SQL, (as_of.isoformat(), as_of.isoformat())).fetchall()
    assert [r[0] for r in plain] == got["contact_id"].tolist()
    np.testing.assert_allclose([r[1] for r in plain], got["recency_days"])
    np.testing.assert_allclose([r[2] for r in plain], got["frequency"])
    np.testing.assert_allclose([r[3] for r in plain], got["monetary"])
    lean, _ = store.segments.order_aggregates(as_of=as_of, window_days=200)
    for col in ("contact_id", "recency_days", "frequency", "monetary"):
        np.testing.assert_allclose(lean[col], got[col], err_msg=col)


def test_gap_is_only_computed_where_the_span_can_matter(tmp_path: Path) -> None:
    orders = generated_orders(seed=11, customers=80)
    store = make_store(tmp_path, orders)
    got, _ = store.segments.order_aggregates(as_of=date(2026, 1, 1), for_tag=True, gap_over=365)
    want = customer_aggregates(orders, as_of=date(2026, 1, 1))
    span = want["tenure_days"] - want["recency_days"]
    np.testing.assert_allclose(got["gap_days"][span > 365], want["gap_days"][span > 365])
    assert got["gap_days"][span <= 365].isna().all()
    # the stages do not depend on the gaps left out
    rules = TagRules()
    tags = store.segments.contact_tags()
    assert tag_plan(tags, got, rules) == tag_plan(tags, want, rules)


def test_rates_convert_and_mixed_currencies_without_rates_fail(tmp_path: Path) -> None:
    orders = pd.DataFrame([(1, "2024-01-01", 10.0, "paid"), (1, "2024-01-02", 10.0, "paid"),
                           (2, "2024-01-01", 5.0, "paid"), (2, "2024-01-03", 5.0, "paid")],
                          columns=["contact_id", "day", "amount_value", "status_norm"])
    store = make_store(tmp_path, orders, currency=["CNY", "usd ", "CNY", "EUR"])
    with pytest.raises(UsageError) as info:
        api_segments.customer_aggregates(store, store.config, as_of=date(2024, 2, 1))
    assert "CNY, EUR, USD" in str(info.value)
    store.config.values["rfm"].update(currency="CNY", rates={"USD": 7.0, "EUR": 8.0})
    frame, currency = api_segments.customer_aggregates(store, store.config, as_of=date(2024, 2, 1))
    assert currency == "CNY"
    assert frame["monetary"].tolist() == [80.0, 45.0]
    store.config.values["rfm"].update(currency="", rates={})
    frame, currency = api_segments.customer_aggregates(store, store.config, as_of=date(2024, 2, 1), only="usd")
    assert currency == "USD" and frame["monetary"].tolist() == [10.0]


def test_apply_tags_writes_values_times_and_history(tmp_path: Path) -> None:
    orders = generated_orders(seed=5, customers=30)
    store = make_store(tmp_path, orders, contacts=35)
    as_of = date(2024, 6, 1)
    agg, _ = api_segments.customer_aggregates(store, store.config, as_of=as_of, for_tag=True)
    plan = tag_plan(store.segments.contact_tags(), agg, TagRules())
    assert len(plan) == 70
    with store.write("tag") as op:
        store.segments.apply_tags(op.id, plan, as_of=as_of)
    assert tag_plan(store.segments.contact_tags(), agg, TagRules()) == []
    rows = store.db.conn.execute(
        "SELECT count(*) FROM history WHERE operation = 'tag'").fetchone()[0]
    assert rows == 70
    row = store.db.conn.execute(
        "SELECT stage, tier, stage_changed_at, tier_changed_at, changed_at FROM contacts "
        "WHERE id = 35").fetchone()
    assert tuple(row)[:2] == ("lead", "nurture")
    assert row[2] == row[4] and row[4] > "2020-01-01T00:00:00Z"


def test_rfm_of_contact(tmp_path: Path) -> None:
    store = make_store(tmp_path, generated_orders(seed=5, customers=30), contacts=35)
    info = api_segments.rfm_of_contact(store, store.config, 1, date(2026, 1, 1))
    assert set(info) == {"cell", "segment", "recency_days", "frequency", "monetary"}
    assert len(info["cell"]) == 3
    assert api_segments.rfm_of_contact(store, store.config, 35, date(2026, 1, 1)) is None


def test_a_third_currency_between_two_spellings_is_found(tmp_path: Path) -> None:
    orders = pd.DataFrame([(1, "2024-01-01", 10.0, "paid"), (1, "2024-01-02", 10.0, "paid"),
                           (1, "2024-01-03", 10.0, "paid")],
                          columns=["contact_id", "day", "amount_value", "status_norm"])
    store = make_store(tmp_path, orders, currency=["CNY", "USD", "cny"])
    with pytest.raises(UsageError, match="USD"):  # min 'CNY', max 'cny' hide USD
        api_segments.customer_aggregates(store, store.config, as_of=date(2024, 2, 1))


def test_parallel_contact_ranges_give_the_same_aggregates(tmp_path: Path, monkeypatch) -> None:
    import custdata.store.database as mod

    store = make_store(tmp_path, generated_orders(seed=3, customers=50))
    single, _ = store.segments.order_aggregates(as_of=date(2026, 1, 1), for_tag=True, gap_over=100)
    monkeypatch.setattr(mod, "PARALLEL_MIN_ORDERS", 1)
    monkeypatch.setattr(mod, "default_workers", lambda: 3)
    split, _ = store.segments.order_aggregates(as_of=date(2026, 1, 1), for_tag=True, gap_over=100)
    pd.testing.assert_frame_equal(single, split)
