"""Every list of people shows who they are beside the ids (issue 19): validate,
dedupe --explain and the forget prompt, end to end through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli

CONTACTS = [
    ["external_id", "name", "company", "email", "phone", "city"],
    ["C1", "张伟", "华信科技", "zhang.wei@qq.com", "138 0013 8000", "北京"],
    ["C2", "Zhang Wei", "华信科技", "", "+86 138 0013 8000", "Beijing"],
    ["C3", "李娜", "Acme", "lina@gmial.com", "12345", "上海"],
]


@pytest.fixture
def crm(cli: Cli, write_csv) -> Cli:
    assert cli("import", "contacts", write_csv("c.csv", CONTACTS)).exit_code == 0
    return cli


def test_validate_rows_say_who_the_contact_is(crm: Cli) -> None:
    rows = crm.rows("validate")
    assert rows and all(r["name"] == "李娜" and r["company"] == "Acme" for r in rows)
    assert rows[0]["phone_or_email"] == "12345"
    header = crm("validate", "--format", "csv").stdout.splitlines()[0]
    assert header.startswith("contact,name,company,phone_or_email,field")
    table = crm("validate", "--format", "table").stdout
    assert "李娜" in table and "Acme" in table


def test_dedupe_explain_names_both_contacts(crm: Cli) -> None:
    rows = crm.rows("dedupe", "--explain")
    assert rows
    pair = rows[0]
    assert {pair["name_a"], pair["name_b"]} == {"张伟", "Zhang Wei"}
    assert pair["company_a"] == pair["company_b"] == "华信科技"
    assert "138 0013 8000" in (pair["phone_or_email_a"], pair["phone_or_email_b"])


def test_dedupe_explain_masks_without_the_key(crm: Cli, tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    crm("keygen", "--key-file", key)
    assert crm("--key-file", key, "encrypt").exit_code == 0
    pair = crm.rows("dedupe", "--explain")[0]
    shown = {pair["phone_or_email_a"], pair["phone_or_email_b"]}
    assert shown and all("****" in s for s in shown)


def test_forget_prompt_names_the_person(crm: Cli, monkeypatch) -> None:
    import custdata.cli.secure as secure

    monkeypatch.setattr(secure, "_interactive", lambda: True)
    declined = crm("forget", "ext:C3", input="n\n")
    assert "id:3 李娜 (C3, Acme, 12345)" in declined.output
    assert declined.exit_code == 1
