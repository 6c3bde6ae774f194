"""The team store's bulk paths: the per-customer aggregates of report rfm / tag read as
CSV from the server give what SQLite gives, to the last bit; first opens of an empty
database at once all end on one schema."""

from __future__ import annotations

import threading
from datetime import date
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
    assert rfm[1] == 1646.30 + 0.05 - 100.10  # summed as SQLite does, not reparsed short
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
