"""The team store's bulk paths: the per-customer aggregates of report rfm / tag read as
CSV from the server give what SQLite gives, to the last bit, and money sums are exact
(whole 1/10,000 units, so parallel plans change nothing); first opens of an empty
database at once all end on one schema."""

from __future__ import annotations

import random
import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from custdata.store import open_store
from tests.conftest import Cli

pytestmark = pytest.mark.postgres

AS_OF = date(2026, 11, 1)
ORDERS = """order_id,customer_id,order_date,amount,currency,status
O1,C1,2026-01-05,1646.30,NA,paid
O2,C1,2026-01-05,0.05,NA,paid
O3,C1,2025-03-01,100.10,NA,refunded
O4,C2,2024-06-01,33.33,007,paid
O5,C2,2026-10-30,66.67,007,paid
O6,C2,2026-10-30,0.1,007,paid
O7,C3,2026-10-01,,,paid
O8,C3,2026-12-01,5,,paid
"""
CONTACTS = "Customer ID,Name,E-mail\nC1,Ann Lee,ann@example.com\nC2,Bo Wu,bo@example.com\n" \
           "C3,Cy Ng,cy@example.com\n"


def _aggregates(db: Path | str, tmp_path: Path) -> list:
    cli = Cli(db)
    (tmp_path / "c.csv").write_text(CONTACTS, encoding="utf-8")
    (tmp_path / "o.csv").write_text(ORDERS, encoding="utf-8")
    for kind in ("contacts", "orders"):
        result = cli("import", kind, tmp_path / f"{'c' if kind == 'contacts' else 'o'}.csv")
        assert result.exit_code == 0, result.output
    out = []
    with open_store(db, create=False) as store:
        for for_tag in (False, True):
            frame, seen = store.segments.order_aggregates(as_of=AS_OF, for_tag=for_tag,
                                                          gap_over=100.0)
            out.append((frame, sorted(seen)))
    return out


def test_aggregates_on_the_server_equal_sqlites_to_the_last_bit(pg_url: str,
                                                                 tmp_path: Path) -> None:
    lite = _aggregates(tmp_path / "crm.db", tmp_path)
    server = _aggregates(pg_url, tmp_path)
    for (frame, seen), (expected, expected_seen) in zip(server, lite):
        pd.testing.assert_frame_equal(frame, expected, check_exact=True)
        assert seen == expected_seen
    rfm = dict(zip(lite[0][0]["contact_id"], lite[0][0]["monetary"]))
    assert rfm[1] == 1546.25  # exact: not the float sum 1646.30 + 0.05 - 100.10
    assert lite[0][1] == ["007", "NA"]  # currency spellings stay text


def test_first_opens_of_an_empty_database_at_once_all_succeed(pg_server, pg_url: str) -> None:
    for round_ in range(3):
        url = pg_url if round_ == 0 else pg_server.url(pg_server.new_database())
        errors: list[BaseException] = []
        start = threading.Barrier(6)

        def open_one() -> None:
            start.wait()
            try:
                with open_store(url) as store:
                    store.db.execute("SELECT count(*) FROM contacts")
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=open_one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors


# Amounts that float sums get wrong or order-dependent: tenths, many decimals, ties at the
# fifth decimal, negatives (paid) and refunds, and sums of 16-17 significant digits
# (within the exact range: a customer's amounts, times 7.123, under 2**53 units).
AWKWARD = ["0.1", "0.2", "0.3", "0.7", "1646.30", "100.10", "33.33", "66.67", "0.05",
           "-5.55", "9999999999.9999", "1234567890.1234", "0.0001", "-0.0003",
           "9999.9999", "123456.7891"]
ODD = ["12.34565", "0.00005", "-0.00005", "7.123456789", "2.99995"]  # rounded to 4 places


def _awkward_orders(rng: random.Random, amounts: list[str], customers: int) -> tuple[str, dict]:
    """(orders CSV, the exact net per customer as Decimal) for `customers` customers."""
    lines, net = ["order_id,customer_id,order_date,amount,currency,status"], {}
    for i in range(customers * 12):
        cust, amount = f"C{i % customers + 1}", rng.choice(amounts)
        status = rng.choice(["paid", "paid", "paid", "refunded"])
        day = date(2024 + rng.randrange(3), rng.randrange(1, 11), rng.randrange(1, 28))
        lines.append(f"O{i},{cust},{day},{amount},EUR,{status}")
        value = Decimal(amount)
        net[cust] = net.get(cust, Decimal(0)) + (value if status == "paid" else -abs(value))
    return "\n".join(lines) + "\n", net


def _load(db: Path | str, tmp_path: Path, orders: str, customers: int) -> None:
    (tmp_path / "c.csv").write_text("Customer ID,Name\n" + "".join(
        f"C{i},Person {i}\n" for i in range(1, customers + 1)), encoding="utf-8")
    (tmp_path / "o.csv").write_text(orders, encoding="utf-8")
    for kind, name in (("contacts", "c.csv"), ("orders", "o.csv")):
        result = Cli(db)("import", kind, tmp_path / name)
        assert result.exit_code == 0, result.output


_PARALLEL = ("SET parallel_setup_cost = 0", "SET parallel_tuple_cost = 0",
             "SET min_parallel_index_scan_size = 0", "SET min_parallel_table_scan_size = 0",
             "SET max_parallel_workers_per_gather = 4", "SET parallel_leader_participation = off")


def _frames(db: Path | str, parallel: bool = False) -> list[pd.DataFrame]:
    out = []
    with open_store(db, create=False) as store:
        if parallel:
            for setting in _PARALLEL:
                store.db.execute(setting)
        for for_tag, rates in ((False, None), (True, None), (True, {"EUR": 1.1}),
                               (False, {"eur": 7.123})):
            frame, _ = store.segments.order_aggregates(as_of=AS_OF, for_tag=for_tag,
                                                       rates=rates, gap_over=30.0)
            out.append(frame)
    return out


@pytest.mark.parametrize("amounts", [AWKWARD, AWKWARD + ODD], ids=["4-places", "more-places"])
def test_money_sums_are_exact_and_equal_on_both_engines_in_any_plan(
        pg_url: str, tmp_path: Path, amounts: list[str]) -> None:
    orders, net = _awkward_orders(random.Random(20), amounts, customers=60)
    _load(tmp_path / "crm.db", tmp_path, orders, 60)
    _load(pg_url, tmp_path, orders, 60)
    lite = _frames(tmp_path / "crm.db")
    for parallel in (False, True):
        for frame, expected in zip(_frames(pg_url, parallel), lite):
            pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    if amounts is AWKWARD:  # four places or fewer: the figure is the decimal sum, rounded once
        monetary = dict(zip(lite[0]["contact_id"], lite[0]["monetary"]))
        got = {f"C{cid}": value for cid, value in monetary.items()}
        assert got == {c: float(v) for c, v in net.items() if c in got}
        assert max(map(abs, got.values())) > 1e10  # sums of 15-16 significant digits


def test_a_tie_at_the_fifth_place_rounds_away_from_zero_on_both_engines(
        pg_url: str, tmp_path: Path) -> None:
    orders = ("order_id,customer_id,order_date,amount,currency,status\n"
              "O1,C1,2026-01-05,0.00025,,paid\nO2,C2,2026-01-05,0.00025,,refunded\n"
              "O3,C2,2026-01-06,1,,paid\nO4,C3,2026-01-05,,,paid\n"
              "O5,C3,2026-01-06,0.00001,,refunded\n")
    for db in (tmp_path / "crm.db", pg_url):  # 0.00025 * 10**4 is 2.5 exactly in a double
        _load(db, tmp_path, orders, 3)
        frame = _frames(db)[0]
        assert dict(zip(frame["contact_id"], frame["monetary"].map(repr))) == \
            {1: "0.0003", 2: "0.9997", 3: "0.0"}  # -0.0 (a refund under half a unit) is 0.0


def test_amounts_past_the_exact_range_still_report_on_both_engines(
        pg_url: str, tmp_path: Path) -> None:
    orders = ("order_id,customer_id,order_date,amount,currency,status\n"
              "O1,C1,2026-01-05,123456789012345678901234567890,,paid\n"
              "O2,C1,2026-01-06,0.1,,paid\nO3,C2,2026-01-05,9999999999999.99,,paid\n"
              "O4,C2,2026-01-06,9999999999999.99,,paid\nO5,C2,2026-01-07,0.01,,refunded\n")
    figures = []
    for db in (tmp_path / "crm.db", pg_url):
        _load(db, tmp_path, orders, 2)
        figures.append(_frames(db)[0]["monetary"].tolist())
    assert figures[0] == pytest.approx([1.2345678901234568e29, 19999999999999.97], rel=1e-15)
    assert figures[1] == pytest.approx(figures[0], rel=1e-15)


def test_a_big_tag_on_the_server_rebuilds_the_indexes_and_sets_what_sqlite_sets(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from custdata.store import segments

    from custdata.store.postgres import PostgresDatabase

    monkeypatch.setattr(segments, "REBUILD_INDEXES_AFTER", 10)  # "big" from 10 contacts
    dropped, drop = [], PostgresDatabase.indexes_dropped
    monkeypatch.setattr(PostgresDatabase, "indexes_dropped",
                        lambda self, *a: (dropped.append(a), drop(self, *a))[1])
    orders, _ = _awkward_orders(random.Random(7), AWKWARD, customers=40)
    shown = []
    for db in (tmp_path / "crm.db", pg_url):
        _load(db, tmp_path, orders, 40)
        cli = Cli(db)
        result = cli("tag", "--as-of", "2026-11-01")
        assert result.exit_code == 0, result.output
        shown.append((result.output, cli.sql("SELECT id, stage, tier FROM contacts ORDER BY id"),
                      cli.sql("SELECT count(*) FROM history WHERE operation = 'tag'")))
    assert shown[1] == shown[0]
    assert sum(1 for _, stage, _ in shown[0][1] if stage) >= 10
    assert dropped == [("contacts",)]
    indexes = {r[0] for r in Cli(pg_url).sql(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'contacts'")}
    assert {"contacts_email_key", "contacts_changed_at", "contacts_external_id"} <= indexes
    assert Cli(pg_url)("find", "Person 7").exit_code == 0  # the find index still works
