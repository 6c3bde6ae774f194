"""`custdata export`: formats, filters, formula neutralisation, round trip."""

from __future__ import annotations

import csv
import io
import json

import pytest

from custdata.errors import ExitCode
from tests.conftest import CONTACT_ROWS, Cli


@pytest.fixture
def stocked(ecli, write_csv) -> Cli:
    """Five contacts (formula cells, a line break) on each engine (sqlite, postgres)."""
    cli = ecli
    rows = [*CONTACT_ROWS, ["C4", "=HYPERLINK(\"x\")", "evil@x.com", "-1", "@home"],
            ["C5", "Multi\nLine", "m@x.com", "", "x=1"]]
    assert cli("import", "contacts", write_csv("c.csv", rows)).exit_code == 0
    return cli


def test_csv_has_id_first_then_fields_then_extra(stocked) -> None:
    result = stocked("export", "contacts", "--format", "csv")
    header = result.stdout.splitlines()[0].split(",")
    assert header[0] == "id" and header[1] == "external_id" and header[-1] == "extra"
    assert result.stdout_bytes.endswith(b"\r\n") and b"\r\n2,C2," in result.stdout_bytes


def test_formula_cells_are_neutralised_unless_raw(stocked) -> None:
    rows = list(csv.DictReader(io.StringIO(stocked("export", "contacts", "-f", "csv").stdout)))
    c4 = rows[3]
    assert c4["name"] == "'=HYPERLINK(\"x\")" and c4["phone"] == "-1"  # a plain number (SPEC 4) and c4["city"] == "'@home"
    assert rows[4]["city"] == "x=1" and rows[0]["phone"] == "138 0013 8000"
    assert rows[1]["phone"] == "'+1 650 253 0000"
    raw = list(csv.DictReader(io.StringIO(stocked("export", "contacts", "-f", "csv", "--raw").stdout)))
    assert raw[3]["name"] == "=HYPERLINK(\"x\")"


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "table"])
def test_every_format_parses(stocked, fmt: str) -> None:
    result = stocked("export", "contacts", "--format", fmt)
    assert result.exit_code == 0
    if fmt == "csv":
        assert len(list(csv.DictReader(io.StringIO(result.stdout)))) == 5
    elif fmt == "json":
        data = json.loads(result.stdout)
        assert len(data) == 5 and data[0]["extra"] == {}
    elif fmt == "jsonl":
        assert [json.loads(line)["external_id"] for line in result.stdout.splitlines()] == [
            "C1", "C2", "C3", "C4", "C5"]
    else:
        assert "张伟" in result.stdout


def test_where_filters_and_matches_phone_in_any_spelling(stocked) -> None:
    assert [r["external_id"] for r in stocked.rows("export", "contacts", "--where", "city=上海")] == ["C1"]
    assert [r["external_id"] for r in stocked.rows(
        "export", "contacts", "--where", "phone=+86 13800138000")] == ["C1"]
    assert stocked.rows("export", "contacts", "--where", "city=上海", "--where", "name=x") == []


def test_where_unknown_field_is_usage_error(stocked) -> None:
    result = stocked("export", "contacts", "--where", "shoe=42")
    assert result.exit_code == ExitCode.USAGE and "shoe" in result.stderr


def test_changed_since(stocked) -> None:
    assert len(stocked.rows("export", "contacts", "--changed-since", "1d")) == 5
    assert stocked.rows("export", "contacts", "--changed-since", "2999-01-01") == []


def test_round_trip_into_a_new_store_reproduces_contacts(stocked, tmp_path) -> None:
    exported = stocked("export", "contacts", "--format", "csv", "--raw").stdout
    other = Cli(tmp_path / "other.db")
    result = other("import", "contacts", "-", input=exported.encode())
    assert result.exit_code == 0, result.output
    again = other("export", "contacts", "--format", "csv", "--raw").stdout
    assert again == exported


def test_round_trip_keeps_extra(ecli, write_csv, tmp_path) -> None:
    ecli("import", "contacts", write_csv("c.csv", [["email", "微信", "Note"], ["a@x.com", "wx1", "n"]]))
    exported = ecli("export", "contacts", "--format", "csv", "--raw").stdout
    other = Cli(tmp_path / "other.db")
    other("import", "contacts", "-", input=exported.encode())
    assert other.rows("export", "contacts")[0]["extra"] == {"微信": "wx1", "Note": "n"}


def test_orders_export_round_trip(ecli, write_csv, tmp_path) -> None:
    ecli("import", "contacts", write_csv("c.csv", CONTACT_ROWS))
    ecli("import", "orders", write_csv("o.csv", [["order_id", "customer_id", "order_date", "amount"],
                                                ["O1", "C1", "2024-01-05", "-12.5"]]))
    exported = ecli("export", "orders", "-f", "csv", "--raw").stdout
    assert exported.splitlines()[0].startswith("id,order_id,customer_id")
    other = Cli(tmp_path / "o.db")
    other("import", "contacts", "-", input=ecli("export", "contacts", "-f", "csv", "--raw").stdout.encode())
    assert other("import", "orders", "-", input=exported.encode()).exit_code == 0
    assert other("export", "orders", "-f", "csv", "--raw").stdout == exported


def test_empty_store_prints_no_rows(ecli) -> None:
    assert ecli("init").exit_code == 0  # reading commands never create a store
    assert ecli.rows("export", "contacts") == []
    result = ecli("export", "orders", "--format", "csv")
    assert result.exit_code == 0 and result.stdout.strip().count("\n") == 0


def test_where_with_empty_value_finds_missing_values(stocked) -> None:
    assert [r["external_id"] for r in stocked.rows("export", "contacts", "--where", "phone=")] == ["C5"]
    assert [r["external_id"] for r in stocked.rows("export", "contacts", "--where", "gender=")] == [
        "C1", "C2", "C3", "C4", "C5"]


def test_mask_masks_an_unencrypted_store_too(ecli, write_csv) -> None:
    """export --mask is a promise about the output, not about the store (issue 16, case 5)."""
    assert ecli("import", "contacts", write_csv("a.csv", CONTACT_ROWS)).exit_code == 0
    result = ecli("export", "contacts", "--mask", "--format", "csv")
    assert result.exit_code == 0, result.output
    for value in ("zhang.wei@qq.com", "138 0013 8000", "bob@example.com", "lina@163.com"):
        assert value not in result.stdout
    assert "138 **** 8000" in result.stdout and "z***@qq.com" in result.stdout
    assert "张伟" in result.stdout  # names are not sensitive columns: shown as they are
