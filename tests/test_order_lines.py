"""Orders with several lines (issue 18, case 2), through the CLI.

tests/data/files/superstore_orders.csv has the columns and shape of the public
"Sample - Superstore" export (one row per line item, a Row ID, Sales per line);
shopify_orders.csv those of a Shopify orders export (Name = the order, the order's
Total and Financial Status on its first row only, Lineitem columns on every row). Both
were written for these tests. The expected figures below are worked out by hand.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from custdata.store.schema import MIGRATIONS

DATA = Path(__file__).resolve().parent / "data" / "files"
AS_OF = "2026-07-01"


def summary(result) -> str:
    return result.stderr.strip().splitlines()[-1]


@pytest.fixture
def superstore(ecli):
    """The Superstore export imported, on each engine (sqlite, postgres)."""
    cli = ecli
    assert cli("import", "contacts", DATA / "superstore_customers.csv").exit_code == 0
    result = cli("import", "orders", DATA / "superstore_orders.csv")
    assert result.exit_code == 0, result.output
    cli.first = result
    return cli


def test_superstore_lines_make_orders_and_the_summary_says_so(superstore) -> None:
    assert summary(superstore.first).startswith(
        "read 13 lines in 6 orders, inserted 13, updated 0, unchanged 0, rejected 0, skipped 0")
    totals = dict(superstore.sql("SELECT order_id, amount_value FROM orders"))
    assert totals == pytest.approx({
        "CA-2026-100101": 731.94 + 14.62 + 371.17, "CA-2026-100188": 22.37,
        "US-2026-100250": 957.58 + 48.86, "CA-2025-100390": 1706.18 + 68.81,
        "CA-2025-100421": 15.55, "CA-2024-100533": 7.28 + 18.50 + 114.90 + 665.88})
    lines = superstore.sql(
        "SELECT l.line_key, l.product, l.category, l.quantity, l.amount_value FROM order_lines l "
        "JOIN orders o ON o.id = l.order_pk WHERE o.order_id = 'CA-2026-100101' ORDER BY l.id")
    assert [ln[0] for ln in lines] == ["1", "2", "3"]  # the Row ID keys each line
    assert lines[2][1:] == ("Plantronics CS510 - Over-the-Head monaural Wireless Headset System",
                            "Technology", 2.0, 371.17)
    # The order's product and category are its first line's.
    assert superstore.sql("SELECT product, category FROM orders WHERE order_id = "
                          "'CA-2026-100101'")[0][1] == "Furniture"


def test_superstore_reimport_is_a_no_op(superstore) -> None:
    again = superstore("import", "orders", DATA / "superstore_orders.csv")
    assert summary(again).startswith(
        "read 13 lines in 6 orders, inserted 0, updated 0, unchanged 13, rejected 0")
    assert superstore.sql("SELECT count(*) FROM order_lines") == [(13,)]
    assert superstore.sql("SELECT count(*) FROM orders") == [(6,)]


def test_rfm_counts_orders_and_sums_lines_once(superstore) -> None:
    # By hand: Anna 2 orders (1117.73 + 22.37), last 2026-06-20 -> 11 days;
    # Mark 3 orders (1006.44 + 1774.99 + 15.55), last 2026-01-15 -> 167 days;
    # Lena 1 order (806.56), 2024-03-01 -> 852 days.
    expected = {"AB-10015": (2, 1140.10, "2026-06-20"), "MK-17905": (3, 2796.98, "2026-01-15"),
                "LR-16915": (1, 806.56, "2024-03-01")}
    for ref, (orders, amount, last) in expected.items():
        shown = json.loads(superstore("show", ref, "--format", "json").stdout)
        assert (shown["paid_orders"], shown["last_order"]) == (orders, last)
        assert shown["net_amount"] == pytest.approx(amount)
    rows = {r["segment"]: r for r in superstore.rows("report", "rfm", "--as-of", AS_OF)}
    assert rows["Loyal Customers"]["mean_frequency"] == 3.0
    assert rows["Loyal Customers"]["revenue"] == pytest.approx(2796.98)
    assert rows["Potential Loyalist"]["mean_frequency"] == 2.0
    assert rows["Lost"]["mean_recency_days"] == 852.0
    total = sum(r["revenue"] for r in rows.values())
    assert total == pytest.approx(1140.10 + 2796.98 + 806.56)
    tagged = superstore("tag", "--as-of", AS_OF)
    assert tagged.exit_code == 0, tagged.output
    stages = dict(superstore.sql("SELECT external_id, stage FROM contacts"))
    # Mark: gaps of 86 and 73 days, 167 days since (> 2 x 79.5): at risk; Lena: > 365.
    assert stages == {"AB-10015": "repeat", "MK-17905": "at_risk", "LR-16915": "churned"}


def test_a_changed_line_updates_its_order_total(superstore, tmp_path: Path) -> None:
    text = (DATA / "superstore_orders.csv").read_text(encoding="utf-8")
    changed = tmp_path / "superstore_fixed.csv"
    changed.write_text(text.replace(",14.62,2,0,", ",29.24,4,0,"), encoding="utf-8")
    result = superstore("import", "orders", changed)
    assert "inserted 0, updated 1, unchanged 12" in summary(result)
    assert superstore.sql("SELECT amount_value FROM orders WHERE order_id = 'CA-2026-100101'") \
        == [(pytest.approx(731.94 + 29.24 + 371.17),)]
    assert superstore.sql("SELECT quantity FROM order_lines WHERE line_key = '2'") == [(4.0,)]
    fail = superstore("import", "orders", DATA / "superstore_orders.csv", "--on-conflict", "fail")
    assert fail.exit_code == 1


def test_shopify_lines_without_line_ids_and_total_on_the_first_row(ecli) -> None:
    assert ecli("import", "contacts", DATA / "shopify_customers.csv").exit_code == 0
    args = ("import", "orders", DATA / "shopify_orders.csv", "--map", "Name=order_id")
    first = ecli(*args)
    assert first.exit_code == 0, first.output
    assert summary(first).startswith("read 7 lines in 4 orders, inserted 7")
    orders = {r[0]: r[1:] for r in ecli.sql(
        "SELECT order_id, amount_value, status_norm, currency, day FROM orders")}
    # The Total stands on the first row of each order; the later rows add no money.
    assert orders == {"#1001": (88.90, "paid", "EUR", "2026-05-04"),
                      "#1002": (142.0, "paid", "EUR", "2026-05-18"),
                      "#1003": (40.90, "paid", "EUR", "2026-06-21"),
                      "#1004": (60.0, "refunded", "EUR", "2026-06-25")}
    assert ecli.sql("SELECT l.line_key, l.product, l.quantity FROM order_lines l JOIN orders o "
                   "ON o.id = l.order_pk WHERE o.order_id = '#1002' ORDER BY l.id") == [
        ("#1", "Wool Throw - Charcoal", 1.0), ("#2", "Beeswax Candle - Large", 2.0)]
    assert "unchanged 7" in summary(ecli(*args))
    julia = json.loads(ecli("show", "email:julia.hartmann@example.de", "--format", "json").stdout)
    assert (julia["paid_orders"], julia["net_amount"]) == (2, pytest.approx(129.80))


def test_orders_stored_before_lines_get_one_line_each(tmp_path: Path, cli) -> None:
    with closing(sqlite3.connect(cli.db)) as conn, conn:
        for migration in MIGRATIONS[:3]:
            conn.executescript(migration)
        conn.execute("PRAGMA user_version = 3")
        conn.execute("INSERT INTO contacts (id, external_id, changed_at) VALUES (1, 'C1', 'x')")
        conn.execute("INSERT INTO orders (id, order_id, contact_id, customer_ref, order_date, "
                     "amount, product, day, amount_value, status_norm) VALUES "
                     "(1, 'O-1', 1, 'C1', '2026-01-02', '¥1,234.50', 'Tea', '2026-01-02', "
                     "1234.5, 'paid')")
    csv = tmp_path / "o.csv"
    csv.write_text("order_id,customer_id,order_date,amount,product\n"
                   "O-1,C1,2026-01-02,\"¥1,234.50\",Tea\n", encoding="utf-8")
    result = cli("import", "orders", csv)
    assert "inserted 0, updated 0, unchanged 1" in summary(result), result.output
    assert cli.sql("SELECT line_key, amount_value FROM order_lines") == [("#1", 1234.5)]


def test_forget_blanks_the_extra_of_the_persons_order_lines(ecli) -> None:
    assert ecli("import", "contacts", DATA / "shopify_customers.csv").exit_code == 0
    assert ecli("import", "orders", DATA / "shopify_orders.csv", "--map",
               "Name=order_id").exit_code == 0
    assert ecli("forget", "email:julia.hartmann@example.de", "--yes").exit_code == 0
    left = ecli.sql("SELECT l.extra FROM order_lines l JOIN orders o ON o.id = l.order_pk "
                   "WHERE o.order_id IN ('#1001', '#1003')")
    assert left == [("{}",), ("{}",), ("{}",)]
    assert "Hartmann" not in json.dumps(ecli.sql("SELECT extra FROM order_lines"))


def test_an_order_with_an_unreadable_line_amount_is_left_out_and_flagged(ecli, tmp_path) -> None:
    assert ecli("import", "contacts", DATA / "superstore_customers.csv").exit_code == 0
    source = tmp_path / "lines.csv"
    source.write_text("Order ID,Customer ID,Order Date,Product Name,Sales,Quantity\n"
                      "S-1,AB-10015,2026-06-01,Pen,12.50,5\n"
                      "S-1,AB-10015,2026-06-01,Ink,n/a,1\n"
                      "S-2,AB-10015,2026-06-02,Pad,3.00,1\n", encoding="utf-8")
    result = ecli("import", "orders", source)
    assert summary(result).startswith("read 3 lines in 2 orders, inserted 3")
    assert dict(ecli.sql("SELECT order_id, amount_value FROM orders")) == {"S-1": None,
                                                                          "S-2": 3.0}
    assert ecli.sql("SELECT amount FROM orders WHERE order_id = 'S-1'") == [("n/a",)]
    audit = ecli("audit", "--show", "unreadable-orders", "--format", "csv")
    assert "S-1" in audit.stdout and "S-2" not in audit.stdout


def test_line_extra_copies_of_encrypted_fields_are_sealed(ecli, tmp_path: Path) -> None:
    key = tmp_path / "crm.key"
    assert ecli("keygen", "--key-file", key).exit_code == 0
    assert ecli("import", "contacts", DATA / "superstore_customers.csv").exit_code == 0
    assert ecli("--key-file", key, "encrypt", "--columns", "phone").exit_code == 0
    source = tmp_path / "lines.csv"
    source.write_text("Order ID,Customer ID,Product Name,Sales,phone_2\n"
                      "S-1,AB-10015,Pen,12.50,13912345678\n"
                      "S-1,AB-10015,Ink,3.00,13987654321\n", encoding="utf-8")
    done = ecli("--key-file", key, "import", "orders", source)
    assert done.exit_code == 0, done.output
    stored = json.dumps(ecli.sql("SELECT extra FROM order_lines"))
    assert "13912345678" not in stored and "13987654321" not in stored
    again = ecli("--key-file", key, "import", "orders", source)
    assert "unchanged 2" in summary(again)  # opened to compare, so nothing changed
