"""`custdata import` end to end: counts, upserts, rejects, strict, dry-run, stdin, mapping."""

from __future__ import annotations

import csv

import pytest

from custdata.errors import ExitCode
from tests.conftest import CONTACT_ROWS, make_csv

SUMMARY = "read {}, inserted {}, updated {}, unchanged {}, rejected {}"


def summary(result) -> str:
    return result.stderr.strip().splitlines()[-1]


def test_import_counts_add_up_and_reimport_changes_nothing(ecli, write_csv) -> None:
    path = write_csv("c.csv", CONTACT_ROWS)
    first = ecli("import", "contacts", path)
    assert first.exit_code == 0, first.output
    assert SUMMARY.format(3, 3, 0, 0, 0) in summary(first)
    before = ecli.sql("SELECT * FROM contacts ORDER BY id")
    again = ecli("import", "contacts", path)
    assert SUMMARY.format(3, 0, 0, 3, 0) in summary(again)
    assert ecli.sql("SELECT * FROM contacts ORDER BY id") == before


def test_values_are_stored_exactly_as_read(ecli, write_csv) -> None:
    rows = [["email", "name", "phone"], ["  ZW@QQ.COM ", "ＡＢＣ  Ltd", "138-0013-8000"],
            ["b@x.com", "B", "139-0013-8000\x00"]]
    result = ecli("import", "contacts", write_csv("c.csv", rows))
    assert result.exit_code == 0, result.output
    stored = ecli.sql("SELECT email, name, phone FROM contacts ORDER BY id")
    if ecli.engine == "sqlite":
        assert stored == [tuple(rows[1]), tuple(rows[2])]
        return
    # PostgreSQL's text cannot hold NUL: that row is a reject, the rest imports (was: exit 3)
    assert SUMMARY.format(2, 1, 0, 0, 1) in summary(result)
    assert stored == [tuple(rows[1])]
    assert ecli.sql("SELECT line, raw, reason FROM rejects") == [
        (3, "b@x.com,B,139-0013-8000\u2400", "a NUL character (0x00), which the team store's "
                                             "text cannot hold")]


def test_upsert_matches_on_normalized_email_then_phone(ecli, write_csv) -> None:
    ecli("import", "contacts", write_csv("a.csv", [["email", "phone", "city"],
                                                   ["Zhang@QQ.com", "", "上海"],
                                                   ["", "13800138000", "北京"]]))
    result = ecli("import", "contacts", write_csv("b.csv", [["E-mail", "mobile", "city"],
                                                            ["zhang@qq.com", "", "杭州"],
                                                            ["", "+86 138 0013 8000", "广州"]]))
    assert SUMMARY.format(2, 0, 2, 0, 0) in summary(result)
    assert ecli.sql("SELECT city FROM contacts ORDER BY id") == [("杭州",), ("广州",)]
    hist = ecli.rows("history", "1")
    assert [(h["operation"], h["field"], h["old"], h["new"]) for h in hist] == [
        ("import", "email", "Zhang@QQ.com", "zhang@qq.com"), ("import", "city", "上海", "杭州")]


def test_blank_cells_never_erase_stored_values(ecli, write_csv) -> None:
    ecli("import", "contacts", write_csv("a.csv", [["external_id", "email", "city"],
                                                   ["C1", "a@x.com", "上海"]]))
    result = ecli("import", "contacts", write_csv("b.csv", [["external_id", "email", "city"],
                                                            ["C1", "", ""]]))
    assert SUMMARY.format(1, 0, 0, 1, 0) in summary(result)
    assert ecli.sql("SELECT email, city FROM contacts") == [("a@x.com", "上海")]


def test_ragged_and_unidentifiable_rows_are_rejects(ecli, tmp_path) -> None:
    data = b"external_id,name,email\r\nC1,A,a@x.com\r\nC2,B\r\n,Nobody,\r\nC3,C,c@x.com,extra\r\n"
    path = tmp_path / "c.csv"
    path.write_bytes(data)
    rejects = tmp_path / "rejects.csv"
    result = ecli("import", "contacts", path, "--rejects", rejects)
    assert result.exit_code == 0
    assert SUMMARY.format(4, 1, 0, 0, 3) in summary(result)
    stored = ecli.sql("SELECT line, raw, reason FROM rejects ORDER BY line")
    assert [(line, raw) for line, raw, _ in stored] == [
        (3, "C2,B"), (4, ",Nobody,"), (5, "C3,C,c@x.com,extra")]
    assert "wrong number of fields" in stored[0][2] and "identifying" in stored[1][2]
    with rejects.open(encoding="utf-8", newline="") as fh:
        assert [r["line"] for r in csv.DictReader(fh)] == ["3", "4", "5"]


def test_undecodable_row_is_a_reject_with_its_line(ecli, tmp_path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"email,name\r\na@x.com,ok\r\nb@x.com,bad\xff\r\n")
    result = ecli("import", "contacts", path, "--encoding", "utf-8")
    assert SUMMARY.format(2, 1, 0, 0, 1) in summary(result)
    assert ecli.sql("SELECT line, reason FROM rejects") == [
        (3, "undecodable bytes for the file's encoding")]


def test_big_gb18030_export_with_a_stray_row_is_detected_and_the_row_rejected(ecli, tmp_path) -> None:
    # Over the 64 KiB detection window, cut inside a character, one row of stray bytes.
    names = [f"{'欧阳娜娜' if i % 3 else '王芳'}{i}" for i in range(3000)]
    rows = [f"K{i},{name},{13800000000 + i}\r\n".encode("gb18030") for i, name in enumerate(names)]
    data = "客户编号,姓名,手机\r\n".encode("gb18030") + b"".join(rows[:10]) + \
        b"K-bad,\xff\xfe\xfd,13900000000\r\n" + b"".join(rows[10:])
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    result = ecli("import", "contacts", path)
    assert result.exit_code == 0, result.output
    assert SUMMARY.format(3001, 3000, 0, 0, 1) in summary(result)
    assert ecli.sql("SELECT line, reason FROM rejects") == [
        (12, "undecodable bytes for the file's encoding")]
    stored = dict(ecli.sql("SELECT external_id, name FROM contacts"))
    assert stored == {f"K{i}": name for i, name in enumerate(names)}


def test_an_undecodable_header_under_the_detected_encoding_is_unusable(cli, tmp_path) -> None:
    rows = "".join(f"K{i},王芳{i}\r\n" for i in range(20)).encode("gb18030")
    path = tmp_path / "c.csv"
    path.write_bytes(b"external_id,na\xffme\r\n" + rows)  # the body decides: GB18030
    result = cli("import", "contacts", path)
    assert result.exit_code == ExitCode.USAGE
    assert "header row" in result.stderr and "cannot be decoded as gb18030" in result.stderr
    assert cli.count("contacts") == 0


def test_strict_fails_whole_import_and_writes_nothing(ecli, write_csv) -> None:
    path = write_csv("c.csv", [*CONTACT_ROWS, ["", "Nobody", "", "", ""]])
    result = ecli("import", "contacts", path, "--strict")
    assert result.exit_code == ExitCode.FINDINGS
    assert SUMMARY.format(4, 3, 0, 0, 1) in result.stderr
    assert ecli.count("contacts") == 0
    assert ecli.count("oplog") == 0


def test_dry_run_counts_but_writes_nothing(ecli, write_csv) -> None:
    result = ecli("import", "contacts", write_csv("c.csv", CONTACT_ROWS), "--dry-run")
    assert result.exit_code == 0
    assert "dry run: " + SUMMARY.format(3, 3, 0, 0, 0) in summary(result)
    assert ecli.count("contacts") == 0


def test_stdin(ecli) -> None:
    result = ecli("import", "contacts", "-", input=make_csv(CONTACT_ROWS, encoding="gb18030"))
    assert SUMMARY.format(3, 3, 0, 0, 0) in summary(result)
    assert ecli.sql("SELECT input_file FROM oplog") == [("<stdin>",)]


@pytest.mark.parametrize("content", [b"", b"external_id,email\r\n"])
def test_empty_and_header_only_files(cli, tmp_path, content: bytes) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(content)
    result = cli("import", "contacts", path)
    assert result.exit_code == 0
    assert SUMMARY.format(0, 0, 0, 0, 0) in summary(result)


def test_chinese_excel_export_headers(ecli, tmp_path) -> None:
    rows = [["客户编号", "姓名", "手机", "邮箱", "公司", "城市", "省份", "身份证号", "备注"],
            ["K1", "王芳", "13912345678", "wf@163.com", "阿里", "杭州", "浙江",
             "11010519491231002X", "老客户"]]
    path = tmp_path / "excel.csv"
    path.write_bytes(make_csv(rows, encoding="gb18030"))
    assert ecli("import", "contacts", path).exit_code == 0
    [c] = ecli.rows("export", "contacts")
    assert (c["external_id"], c["name"], c["phone"], c["email"], c["company"], c["city"],
            c["province"], c["id_number"]) == ("K1", "王芳", "13912345678", "wf@163.com", "阿里",
                                               "杭州", "浙江", "11010519491231002X")
    assert c["extra"] == {"备注": "老客户"}


def test_repeated_headers_go_to_extra_numbered(ecli, write_csv) -> None:
    path = write_csv("c.csv", [["email", "Email", "E-mail", "Note", "note"],
                               ["a@x.com", "b@x.com", "c@x.com", "n1", "n2"]])
    assert ecli("import", "contacts", path).exit_code == 0
    [c] = ecli.rows("export", "contacts")
    assert c["email"] == "a@x.com"
    assert c["extra"] == {"email_2": "b@x.com", "email_3": "c@x.com", "Note": "n1", "note": "n2"}


def test_map_overrides_synonyms(cli, write_csv) -> None:
    path = write_csv("c.csv", [["Kontakt", "Handy"], ["Anna", "13800138000"]])
    result = cli("import", "contacts", path, "--map", "Kontakt=name", "--map", "Handy=phone")
    assert result.exit_code == 0
    assert cli.sql("SELECT name, phone FROM contacts") == [("Anna", "13800138000")]


@pytest.mark.parametrize("mapping, message", [("Nope=name", "no column"),
                                              ("Kontakt=shoe_size", "not a contacts field"),
                                              ("Kontakt", "SRC=FIELD")])
def test_bad_map_is_a_usage_error(cli, write_csv, mapping: str, message: str) -> None:
    path = write_csv("c.csv", [["Kontakt", "phone"], ["Anna", "13800138000"]])
    result = cli("import", "contacts", path, "--map", mapping)
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr and "Traceback" not in result.output
    assert cli.count("contacts") == 0


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04" + b"\x00" * 300, "xlsx"),
    (b"na\xffme,email\r\nx,y\r\n", "cannot be decoded"),
])
def test_unusable_files_exit_2_and_store_nothing(cli, tmp_path, content, message) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = cli("import", "contacts", path, "--encoding",
                 "utf-8" if b"na" in content else "auto")
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr
    assert cli.count("contacts") == 0


def test_missing_file_is_a_usage_error(cli, tmp_path) -> None:
    result = cli("import", "contacts", tmp_path / "nope.csv")
    assert result.exit_code == ExitCode.USAGE and "No such file" in result.stderr


def test_file_without_customer_columns_is_refused(cli, write_csv) -> None:
    result = cli("import", "contacts", write_csv("c.csv", [["foo", "bar"], ["1", "2"]]))
    assert result.exit_code == ExitCode.USAGE and "--map" in result.stderr


def test_source_option_fills_empty_source(ecli, write_csv) -> None:
    path = write_csv("c.csv", [["email", "source"], ["a@x.com", ""], ["b@x.com", "web"]])
    ecli("import", "contacts", path, "--source", "fair-2026")
    assert ecli.sql("SELECT source FROM contacts ORDER BY id") == [("fair-2026",), ("web",)]


def test_on_conflict_skip_and_fail(ecli, write_csv) -> None:
    ecli("import", "contacts", write_csv("a.csv", [["email", "city"], ["a@x.com", "上海"]]))
    changed = write_csv("b.csv", [["email", "city"], ["a@x.com", "北京"]])
    skip = ecli("import", "contacts", changed, "--on-conflict", "skip")
    assert SUMMARY.format(1, 0, 0, 1, 0) in summary(skip)
    fail = ecli("import", "contacts", changed, "--on-conflict", "fail")
    assert fail.exit_code == ExitCode.FINDINGS
    assert ecli.sql("SELECT city FROM contacts") == [("上海",)]


def test_operation_log_records_file_hash_and_counts(ecli, write_csv) -> None:
    import hashlib

    path = write_csv("c.csv", CONTACT_ROWS)
    ecli("import", "contacts", path)
    [entry] = ecli.rows("log")
    assert entry["input_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["counts"]["inserted"] == 3 and entry["user"]
    assert "import contacts" in entry["command"]


# ---- orders and interactions --------------------------------------------------------

def _with_contacts(cli, write_csv) -> None:
    assert cli("import", "contacts", write_csv("c.csv", CONTACT_ROWS)).exit_code == 0


def test_orders_match_customers_and_unknown_customers_are_rejects(ecli, write_csv) -> None:
    _with_contacts(ecli, write_csv)
    path = write_csv("o.csv", [
        ["订单号", "客户编号", "下单日期", "金额", "状态"],
        ["O1", "C1", "2024/1/5", "¥1,200.50", ""],
        ["O2", "zhang.wei@qq.com", "2024年2月1日", "-100", ""],
        ["O3", "+86 139 1234 5678", "2024-03-01", "50", "已取消"],
        ["O4", "ghost", "2024-03-01", "50", ""],
    ])
    result = ecli("import", "orders", path)
    assert SUMMARY.format(4, 3, 0, 0, 1) in summary(result)
    got = ecli.sql("SELECT order_id, contact_id, day, amount_value, status_norm FROM orders "
                  "ORDER BY order_id")
    assert got == [("O1", 1, "2024-01-05", 1200.5, "paid"),
                   ("O2", 1, "2024-02-01", -100.0, "refunded"),
                   ("O3", 3, "2024-03-01", 50.0, "cancelled")]
    assert "no contact" in ecli.sql("SELECT reason FROM rejects")[0][0]
    again = ecli("import", "orders", path)
    assert SUMMARY.format(4, 0, 0, 3, 1) in summary(again)


def test_orders_keyed_by_email_column(ecli, write_csv) -> None:
    _with_contacts(ecli, write_csv)
    path = write_csv("o.csv", [["email", "date", "amount"], ["BOB@example.com", "2024-01-01", "9"]])
    assert SUMMARY.format(1, 1, 0, 0, 0) in summary(ecli("import", "orders", path))
    assert ecli.sql("SELECT contact_id FROM orders") == [(2,)]


def test_orders_without_id_are_idempotent_and_identical_rows_kept(ecli, write_csv) -> None:
    _with_contacts(ecli, write_csv)
    rows = [["customer_id", "order_date", "amount"], ["C1", "2024-01-01", "10"],
            ["C1", "2024-01-01", "10"], ["C2", "2024-01-02", "5"]]
    path = write_csv("o.csv", rows)
    assert SUMMARY.format(3, 3, 0, 0, 0) in summary(ecli("import", "orders", path))
    assert SUMMARY.format(3, 0, 0, 3, 0) in summary(ecli("import", "orders", path))


def test_interactions_import(ecli, write_csv) -> None:
    _with_contacts(ecli, write_csv)
    path = write_csv("i.csv", [["客户ID", "时间", "渠道", "满意度", "备注"],
                               ["C1", "2024-05-01 10:00", "wechat", "4", "问价格"],
                               ["C2", "2024-05-02", "call", "9", ""]])
    assert SUMMARY.format(2, 2, 0, 0, 0) in summary(ecli("import", "interactions", path))
    assert ecli.sql("SELECT contact_id, day, channel, satisfaction_value FROM interactions "
                   "ORDER BY id") == [(1, "2024-05-01", "wechat", 4), (2, "2024-05-02", "call", None)]
    assert SUMMARY.format(2, 0, 0, 2, 0) in summary(ecli("import", "interactions", path))


def test_import_clean_normalizes_in_the_same_transaction_and_stays_idempotent(ecli, write_csv) -> None:
    path = write_csv("c.csv", [["external_id", "name", "phone", "email"],
                               ["C1", "JOHN SMITH", "138 0013 8000", "Foo@QQ.COM"]])
    first = ecli("import", "contacts", path, "--clean")
    assert SUMMARY.format(1, 1, 0, 0, 0) in summary(first)
    assert ecli.sql("SELECT name, phone, email FROM contacts") == [
        ("John Smith", "+8613800138000", "Foo@qq.com")]
    assert {r["field"] for r in ecli.rows("history", "C1") if r["operation"] == "clean"} == {
        "name", "phone", "email"}
    [entry] = ecli.rows("log")
    assert entry["counts"]["cleaned"]
    again = ecli("import", "contacts", path, "--clean")
    assert SUMMARY.format(1, 0, 0, 1, 0) in summary(again)
    assert len(ecli.rows("history", "C1")) == 3


def test_summary_line_is_printed_even_with_quiet(cli, write_csv) -> None:
    result = cli("--quiet", "import", "contacts", write_csv("c.csv", CONTACT_ROWS))
    assert result.stderr.strip() == SUMMARY.format(3, 3, 0, 0, 0) + ", skipped 0; encoding utf-8"
