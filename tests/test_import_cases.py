"""Issue 18, cases 6, 7 and 8 through the CLI: import and clean agree, erased stays
erased, rejects you can read. The files are in tests/data/files/ (written for issue 18
in the shape of real CRM exports)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "files"
CRM_CN = DATA / "crm_export_cn.csv"


def summary(result) -> str:
    return result.stderr.strip().splitlines()[-1]


# ---- case 6: import and clean agree ------------------------------------------------

def test_case6_reimporting_the_raw_file_after_clean_changes_nothing(ecli) -> None:
    assert ecli("import", "contacts", CRM_CN).exit_code == 0
    assert ecli("clean").exit_code == 0
    cleaned = ecli.sql("SELECT phone FROM contacts ORDER BY id")
    assert cleaned == [("+8613800138000",), ("+8613912345678",)]
    again = ecli("import", "contacts", CRM_CN)
    assert "inserted 0, updated 0, unchanged 2" in summary(again)
    assert ecli.sql("SELECT phone FROM contacts ORDER BY id") == cleaned
    assert ecli.sql("SELECT count(*) FROM history WHERE operation = 'import'") == [(0,)]


def test_case6_import_clean_after_a_raw_import_writes_no_history_row_with_old_equal_new(
        ecli) -> None:
    assert ecli("import", "contacts", CRM_CN).exit_code == 0
    result = ecli("import", "contacts", CRM_CN, "--clean")
    assert "updated 2" in summary(result)  # cleaned in the same write
    assert ecli.sql("SELECT phone FROM contacts ORDER BY id")[0] == ("+8613800138000",)
    assert ecli.sql("SELECT count(*) FROM history WHERE old = new") == [(0,)]
    assert ecli.sql("SELECT DISTINCT operation FROM history") == [("clean",)]
    for args in (("--clean",), ()):  # then both ways of importing it again are no-ops
        assert "unchanged 2" in summary(ecli("import", "contacts", CRM_CN, *args))
    assert ecli.sql("SELECT count(*) FROM history WHERE old = new") == [(0,)]


def test_case6_a_real_change_is_still_an_update(cli, tmp_path: Path) -> None:
    assert cli("import", "contacts", CRM_CN).exit_code == 0
    assert cli("clean").exit_code == 0
    moved = tmp_path / "moved.csv"
    moved.write_text(CRM_CN.read_text(encoding="utf-8").replace("13800138000", "13700001111"),
                     encoding="utf-8")
    result = cli("import", "contacts", moved)
    assert "updated 1, unchanged 1" in summary(result)
    assert cli.sql("SELECT old, new FROM history WHERE operation = 'import'") == [
        ("+8613800138000", "13700001111")]


# ---- case 7: erased stays erased ----------------------------------------------------

def _dump(cli) -> str:
    return cli.dump()


def test_case7_a_forgotten_person_is_not_imported_again(ecli) -> None:
    assert ecli("import", "contacts", CRM_CN).exit_code == 0
    assert ecli("forget", "email:oyny@163.com", "--yes").exit_code == 0
    again = ecli("import", "contacts", CRM_CN)
    assert again.exit_code == 0, again.output
    assert summary(again).startswith(
        "read 2, inserted 0, updated 0, unchanged 1, rejected 0, skipped 1 (1 erased at the "
        "person's request)")
    dump = _dump(ecli)
    for value in ("oyny@163.com", "13912345678", "欧阳", "娜娜"):
        assert value not in dump  # not among the contacts, the rejects or the list
    assert ecli.sql("SELECT count(*) FROM contacts WHERE email_key IS NOT NULL") == [(1,)]
    # The same person's phone in another spelling, without the email, is still them.
    other = "姓名,手机\n欧阳娜娜,+86 139-1234-5678\n张三,13500001111\n"
    result = ecli("import", "contacts", "-", input=other.encode("utf-8"))
    assert "inserted 1" in summary(result) and "(1 erased" in summary(result)


def test_case7_orders_of_a_forgotten_person_are_skipped_not_rejected(ecli) -> None:
    assert ecli("import", "contacts", DATA / "superstore_customers.csv").exit_code == 0
    assert ecli("import", "orders", DATA / "superstore_orders.csv").exit_code == 0
    assert ecli("forget", "MK-17905", "--yes").exit_code == 0
    again = ecli("import", "orders", DATA / "superstore_orders.csv")
    assert "rejected 0, skipped 5 (5 erased at the person's request)" in summary(again)
    assert ecli.sql("SELECT count(*) FROM rejects") == [(0,)]


def test_case7_forget_list_shows_only_counts_and_dates(ecli) -> None:
    assert ecli("import", "contacts", CRM_CN).exit_code == 0
    empty = ecli("forget", "--list")
    assert empty.exit_code == 0
    assert "0 people erased" in empty.stdout
    done = ecli("forget", "email:zhang.wei@qq.com", "--yes")
    assert "2 identifiers added to the suppression list" in done.stderr  # email and phone
    listed = ecli("forget", "--list")
    assert listed.exit_code == 0
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[-1].startswith("1 person erased at their request")
    assert "zhang" not in listed.stdout and "138" not in listed.stdout
    assert ecli("forget", "C1", "--list").exit_code == 2
    assert ecli("forget").exit_code == 2


# ---- case 8: rejects you can read ---------------------------------------------------

ORDERS_WITH_STRANGERS = ("order_id,customer_id,order_date,amount\n"
                         "O-1,AB-10015,2026-01-02,10.00\n"
                         "O-2,ZZ-99999,2026-01-03,20.00\n"
                         "O-3,AB-10015,2026-01-04,=1+2\n"
                         "O-4,YY-88888,2026-01-05,30.00\n")


def test_case8_rejects_are_exported_and_kept_once_per_file(ecli, tmp_path: Path) -> None:
    import json

    assert ecli("import", "contacts", DATA / "superstore_customers.csv").exit_code == 0
    source = tmp_path / "orders.csv"
    source.write_text(ORDERS_WITH_STRANGERS, encoding="utf-8")
    for _ in range(2):
        assert "rejected 2" in summary(ecli("import", "orders", source))
    assert ecli.sql("SELECT count(*) FROM rejects") == [(2,)]
    result = ecli("export", "rejects", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["operation"], r["kind"], r["line"], r["reason"], r["raw"]) for r in rows] == [
        (2, "orders", 3, "no contact matches the customer", "O-2,ZZ-99999,2026-01-03,20.00"),
        (2, "orders", 5, "no contact matches the customer", "O-4,YY-88888,2026-01-05,30.00")]
    assert rows[0]["input_file"] == str(source)
    # Another file of the same name with another bad row adds only that row.
    source.write_text(ORDERS_WITH_STRANGERS.replace("YY-88888", "XX-77777"), encoding="utf-8")
    assert "rejected 2" in summary(ecli("import", "orders", source))
    assert ecli.sql("SELECT op_id, line FROM rejects ORDER BY id") == [(2, 3), (2, 5), (4, 5)]
    only = ecli("export", "rejects", "--operation", "4", "--format", "csv")
    assert only.stdout.splitlines()[1:] == [
        (f"3,4,orders,{source},5,no contact matches the customer,"
         "\"O-4,XX-77777,2026-01-05,30.00\"")]
    assert ecli("export", "rejects", "--operation", "99").exit_code == 2


def test_case8_rejects_of_an_encrypted_store_export_opened_with_the_key(ecli, tmp_path) -> None:
    key = tmp_path / "crm.key"
    assert ecli("keygen", "--key-file", key).exit_code == 0
    assert ecli("import", "contacts", DATA / "superstore_customers.csv").exit_code == 0
    assert ecli("--key-file", key, "encrypt").exit_code == 0
    source = tmp_path / "orders.csv"
    source.write_text(ORDERS_WITH_STRANGERS, encoding="utf-8")
    for _ in range(2):
        assert ecli("--key-file", key, "import", "orders", source).exit_code == 0
    assert ecli.sql("SELECT count(*) FROM rejects") == [(2,)]
    assert "ZZ-99999" not in str(ecli.sql("SELECT raw FROM rejects"))
    opened = ecli("--key-file", key, "export", "rejects", "--format", "csv")
    assert "O-2,ZZ-99999,2026-01-03,20.00" in opened.stdout
