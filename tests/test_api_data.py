"""custdata.api.data and custdata.api.records run from Python, without the CLI."""

from __future__ import annotations

import io
import stat
from datetime import date
from pathlib import Path

import pytest

from custdata.api import Session, data, records
from custdata.errors import CheckFailed, NotFoundError, OutputFileError, UsageError
from tests.conftest import EXAMPLES, Cli

RESTAURANTS = Path("/work/shared/data/restaurants/restaurants_contacts.csv")


@pytest.fixture
def session(tmp_path: Path) -> Session:
    return Session(db=tmp_path / "crm.db", today=date(2026, 12, 1))


def test_init_creates_the_store_and_a_config_once(session: Session) -> None:
    done = data.init(session, region="us")
    assert done.created and done.config_written and session.db.exists()
    assert 'region = "US"' in done.config.read_text(encoding="utf-8")
    again = data.init(session, region="cn")
    assert not again.created and not again.config_written
    with pytest.raises(UsageError):
        data.init(session, region="USA")


def test_import_from_a_path_and_a_stream_gives_the_counts(session: Session) -> None:
    counts = data.import_records(session, "contacts", EXAMPLES / "contacts.csv")
    assert counts.read == 342 and counts.inserted + counts.rejected == 342  # 2 quoted newlines
    orders = data.import_records(session, "orders", (EXAMPLES / "orders.csv").open("rb"))
    assert orders.read == 3419 and orders.inserted + orders.rejected == 3419
    again = data.import_records(session, "contacts", io.BytesIO(
        (EXAMPLES / "contacts.csv").read_bytes()))
    assert again.inserted == again.updated == 0 and again.unchanged == counts.inserted
    log = records.log(session)
    assert [e["input_file"] for e in log][-1] == "<stream>"
    assert len(log) == 3


def test_import_a_public_list_and_export_it(session: Session, tmp_path: Path) -> None:
    if not RESTAURANTS.exists():
        pytest.skip("the shared restaurants list is not here")
    data.init(session, region="US")  # the config's region: import and --where phone use it
    counts = data.import_records(session, "contacts", RESTAURANTS,
                                 rejects=tmp_path / "rejects.csv")
    assert counts.read == 864 and counts.rejected == 0
    rows = list(data.export_rows(session, "contacts", where={"city": "san francisco"}))
    assert rows and all(r["city"] == "san francisco" for r in rows)
    assert list(rows[0])[:2] == ["id", "external_id"]
    by_phone = list(data.export_rows(session, "contacts", where={"phone": "415/392-3505"}))
    assert {r["name"] for r in by_phone} == {"cafe claude"}  # both guides list it
    with pytest.raises(UsageError):
        data.export_rows(session, "contacts", where={"no_such_field": "x"})


def test_strict_import_raises_with_the_counts_and_keeps_nothing(session: Session,
                                                                tmp_path: Path) -> None:
    text = b"external_id,name\nC1,Ann\n,Bob\n"  # Bob has no identifying value
    with pytest.raises(data.StrictRejects) as caught:
        data.import_records(session, "contacts", io.BytesIO(text), strict=True)
    assert isinstance(caught.value, CheckFailed) and caught.value.counts.rejected == 1
    assert list(data.export_rows(session, "contacts")) == []


def test_import_api_skips_blank_rows_reads_decimal_commas_and_notifies(tmp_path: Path) -> None:
    heard: list[str] = []
    session = Session(db=tmp_path / "crm.db", notify=heard.append)
    data.init(session)
    counts = data.import_records(session, "contacts", io.BytesIO(
        "external_id,name\nC1,Ann\n,\nC2,Jürgen\n".encode("cp1252")), dry_run=True)
    assert (counts.read, counts.inserted, counts.skipped) == (3, 2, 1)
    assert counts.encoding == "cp1252" and counts.encoding_guessed
    assert heard and heard[0].startswith("columns (row 1): external_id -> external_id")
    data.import_records(session, "contacts", io.BytesIO(b"external_id,name\nC1,Ann\n"))
    orders = b"order_id,customer_id,amount\nO1,C1,\"1.234,50\"\nO2,C1,\"12,5\"\n"
    assert data.import_records(session, "orders", io.BytesIO(orders)).inserted == 2
    amounts = {r["order_id"]: r["amount"] for r in data.export_rows(session, "orders")}
    assert amounts == {"O1": 1234.5, "O2": 12.5}
    with pytest.raises(UsageError) as bad:
        data.import_records(session, "orders", io.BytesIO(orders), decimal="x")
    assert bad.value.hint == "decimal" and "--" not in str(bad.value)


def test_records_show_history_backup_and_config(session: Session, tmp_path: Path) -> None:
    data.import_records(session, "contacts", EXAMPLES / "contacts.csv")
    data.import_records(session, "orders", EXAMPLES / "orders.csv")
    found = records.show(session, "C0000079")
    assert found.card["external_id"] == "C0000079" and found.card["orders"] > 0
    assert len(found.orders) <= records.RECENT and found.orders[0]["order_id"]
    assert found.card["rfm_as_of"] == "2026-12-01"  # session.today before any tag
    assert set(found.as_json()) >= {"recent_orders", "recent_interactions"}
    data.import_records(session, "contacts",
                        io.BytesIO(b"external_id,company\nC0000079,New Co\n"))
    changes = records.history(session, "ext:C0000079")
    assert [(c["field"], c["new"]) for c in changes] == [("company", "New Co")]
    with pytest.raises(NotFoundError):
        records.show(session, "nobody@nowhere.example")
    folder = tmp_path / "backups"
    folder.mkdir()
    copy = records.backup(session, folder)
    assert copy.parent == folder and stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert Cli(copy).count("contacts") == Cli(session.db).count("contacts")
    with pytest.raises(OutputFileError):
        records.backup(session, Path(f"{session.db}-wal"))
    keys = {(r["section"], r["key"]) for r in records.config_rows(session)}
    assert ("general", "region") in keys


def test_an_updated_contact_is_keyed_with_the_imports_region(session: Session) -> None:
    # Before: an update re-keyed the phone with the config's region (CN) while new rows
    # used the import's, so the same number had two keys and matched nothing later.
    first = b"external_id,phone\nC1,415 392 3505\n"
    data.import_records(session, "contacts", io.BytesIO(first), region="US")
    moved = b"external_id,phone\nC1,212 787 0202\n"
    assert data.import_records(session, "contacts", io.BytesIO(moved), region="US").updated == 1
    assert Cli(session.db).sql("SELECT phone_key FROM contacts") == [("+12127870202",)]
    again = data.import_records(session, "contacts",
                                io.BytesIO(b"phone,name\n212 787 0202,Bo\n"), region="US")
    assert again.updated == 1 and again.inserted == 0  # found by the phone's key


def _custdata_imports(module: str) -> set[str]:
    import ast
    import importlib.util

    source = Path(importlib.util.find_spec(module).origin).read_text(encoding="utf-8")
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.startswith("custdata")}


@pytest.mark.parametrize("module,allowed", [
    ("custdata.cli.data", ("custdata.api", "custdata.errors", "custdata.models",
                           "custdata.cli._shared")),
    ("custdata.cli.records", ("custdata.api", "custdata.errors", "custdata.models",
                              "custdata.cli._shared")),
    ("custdata.store.imports", ("custdata.models", "custdata.errors", "custdata.store")),
])
def test_this_slice_keeps_the_house_layers(module: str, allowed: tuple[str, ...]) -> None:
    strays = {n for n in _custdata_imports(module)
              if not any(n == a or n.startswith(a + ".") for a in allowed)}
    assert strays == set()


def test_import_notices_name_no_flags_for_python_callers(tmp_path: Path) -> None:
    """The warnings an import gives carry a hint name; the CLI turns it into the flag."""
    heard: list[str] = []
    session = Session(db=tmp_path / "crm.db", notify=heard.append)
    data.import_records(session, "contacts", io.BytesIO(b"Kunde,Ort\nK1,Bern\n"),
                        mapping={"Kunde": "external_id"})
    orders = b"order_id,customer_id,amount\nO1,K1,\"1,234\"\n"
    counts = data.import_records(session, "orders", io.BytesIO(orders))
    assert [getattr(n, "hint", None) for n in heard] == ["map_person", "decimal_mark"]
    assert heard[0] == "warning: no column maps to name, email or phone."
    assert all("--" not in n for n in heard)
    assert counts.encoding_note() in ("", "; encoding utf-8")
    guessed = data.import_records(session, "contacts", io.BytesIO(
        "external_id,name\nK2,Jürgen\n".encode("cp1252")))
    assert guessed.encoding_note() == "; encoding cp1252 (a guess)"


def test_export_rejects_from_python(tmp_path: Path) -> None:
    from custdata.api import rejects

    session = Session(db=tmp_path / "crm.db")
    text = b"external_id,name\nC1,Ann\n,Bob\n"
    for _ in range(2):
        assert data.import_records(session, "contacts", io.BytesIO(text)).rejected == 1
    rows = list(rejects.export_rejects(session))
    assert [(r["operation"], r["line"], r["raw"]) for r in rows] == [(1, 3, ",Bob")]
    assert list(rejects.export_rejects(session, operation=2)) == []
    with pytest.raises(UsageError):
        rejects.export_rejects(session, operation=7)
