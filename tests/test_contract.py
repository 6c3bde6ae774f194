"""SPEC.md promises of the foundation that no other test pins down."""

from __future__ import annotations

import sqlite3

import pytest
from typer.testing import CliRunner

from custdata.cli import app
from custdata.ingest import plan_columns
from custdata.store import open_store
from custdata.store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.conftest import CONTACT_ROWS, make_csv

# SPEC §4 "Headers": matching ignores case, spaces, -, _ and .; these synonyms at least.
SECTION4_SYNONYMS = {
    "contacts": [
        ("e-mail", "email"), ("mail", "email"), ("E_Mail", "email"), ("E.mail", "email"),
        ("phone number", "phone"), ("Mobile", "phone"), ("tel", "phone"),
        ("Telephone", "phone"), ("cell", "phone"), ("customer id", "external_id"),
        ("customer", "external_id"), ("Client ID", "external_id"), ("id", "external_id"),
        ("姓名", "name"), ("客户名称", "name"), ("联系人", "name"), ("手机", "phone"),
        ("手机号", "phone"), ("电话", "phone"), ("联系电话", "phone"), ("邮箱", "email"),
        ("电子邮件", "email"), ("公司", "company"), ("单位", "company"), ("城市", "city"),
        ("省份", "province"), ("省", "province"), ("地址", "address"), ("邮编", "postal_code"),
        ("性别", "gender"), ("生日", "birth_date"), ("出生日期", "birth_date"),
        ("身份证", "id_number"), ("身份证号", "id_number"), ("客户编号", "external_id"),
        ("客户ID", "external_id"), ("Postal-Code", "postal_code"), ("BIRTH DATE", "birth_date"),
    ],
    "orders": [
        ("customer_id", "customer_id"), ("customer", "customer_id"),
        ("customer key", "customer_id"), ("client id", "customer_id"),
        ("客户编号", "customer_id"), ("客户ID", "customer_id"), ("email", "customer_email"),
        ("phone", "customer_phone"),
    ],
}


@pytest.mark.parametrize("kind, header, field", [
    (kind, header, field) for kind, pairs in SECTION4_SYNONYMS.items() for header, field in pairs
])
def test_section4_header_synonyms(kind: str, header: str, field: str) -> None:
    [column] = plan_columns(kind, [header], {})
    assert column.field == field


def test_default_store_is_custdata_db_in_the_working_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CUSTDATA_DB", raising=False)
    (tmp_path / "c.csv").write_bytes(make_csv(CONTACT_ROWS))
    result = CliRunner().invoke(app, ["import", "contacts", "c.csv"])
    assert result.exit_code == 0
    assert (tmp_path / "custdata.db").exists()


def test_an_older_schema_is_migrated_forward(tmp_path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
    conn.execute("INSERT INTO contacts (external_id, changed_at) VALUES ('C1', 'now')")
    conn.commit()
    conn.close()
    with open_store(path) as store:
        assert store.db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.db.conn.execute("SELECT external_id FROM contacts").fetchall()[0][0] == "C1"


def test_output_is_csv_by_default_outside_a_terminal(cli, write_csv) -> None:
    cli("import", "contacts", write_csv("c.csv", CONTACT_ROWS))
    result = cli("export", "contacts")
    assert result.stdout.splitlines()[0].startswith("id,external_id,name,")


def test_no_progress_or_chatter_on_stderr_outside_a_terminal(cli, write_csv) -> None:
    result = cli("import", "contacts", write_csv("c.csv", CONTACT_ROWS))
    assert result.stderr.strip() == ("read 3, inserted 3, updated 0, unchanged 0, rejected 0, "
                                     "skipped 0; encoding utf-8")
    assert result.stdout == ""


def test_invalid_email_or_phone_is_stored_not_rejected(cli, write_csv) -> None:
    path = write_csv("c.csv", [["email", "phone"], ["not-an-email", ""], ["", "N/A"]])
    result = cli("import", "contacts", path)
    assert "inserted 2" in result.stderr and "rejected 0" in result.stderr
    assert cli.sql("SELECT email, phone FROM contacts ORDER BY id") == [
        ("not-an-email", None), (None, "N/A")]
