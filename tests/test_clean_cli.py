"""`custdata clean` end to end: one transaction, history rows, dry run, twice == once."""

from __future__ import annotations

import csv
import io
import json

import pytest

from custdata.io import unneutralise
from custdata.errors import ExitCode

DIRTY = [
    ["external_id", "name", "email", "phone", "country", "birth_date", "id_number", "company"],
    ["C1", "JOHN MCDONALD", " Joe@Example.COM ", "138 0013 8000", "中国", "2024年1月5日",
     "110105 19850101 0020", "ＡＢＣ　Ltd"],
    ["C2", "张三", "Joe <joe@x.com>", "N/A", "Narnia", "soon", "1234", "北京  公司"],
    ["C3", "o'brien", "li@gmial.com", "010 65529988 转 808", "UK", "", "", ""],
    ["C4", "Jane Doe", "jane@example.com", "+8613912345678", "CN", "1990-02-03", "", "Acme"],
]


@pytest.fixture
def dirty(cli, write_csv):
    path = write_csv("dirty.csv", DIRTY)
    result = cli("import", "contacts", path)
    assert result.exit_code == 0, result.output
    return cli


@pytest.fixture
def edirty(ecli, write_csv):
    """`dirty` on each engine (sqlite, postgres)."""
    result = ecli("import", "contacts", write_csv("dirty.csv", DIRTY))
    assert result.exit_code == 0, result.output
    return ecli


def contacts(cli) -> dict[str, dict]:
    rows = cli.sql("SELECT external_id, name, email, phone, phone_type, country, birth_date, "
                   "id_number, company, email_key, phone_key, id_number_key, changed_at "
                   "FROM contacts")
    cols = ["external_id", "name", "email", "phone", "phone_type", "country", "birth_date",
            "id_number", "company", "email_key", "phone_key", "id_number_key", "changed_at"]
    return {r[0]: dict(zip(cols, r)) for r in rows}


def test_clean_rewrites_and_records_history(edirty) -> None:
    result = edirty("clean")
    assert result.exit_code == 0, result.output
    assert "checked 4 contacts, changed 3" in result.stderr
    assert "phone 2" in result.stderr
    after = contacts(edirty)
    assert after["C1"] | {"changed_at": None} == {
        "external_id": "C1", "name": "John McDonald", "email": "Joe@example.com",
        "phone": "+8613800138000", "phone_type": "mobile", "country": "CN",
        "birth_date": "2024-01-05", "id_number": "110105198501010020", "company": "ABC Ltd",
        "email_key": "joe@example.com", "phone_key": "+8613800138000",
        "id_number_key": "110105198501010020", "changed_at": None,
    }
    # what cannot be normalized is left exactly as it was (validate reports it)
    c2 = after["C2"]
    assert (c2["email"], c2["phone"], c2["country"], c2["birth_date"], c2["id_number"]) == (
        "Joe <joe@x.com>", "N/A", "Narnia", "soon", "1234")
    assert c2["company"] == "北京 公司" and c2["phone_type"] is None
    assert after["C3"]["phone"] == "+861065529988;ext=808"
    assert after["C3"]["email"] == "li@gmial.com"  # typo suggested by validate, never applied
    assert after["C4"]["phone_type"] == "mobile"  # already clean: only its type is recorded

    history = edirty.sql("SELECT h.contact_id, h.operation, h.field, h.old, h.new, o.command "
                        "FROM history h JOIN oplog o ON o.id = h.op_id WHERE operation = 'clean'")
    assert ("clean", "phone", "138 0013 8000", "+8613800138000") in [r[1:5] for r in history]
    assert all(r[5].endswith("clean") for r in history)
    assert not any(r[2] == "phone_type" for r in history)
    assert len(history) == 7 + 1 + 3  # C1: 7 fields; C2: company only; C3: 3
    shown = edirty("history", "C1", "--format", "json")
    assert shown.exit_code == 0
    assert any(h["field"] == "email" and h["operation"] == "clean"
               for h in json.loads(shown.stdout))
    log = edirty.sql("SELECT counts FROM oplog WHERE command LIKE '%clean'")
    assert json.loads(log[-1][0])["phone"] == 2


def test_twice_equals_once(edirty) -> None:
    assert edirty("clean").exit_code == 0
    once = contacts(edirty)
    history = edirty.count("history")
    again = edirty("clean")
    assert again.exit_code == 0
    assert "changed 0" in again.stderr
    assert contacts(edirty) == once
    assert edirty.count("history") == history


def test_dry_run_writes_nothing_and_prints_the_changes(edirty) -> None:
    before = edirty.dump()
    oplog = edirty.count("oplog")
    result = edirty("clean", "--dry-run", "--format", "csv")
    assert result.exit_code == 0, result.output
    # the CSV is for spreadsheets: formula-like cells carry a quote that import removes
    rows = [{k: unneutralise(v) for k, v in r.items()}
            for r in csv.DictReader(io.StringIO(result.stdout))]
    assert list(rows[0]) == ["contact", "field", "old", "new"]
    assert {"contact": "1", "field": "phone", "old": "138 0013 8000",
            "new": "+8613800138000"} in rows
    assert "dry run" in result.stderr
    assert edirty.count("oplog") == oplog
    assert edirty.sql("SELECT count(*) FROM history WHERE operation = 'clean'")[0][0] == 0
    assert contacts(edirty)["C1"]["phone"] == "138 0013 8000"
    # the dry run lists exactly what the real run then changes
    assert edirty("clean").exit_code == 0
    applied = edirty.sql("SELECT contact_id, field, old, new FROM history WHERE operation='clean'")
    assert sorted((str(a), b, c, d) for a, b, c, d in applied) == sorted(
        (r["contact"], r["field"], r["old"], r["new"]) for r in rows)
    assert before  # the file existed before the dry run


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "table"])
def test_dry_run_every_format_parses(dirty, fmt: str) -> None:
    result = dirty("clean", "--dry-run", "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "json":
        assert {"contact": 1, "field": "name", "old": "JOHN MCDONALD",
                "new": "John McDonald"} in json.loads(result.stdout)
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        assert all(set(r) == {"contact", "field", "old", "new"} for r in rows) and rows
    elif fmt == "csv":
        assert result.stdout.splitlines()[0] == "contact,field,old,new"
    else:
        assert "John McDonald" in result.stdout


def test_region_option(cli, write_csv) -> None:
    path = write_csv("us.csv", [["external_id", "phone"], ["U1", "(650) 253-0000"]])
    assert cli("import", "contacts", path).exit_code == 0
    assert cli("clean", "--region", "US").exit_code == 0
    assert cli.sql("SELECT phone, phone_type FROM contacts")[0] == (
        "+16502530000", "fixed_line_or_mobile")
    bad = cli("clean", "--region", "XX")
    assert bad.exit_code == ExitCode.USAGE
    assert "region" in bad.stderr


def test_clean_on_an_empty_store(cli) -> None:
    result = cli("clean")
    assert result.exit_code == 0
    assert "checked 0 contacts" in result.stderr
    dry = cli("clean", "--dry-run", "--format", "json")
    assert dry.exit_code == 0 and json.loads(dry.stdout) == []


def test_import_clean_uses_the_same_rules(cli, write_csv) -> None:
    path = write_csv("dirty.csv", DIRTY)
    result = cli("import", "contacts", path, "--clean")
    assert result.exit_code == 0, result.output
    assert contacts(cli)["C1"]["phone"] == "+8613800138000"
    assert cli("clean").exit_code == 0
    assert cli.sql("SELECT count(*) FROM history WHERE op_id = "
                   "(SELECT max(id) FROM oplog)")[0][0] == 0


def test_help(cli) -> None:
    result = cli("clean", "--help")
    assert result.exit_code == 0 and "--dry-run" in result.stdout


def test_clean_and_validate_an_encrypted_store(edirty, tmp_path) -> None:
    key = tmp_path / "k.key"
    assert edirty("keygen", "--key-file", key).exit_code == 0
    assert edirty("--key-file", key, "encrypt").exit_code == 0
    no_key = edirty("clean")
    assert no_key.exit_code == ExitCode.USAGE  # the key is needed to read and write values
    result = edirty("--key-file", key, "clean")
    assert result.exit_code == 0, result.output
    raw = edirty.dump().encode() if edirty.engine == "postgres" else edirty.db.read_bytes() + \
        b"".join(p.read_bytes() for p in tmp_path.glob("crm.db-wal"))
    assert b"+8613800138000" not in raw and b"Joe@example.com" not in raw
    rows = json.loads(edirty("--key-file", key, "export", "contacts", "--format", "json").stdout)
    assert {r["external_id"]: r["phone"] for r in rows}["C1"] == "+8613800138000"
    # the blind-index keys still find the cleaned contact
    shown = edirty("--key-file", key, "show", "138-0013-8000")
    assert shown.exit_code == 0, shown.output
    issues = json.loads(edirty("--key-file", key, "validate", "--format", "json").stdout)
    assert ("phone", "phone.invalid") in [(i["field"], i["code"]) for i in issues]
    assert edirty("--key-file", key, "clean").stderr.count("changed 0") == 1


# Issue 17: a CN store holding a US and UK customer export (country as names or codes,
# US phones written 212/371-8844), with organisations whose names are acronyms.
MIXED_REGIONS = [
    ["external_id", "name", "phone", "country", "company"],
    ["R1", "YMCA OF GREATER NEW YORK", "212/371-8844", "United States", "YMCA"],
    ["R2", "IBM", "+1 (914) 499-1900", "US", "IBM"],
    ["R3", "KPMG LLP", "020 7311 1000", "United Kingdom", "KPMG"],
    ["R4", "JOHN SMITH", "212-371-8844", "us", "AT&T"],
    ["R5", "LI NA", "010 65529988", "", "BMW China"],
    ["R6", "WANG FANG", "010 65529988 转 808", "UK", ""],
]


def test_clean_reads_each_phone_at_its_rows_country(ecli, write_csv) -> None:
    assert ecli("import", "contacts", write_csv("mixed.csv", MIXED_REGIONS)).exit_code == 0
    result = ecli("clean")
    assert result.exit_code == 0, result.output
    rows = contacts(ecli)
    assert rows["R1"]["phone"] == rows["R4"]["phone"] == "+12123718844"  # was +862123718844
    assert rows["R1"]["phone_key"] == rows["R4"]["phone_key"] == "+12123718844"
    assert rows["R2"]["phone"] == "+19144991900"
    assert rows["R3"]["phone"] == "+442073111000"
    assert rows["R5"]["phone"] == "+861065529988"  # no country: the store's region
    # valid only at the store's region: keeps that reading rather than staying raw
    assert rows["R6"]["phone"] == "+861065529988;ext=808"
    assert ecli("clean").stderr.startswith("clean: checked 6 contacts, changed 0")


def test_clean_keeps_acronyms_in_names_and_companies(cli, write_csv) -> None:
    assert cli("import", "contacts", write_csv("mixed.csv", MIXED_REGIONS)).exit_code == 0
    assert cli("clean").exit_code == 0
    rows = contacts(cli)
    assert {k: rows[k]["name"] for k in rows} == {
        "R1": "YMCA of Greater New York", "R2": "IBM", "R3": "KPMG LLP", "R4": "John Smith",
        "R5": "Li Na", "R6": "Wang Fang"}
    assert [rows[k]["company"] for k in ("R1", "R2", "R3", "R4", "R5")] == [
        "YMCA", "IBM", "KPMG", "AT&T", "BMW China"]
