"""Real export shapes in, nothing silently wrong or dropped (issue 18), through the CLI.

The files in tests/data/files/ are written for these tests in the shapes real exports
have (German Excel CSV, Swiss amounts, a Chinese sheet with title and totals rows, ...).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data" / "files"


def summary(result) -> str:
    return result.stderr.strip().splitlines()[-1]


@pytest.fixture
def de_store(cli):
    result = cli("import", "contacts", DATA / "contacts_de.csv")
    assert result.exit_code == 0, result.output
    return cli


@pytest.fixture
def de_estore(ecli):
    """de_store on each engine (sqlite, postgres)."""
    result = ecli("import", "contacts", DATA / "contacts_de.csv")
    assert result.exit_code == 0, result.output
    return ecli


# ---- case 1 and 10: numbers by locale, plain numbers out ------------------------------

def test_case1_decimal_comma_amounts_are_read_right(de_estore) -> None:
    result = de_estore("import", "orders", DATA / "orders_de.csv")
    assert result.exit_code == 0, result.output
    assert "read 7, inserted 7" in summary(result)
    got = dict(de_estore.sql("SELECT order_id, amount_value FROM orders"))
    assert got == {"B-1001": 12.5, "B-1002": 1234.5, "B-1003": 1234.5, "B-1004": 99.9,
                   "B-1005": 1234567.0, "B-1006": 2500.0, "B-1007": -45.0}
    assert de_estore.sql("SELECT amount FROM orders WHERE order_id = 'B-1003'") == [("1.234,50",)]
    again = de_estore("import", "orders", DATA / "orders_de.csv")
    assert "unchanged 7" in summary(again)


def test_case1_apostrophe_thousands_and_currency_codes(de_store) -> None:
    result = de_store("import", "orders", DATA / "orders_ch.csv")
    assert result.exit_code == 0, result.output
    got = dict(de_store.sql("SELECT order_id, amount_value FROM orders"))
    assert got == {"CH-1": 1234.5, "CH-2": 12000.0, "CH-3": 1234.0, "CH-4": 99.95}


def test_case1_an_undecidable_column_is_flagged_never_guessed(de_estore) -> None:
    result = de_estore("import", "orders", DATA / "orders_ambiguous.csv")
    assert result.exit_code == 0, result.output
    assert "2 amount(s) cannot be read" in result.stderr and "line 2" in result.stderr
    assert "--decimal" in result.stderr
    got = dict(de_estore.sql("SELECT order_id, amount_value FROM orders"))
    assert got == {"A-1": None, "A-2": None, "A-3": 800.0}
    audit = de_estore("audit", "--format", "json")
    assert "cannot be read" in audit.stdout


@pytest.mark.parametrize("decimal, expected", [(",", 1.234), (".", 1234.0)])
def test_case1_decimal_option_forces_the_reading(de_store, decimal: str, expected: float) -> None:
    result = de_store("import", "orders", DATA / "orders_ambiguous.csv", "--decimal", decimal)
    assert result.exit_code == 0, result.output
    assert "cannot be read" not in result.stderr
    assert de_store.sql("SELECT amount_value FROM orders WHERE order_id = 'A-1'") == [(expected,)]


def test_case1_decimal_option_is_checked(de_store) -> None:
    result = de_store("import", "orders", DATA / "orders_de.csv", "--decimal", "x")
    assert result.exit_code == 2 and "--decimal" in result.stderr


def test_case1_amounts_from_stdin_are_decided_too(de_store) -> None:
    result = de_store("import", "orders", "-", input=(DATA / "orders_de.csv").read_bytes())
    assert result.exit_code == 0, result.output
    assert dict(de_store.sql("SELECT order_id, amount_value FROM orders"))["B-1003"] == 1234.5


def test_case10_amounts_are_plain_numbers_in_json_and_csv(de_estore) -> None:
    de_estore("import", "orders", DATA / "orders_de.csv")
    rows = de_estore.rows("export", "orders")
    assert {r["order_id"]: r["amount"] for r in rows}["B-1002"] == 1234.5
    assert all(isinstance(r["amount"], float | int) for r in rows)
    text = de_estore("export", "orders", "--format", "csv").stdout
    assert ",1234.5," in text and "1.234,50" not in text
    lines = de_estore("export", "orders", "--format", "jsonl").stdout.splitlines()
    assert sum(1 for line in lines if json.loads(line)["amount"] > 1000) == 4


# ---- case 3: encodings a Western user has ----------------------------------------------

def test_case3_windows_1252_file_is_read_as_cp1252_and_says_so(cli) -> None:
    result = cli("import", "contacts", DATA / "contacts_cp1252.csv")
    assert result.exit_code == 0, result.output
    assert "read 120, inserted 120, updated 0, unchanged 0, rejected 0" in summary(result)
    assert "encoding cp1252 (a guess: pass --encoding" in summary(result)
    names = {n for (n,) in cli.sql("SELECT name FROM contacts")}
    assert {"Peter Bühler", "José Peña", "Élodie Lefèvre", "José Muñoz", "François Çelik"} <= names
    notes = cli.sql("SELECT extra FROM contacts WHERE external_id = 'W0004'")[0][0]
    assert "Prospekt „Frühjahr“" in json.loads(notes).values()


def test_case3_german_names_that_gb18030_decodes_stay_german(cli, tmp_path) -> None:
    path = tmp_path / "kunden.csv"
    path.write_bytes("E-Mail;Name\r\npb@example.de;Peter Bühler\r\njm@example.de;Jörg Müller\r\n"
                     .encode("cp1252"))
    result = cli("import", "contacts", path)
    assert result.exit_code == 0, result.output
    assert cli.sql("SELECT name FROM contacts ORDER BY id") == [("Peter Bühler",), ("Jörg Müller",)]


def test_case3_chinese_excel_export_stays_gb18030_without_a_guess(cli) -> None:
    result = cli("import", "contacts", DATA / "contacts_gb18030.csv")
    assert result.exit_code == 0, result.output
    assert summary(result).endswith("skipped 0; encoding gb18030")
    assert cli.sql("SELECT name, city FROM contacts WHERE external_id = 'K0001'") == [("王磊", "上海市")]


def test_case3_forced_encoding_is_named_and_not_a_guess(cli) -> None:
    result = cli("import", "contacts", DATA / "contacts_cp1252.csv", "--encoding", "latin-1")
    assert result.exit_code == 0 and summary(result).endswith("encoding iso8859-1")


# ---- case 4: Excel layouts (title, blank and totals rows) -------------------------------

def test_case4_title_blank_and_totals_rows_are_skipped_and_counted(cli) -> None:
    result = cli("import", "contacts", DATA / "contacts_cn_sheet.csv")
    assert result.exit_code == 0, result.output
    # 9 rows after the header: 5 people, 2 blank, 小计 and 合计.
    assert "read 9, inserted 5, updated 0, unchanged 0, rejected 0, skipped 4" in summary(result)
    assert cli.sql("SELECT count(*) FROM contacts WHERE phone = '63' OR name LIKE '%计'") == [(0,)]
    assert cli.count("rejects") == 0
    again = cli("import", "contacts", DATA / "contacts_cn_sheet.csv")
    assert "read 9, inserted 0, updated 0, unchanged 5, rejected 0, skipped 4" in summary(again)


def test_case4_english_sheet_with_title_and_grand_total(cli) -> None:
    result = cli("import", "contacts", DATA / "contacts_en_sheet.csv")
    assert result.exit_code == 0, result.output
    assert "read 4, inserted 2, updated 0, unchanged 0, rejected 0, skipped 2" in summary(result)
    assert cli.sql("SELECT external_id, name, phone FROM contacts ORDER BY id") == [
        ("C-101", "Mary Johnson", "+1 415 555 0101"), ("C-102", "Robert Smith", "+1 212 555 0199")]


def test_case4_header_row_option_forces_the_physical_row(cli) -> None:
    result = cli("import", "contacts", DATA / "contacts_cn_sheet.csv", "--header-row", "4")
    assert result.exit_code == 0, result.output
    assert "read 9, inserted 5" in summary(result)


@pytest.mark.parametrize("row, message", [("1", "names the customer"), ("99", "--header-row")])
def test_case4_a_wrong_header_row_is_a_usage_error(cli, row: str, message: str) -> None:
    result = cli("import", "contacts", DATA / "contacts_cn_sheet.csv", "--header-row", row)
    assert result.exit_code == 2 and message in result.stderr
    assert cli.count("contacts") == 0


def test_case4_a_totals_row_with_an_email_is_a_contact(cli, write_csv) -> None:
    result = cli("import", "contacts", write_csv("c.csv", [["name", "email"],
                                                           ["Total", "total@example.com"]]))
    assert "inserted 1" in summary(result) and "skipped 0" in summary(result)


def test_case4_orders_totals_row_is_skipped(de_store, tmp_path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("order_id,customer_id,order_date,amount\r\nO1,K1,2024-01-02,10.50\r\n"
                    "Total,,,10.50\r\n\r\n", encoding="utf-8")
    result = de_store("import", "orders", path)
    assert "read 3, inserted 1, updated 0, unchanged 0, rejected 0, skipped 2" in summary(result)


# ---- case 9: .xlsx in and out -----------------------------------------------------------

def test_case9_xlsx_first_sheet_imports_like_csv(cli) -> None:
    result = cli("import", "contacts", DATA / "customers_cn.xlsx")
    assert result.exit_code == 0, result.output
    assert "read 5, inserted 3, updated 0, unchanged 0, rejected 0, skipped 2" in summary(result)
    assert "encoding" not in summary(result)
    assert cli.sql("SELECT external_id, phone, birth_date, extra FROM contacts ORDER BY id") == [
        ("K001", "13800138000", "1990-05-01", '{"累计消费": "1234.5"}'),
        ("K002", "139 1234 5678", "1985-01-02", '{"累计消费": "860"}'),
        ("K003", "13700001111", None, '{"累计消费": "430.25"}')]
    again = cli("import", "contacts", DATA / "customers_cn.xlsx")
    assert "unchanged 3" in summary(again)


def test_case9_xlsx_named_sheet_orders_numbers_and_dates(ecli) -> None:
    ecli("import", "contacts", DATA / "customers_cn.xlsx")
    result = ecli("import", "orders", DATA / "customers_cn.xlsx", "--sheet", "订单")
    assert result.exit_code == 0, result.output
    assert ecli.sql("SELECT order_id, day, amount_value FROM orders ORDER BY id") == [
        ("D-1", "2024-03-01", 1234.5), ("D-2", "2024-03-02", 1.234), ("D-3", "2024-03-05", 1234.5)]


def test_case9_xlsx_from_stdin_and_unknown_sheet(cli) -> None:
    data = (DATA / "customers_cn.xlsx").read_bytes()
    assert "inserted 3" in summary(cli("import", "contacts", "-", input=data))
    bad = cli("import", "contacts", DATA / "customers_cn.xlsx", "--sheet", "Nope")
    assert bad.exit_code == 2 and "客户, 订单" in bad.stderr


def test_case9_a_zip_that_is_no_workbook_is_a_usage_error(cli, tmp_path) -> None:
    import zipfile

    path = tmp_path / "x.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    result = cli("import", "contacts", path)
    assert result.exit_code == 2 and "not a readable .xlsx" in result.stderr


def test_case9_export_xlsx_is_a_workbook_a_manager_can_open(ecli, tmp_path) -> None:
    import openpyxl

    ecli("import", "contacts", DATA / "contacts_de.csv")
    ecli("import", "orders", DATA / "orders_de.csv")
    ecli.sql("UPDATE contacts SET city = '=HYPERLINK(\"http://x\")' WHERE id = 1")
    for kind in ("contacts", "orders"):
        result = ecli.runner.invoke(__import__("custdata.cli", fromlist=["app"]).app,
                                   ["--db", str(ecli.db), "export", kind, "-f", "xlsx"])
        assert result.exit_code == 0, result.output
        path = tmp_path / f"{kind}.xlsx"
        path.write_bytes(result.stdout_bytes)
        ws = openpyxl.load_workbook(path).active
        assert ws.freeze_panes == "A2" and ws["A1"].font.b and ws["A1"].value == "id"
        header = [c.value for c in ws[1]]
        if kind == "orders":
            amounts = [r[header.index("amount")] for r in ws.iter_rows(min_row=2, values_only=True)]
            assert 1234.5 in amounts and all(isinstance(a, float | int) for a in amounts)
            day = ws.cell(2, header.index("order_date") + 1).value
            assert day.year == 2024
        else:
            city = ws.cell(2, header.index("city") + 1)
            assert city.data_type == "s" and city.value.startswith("=HYPERLINK")


def test_case9_export_xlsx_to_a_terminal_is_refused(cli, monkeypatch) -> None:
    from custdata.cli import data as data_cli

    cli("import", "contacts", DATA / "contacts_de.csv")
    monkeypatch.setattr(data_cli, "_stdout_is_terminal", lambda: True)
    result = cli("export", "contacts", "-f", "xlsx")
    assert result.exit_code == 2 and "redirect" in result.stderr


# ---- case 5: mapping a user can see and fix ---------------------------------------------

def test_case5_crm_headers_map_without_help(cli) -> None:
    result = cli("import", "contacts", DATA / "crm_export_en.csv")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    rows = cli.rows("export", "contacts")
    assert [(r["name"], r["email"], r["phone"], r["company"]) for r in rows] == [
        ("Mary Johnson", "mary.johnson@example.com", "+1 415 555 0101", "Acme Corp"),
        ("Robert Smith", "rob.smith@example.com", "+1 212 555 0199", "Globex"),
        ("Li Wei", "li.wei@example.cn", "+86 138 0013 8000", "Initech")]
    assert rows[0]["extra"] == {"Record ID": "501", "phone_2": "+1 415 555 0111",
                                "Lead Status": "Open"}


def test_case5_chinese_family_and_given_names_join_without_a_space(cli) -> None:
    result = cli("import", "contacts", DATA / "crm_export_cn.csv")
    assert result.exit_code == 0, result.output
    # 客户名称 is the name column here, so 姓 and 名 stay apart (in extra).
    assert cli.sql("SELECT name, phone, email, company FROM contacts ORDER BY id")[0] == (
        "上海某贸易公司", "13800138000", "zhang.wei@qq.com", "某贸易公司")
    other = cli("import", "contacts", DATA / "crm_export_cn.csv", "--map", "姓+名=name",
                "--map", "客户名称=company")
    assert other.exit_code == 0, other.output
    assert cli.sql("SELECT name, company FROM contacts ORDER BY id") == [
        ("张伟", "上海某贸易公司"), ("欧阳娜娜", "北京某科技公司")]


def test_case5_map_joins_columns_in_the_order_given(cli) -> None:
    result = cli("import", "contacts", DATA / "crm_export_en.csv", "--map",
                 "Last Name+First Name=name")
    assert result.exit_code == 0, result.output
    assert cli.sql("SELECT name FROM contacts ORDER BY id LIMIT 1") == [("Johnson Mary",)]


def test_case5_dry_run_shows_where_each_column_goes(cli) -> None:
    result = cli("import", "contacts", DATA / "crm_export_en.csv", "--dry-run")
    assert result.exit_code == 0 and cli.count("contacts") == 0
    for line in ("First Name -> name (joined, part 1)", "Phone 1 -> phone",
                 "Mobile Phone -> extra[phone_2]", "Lead Status -> extra[Lead Status]"):
        assert line in result.stderr
    assert result.stdout == ""


def test_case5_no_person_column_warns_and_a_later_map_moves_values_out_of_extra(cli) -> None:
    first = cli("import", "contacts", DATA / "contacts_unmapped.csv", "--map", "Kunde=external_id")
    assert first.exit_code == 0, first.output
    assert "warning: no column maps to name, email or phone" in first.stderr
    assert "--map" in first.stderr
    assert json.loads(cli.sql("SELECT extra FROM contacts WHERE id = 1")[0][0])["Mobiltelefon"]
    again = cli("import", "contacts", DATA / "contacts_unmapped.csv", "--map", "Kunde=external_id",
                "--map", "Mobiltelefon=phone", "--map", "Rufname+Familienname=name")
    assert "updated 2" in summary(again) and "warning" not in again.stderr
    assert cli.sql("SELECT name, phone, extra FROM contacts WHERE id = 1") == [
        ("Peter Bühler", "+49 171 1234567", '{"Bemerkung": "VIP"}')]
