"""export --columns / --sort / --limit and a table that streams page by page (issue 19)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from custdata.api import Session, data
from custdata.cli import _shared
from tests.conftest import Cli

ROWS = [
    ["external_id", "name", "company", "email", "phone", "city", "created_at"],
    ["C1", "张伟", "华信科技", "zhang.wei@qq.com", "138 0013 8000", "上海", "2024-03-01"],
    ["C2", "Bob Smith", "Acme", "bob@example.com", "+1 650 253 0000", "Boston", "2024-01-15"],
    ["C3", "李娜", "", "lina@163.com", "13912345678", "北京", ""],
    ["C4", "Anna Lee", "Zeta", "anna@zeta.io", "13700001111", "上海", "2024-02-10"],
]


@pytest.fixture
def crm(cli: Cli, write_csv) -> Cli:
    assert cli("import", "contacts", write_csv("c.csv", ROWS)).exit_code == 0
    return cli


def _csv(cli: Cli, *args: str) -> list[dict]:
    result = cli("export", "contacts", "--format", "csv", *args)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_columns_choose_and_order_the_fields(crm: Cli) -> None:
    result = crm("export", "contacts", "--format", "csv", "--columns", "name, phone,id")
    assert result.stdout.splitlines()[0] == "name,phone,id"
    assert crm.rows("export", "contacts", "--columns", "external_id")[0] == {"external_id": "C1"}


def test_sort_ascending_descending_and_empty_last(crm: Cli) -> None:
    asc = [r["external_id"] for r in _csv(crm, "--sort", "company")]
    assert asc == ["C2", "C4", "C1", "C3"]  # the contact without a company comes last
    desc = [r["external_id"] for r in _csv(crm, "--sort", "company:desc")]
    assert desc == ["C1", "C4", "C2", "C3"]
    assert [r["name"] for r in _csv(crm, "--sort", "name", "--columns", "name")][:2] == [
        "Anna Lee", "Bob Smith"]


def test_limit_with_sort_and_filters(crm: Cli) -> None:
    assert [r["external_id"] for r in _csv(crm, "--limit", "2")] == ["C1", "C2"]
    top = _csv(crm, "--sort", "created_at:desc", "--limit", "1", "--where", "city=上海")
    assert [r["external_id"] for r in top] == ["C1"]
    assert _csv(crm, "--limit", "0") == []


def test_orders_sort_by_amount_as_a_number(crm: Cli, write_csv) -> None:
    orders = [["order_id", "customer_id", "order_date", "amount"],
              ["O1", "C1", "2024-01-01", "9.50"], ["O2", "C2", "2024-01-02", "100"],
              ["O3", "C1", "2024-01-03", "20"]]
    assert crm("import", "orders", write_csv("o.csv", orders)).exit_code == 0
    rows = crm.rows("export", "orders", "--sort", "amount:desc", "--columns", "order_id,amount")
    assert [r["order_id"] for r in rows] == ["O2", "O3", "O1"]


@pytest.mark.parametrize("args, words", [
    (["--columns", "name,nope"], "'nope' is not a column"),
    (["--sort", "nope"], "Cannot sort contacts by 'nope'"),
    (["--sort", "name:up"], "FIELD:desc"),
    (["--limit", "-1"], "0 or more"),
])
def test_bad_view_options_are_exit_2(crm: Cli, args: list[str], words: str) -> None:
    result = crm("export", "contacts", *args)
    assert result.exit_code == 2 and words in result.stderr


def test_sort_by_an_encrypted_column_with_the_key(crm: Cli, tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    crm("keygen", "--key-file", key)
    assert crm("--key-file", key, "encrypt").exit_code == 0
    keyed = Cli(crm.db)
    result = keyed("--key-file", key, "export", "contacts", "--sort", "email", "--limit", "2",
                   "--columns", "email", "--format", "csv")
    assert result.stdout.split() == ["email", "anna@zeta.io", "bob@example.com"]


def test_table_shows_a_short_set_of_columns_and_names_the_rest(crm: Cli) -> None:
    result = crm("export", "contacts", "--format", "table")
    header = result.stdout.splitlines()[1]
    assert "name" in header and "phone" in header and "birth_date" not in header
    assert "--columns" in result.stderr


def test_table_streams_pages_with_a_header_each(cli: Cli, write_csv) -> None:
    many = [["external_id", "name"]] + [[f"K{i:04d}", f"Person {i}"] for i in range(120)]
    cli("import", "contacts", write_csv("many.csv", many))
    table = cli("export", "contacts", "--format", "table", "--columns", "id,name").stdout
    assert table.count("┃ id") == 3  # 50 + 50 + 20 rows
    assert "Person 119" in table


def test_a_page_is_printed_before_the_next_rows_are_read(capsys) -> None:
    printed_before: list[int] = []

    def rows():
        for i in range(_shared.PAGE_ROWS + 5):
            if i == _shared.PAGE_ROWS:
                printed_before.append(capsys.readouterr().out.count("row-"))
            yield {"id": i, "name": f"row-{i}"}

    assert _shared.emit_pages(rows(), ["id", "name"]) == _shared.PAGE_ROWS + 5
    assert printed_before == [_shared.PAGE_ROWS]


def test_long_cells_end_with_an_ellipsis(cli: Cli, write_csv) -> None:
    cli("import", "contacts", write_csv("l.csv", [["external_id", "name"], ["L1", "x" * 80]]))
    table = cli("export", "contacts", "--format", "table", "--columns", "name").stdout
    assert "x" * 80 not in table and "…" in table


def test_export_view_from_python(crm: Cli) -> None:
    rows = list(data.export_rows(Session(db=crm.db), "contacts", columns=["name"],
                                 sort="name:desc", limit=1))
    assert rows == [{"name": "李娜"}]
