"""custdata.api.quality run from Python, without the CLI: clean, validate, import --clean's hook."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from custdata.api import Session, quality
from custdata.errors import UsageError

RESTAURANTS = Path("/work/shared/data/restaurants/restaurants_contacts.csv")


@pytest.fixture
def restaurants(cli) -> Session:
    """A store holding the public restaurants list (lower-case names, 415/392-3505 phones)."""
    if not RESTAURANTS.exists():
        pytest.skip("the shared restaurants data set is not on this machine")
    result = cli("import", "contacts", RESTAURANTS)
    assert result.exit_code == 0, result.output
    return Session(db=cli.db, today=date(2024, 6, 30), command_line="python: clean")


def test_clean_from_python_writes_values_history_and_the_operation(restaurants, cli) -> None:
    before = cli.sql("SELECT id, name, phone FROM contacts ORDER BY id")
    preview = quality.clean(restaurants, region="US", dry_run=True)
    assert preview.dry_run and preview.counts["checked"] == len(before) == 864
    assert preview.counts["changed"] > 0 and preview.counts["phone"] > 0
    assert cli.sql("SELECT id, name, phone FROM contacts ORDER BY id") == before  # dry run
    assert cli.count("history") == 0

    result = quality.clean(restaurants, region="US")
    assert result.counts == preview.counts and result.changes == [] and not result.dry_run
    name, phone = cli.sql("SELECT name, phone FROM contacts WHERE external_id = 'R88a53593ba'")[0]
    assert (name, phone) == ("Cafe Claude", "+14153923505")
    changed = sum(v for k, v in result.counts.items() if k not in ("checked", "changed"))
    assert cli.count("history") == changed
    (command,) = cli.sql("SELECT command FROM oplog ORDER BY id DESC LIMIT 1")[0]
    assert command == "python: clean"
    # keys follow the cleaned phone: a second run changes nothing
    assert quality.clean(restaurants, region="US").counts["changed"] == 0
    keys = cli.sql("SELECT phone_key FROM contacts WHERE external_id = 'R88a53593ba'")
    assert keys == [("+14153923505",)]


def test_dry_run_changes_are_rows_of_the_change_columns(restaurants) -> None:
    rows = list(quality.clean(restaurants, region="US", dry_run=True).change_rows())
    assert rows and all(list(r) == list(quality.CHANGE_COLUMNS) for r in rows)
    assert {"contact": rows[0]["contact"], "field": "name", "old": "cafe claude",
            "new": "Cafe Claude"} in rows


def test_validate_from_python(restaurants) -> None:
    found = quality.validate(restaurants, region="US", fields=["phone", " name "])
    assert {i.field for i in found.issues} <= {"phone", "name"}
    assert sum(found.by_code.values()) == len(found.issues)
    assert found.contacts == len({r["contact"] for r in found.rows()})
    with pytest.raises(UsageError):
        quality.validate(restaurants, fields=["nickname"])


def test_an_unknown_region_is_a_usage_error_naming_no_flag(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        quality.clean(Session(db=tmp_path / "c.db"), region="XX")
    assert caught.value.hint == "region" and "--" not in str(caught.value)


def test_clean_contacts_cleans_only_the_given_ids_inside_a_write(restaurants, cli) -> None:
    with restaurants.store(need_key=True) as store, store.write("test") as op:
        counts, changes = quality.clean_contacts(store, op, region="US", dayfirst=False,
                                                 contact_ids=[1, 2])
    assert counts["checked"] == 2 and {c.contact_id for c in changes} <= {1, 2}
    untouched = cli.sql("SELECT count(*) FROM history WHERE contact_id > 2")
    assert untouched == [(0,)]


def test_batches_cross_the_store_boundary_not_rows(restaurants, monkeypatch) -> None:
    monkeypatch.setattr(quality, "_FLUSH", 100)
    calls = []
    with restaurants.store(need_key=True) as store:
        real = store.cleaning.write_cleaned
        monkeypatch.setattr(store.cleaning, "write_cleaned",
                            lambda op, batch: (calls.append(len(batch)), real(op, batch)))
        with store.write("test") as op:
            counts, _ = quality.clean_contacts(store, op, region="US", dayfirst=False)
    assert sum(calls) >= counts["changed"] > 100  # phone_type-only rows are written too
    assert max(calls) <= 100 and len(calls) == -(-sum(calls) // 100)
    with sqlite3.connect(restaurants.db) as conn:
        assert conn.execute("SELECT count(*) FROM history").fetchone()[0] == sum(
            v for k, v in counts.items() if k not in ("checked", "changed"))
