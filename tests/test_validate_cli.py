"""`custdata validate` end to end: rows, codes, --field, --fail-on-invalid, every format."""

from __future__ import annotations

import csv
import io
import json

import pytest

from custdata.errors import ExitCode
from custdata.validate import ISSUE_CODES

ROWS = [
    ["external_id", "name", "email", "phone", "country", "id_number"],
    ["C1", "张三", "zhang@qq.com", "13800138000", "CN", "110105198501010020"],
    ["C2", "李四", "Joe <joe@x.com>", "N/A", "Narnia", "110105198501010021"],
    ["C3", "", "li@gmial.com", "", "", ""],
]
COLUMNS = ["contact", "name", "company", "phone_or_email", "field", "value", "code", "message", "suggestion"]


@pytest.fixture
def store(cli, write_csv):
    assert cli("import", "contacts", write_csv("c.csv", ROWS)).exit_code == 0
    return cli


@pytest.fixture
def vstore(ecli, write_csv):
    """`store` on each engine (sqlite, postgres)."""
    assert ecli("import", "contacts", write_csv("c.csv", ROWS)).exit_code == 0
    return ecli


def test_one_row_per_problem(vstore) -> None:
    result = vstore("validate", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["contact"], r["field"], r["code"]) for r in rows] == [
        (2, "email", "email.syntax"), (2, "phone", "phone.invalid"),
        (2, "id_number", "id_number.checksum"), (2, "country", "country.unknown"),
        (3, "name", "required.missing"), (3, "email", "email.typo_domain"),
    ]
    assert all(list(r) == COLUMNS and r["code"] in ISSUE_CODES for r in rows)
    assert rows[0]["suggestion"] == "joe@x.com" and rows[0]["value"] == "Joe <joe@x.com>"
    assert rows[-1]["suggestion"] == "li@gmail.com"
    assert "6 problem(s) in 2 contact(s)" in result.stderr


def test_fail_on_invalid_exit_codes(vstore) -> None:
    assert vstore("validate", "--fail-on-invalid").exit_code == ExitCode.FINDINGS
    assert vstore("validate", "--fail-on-invalid", "--field", "phone").exit_code == 1
    # a field without problems passes the gate
    ok = vstore("validate", "--fail-on-invalid", "--field", "birth_date")
    assert ok.exit_code == 0 and ok.stdout.strip() == ("contact,name,company,phone_or_email,"
                                                  "field,value,code,message,suggestion")


def test_field_filter_is_repeatable(store) -> None:
    rows = store.rows("validate", "--field", "email", "--field", "country")
    assert {r["field"] for r in rows} == {"email", "country"}
    bad = store("validate", "--field", "shoe_size")
    assert bad.exit_code == ExitCode.USAGE and "shoe_size" in bad.stderr


def test_validate_writes_nothing(vstore) -> None:
    before = vstore.dump()
    assert vstore("validate").exit_code == 0
    assert vstore.dump() == before
    assert vstore.count("oplog") == 1  # only the import
    assert vstore.sql("SELECT phone FROM contacts WHERE external_id = 'C2'") == [("N/A",)]
    assert before


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "table"])
def test_every_format_parses(store, fmt: str) -> None:
    result = store("validate", "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert list(rows[0]) == COLUMNS and len(rows) == 6
        assert rows[0]["contact"] == "2"
    elif fmt == "json":
        assert len(json.loads(result.stdout)) == 6
    elif fmt == "jsonl":
        assert [json.loads(line)["code"] for line in result.stdout.splitlines()][0] == "email.syntax"
    else:
        assert "email.syntax" in result.stdout


def test_empty_store_prints_no_rows(ecli) -> None:
    assert ecli("init").exit_code == 0  # reading commands never create a store
    result = ecli("validate", "--fail-on-invalid", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    csv_out = ecli("validate", "--format", "csv")
    assert csv_out.exit_code == 0 and len(csv_out.stdout.splitlines()) <= 1


def test_cleaned_store_keeps_only_real_problems(vstore) -> None:
    assert vstore("clean").exit_code == 0
    rows = vstore.rows("validate")
    assert len(rows) == 6  # clean leaves what it cannot fix; validate still reports it


def test_help(cli) -> None:
    result = cli("validate", "--help")
    assert result.exit_code == 0 and "--fail-on-invalid" in result.stdout
