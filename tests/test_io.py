"""Reading CSV: encodings, delimiters, quoted newlines, raw lines, unusable files."""

from __future__ import annotations

import io

import pytest
from hypothesis import example, given, settings, strategies as st

from custdata.errors import InputFileError
from custdata.io import HEAD_BYTES, neutralise, read_table, sniff_delimiter
from tests.conftest import make_csv

ROWS = [["姓名", "手机", "邮箱"], ["张伟", "13800138000", "zw@qq.com"], ["Zoe Li", "+33 1 23", "z@x.fr"]]


def read(data: bytes, **kw):
    table = read_table(io.BytesIO(data), **kw)
    return table, list(table.records)


@pytest.mark.parametrize("encoding, expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"),
    ("gb18030", "gb18030"), ("gbk", "gb18030"),
])
def test_each_encoding_is_detected(encoding: str, expected: str) -> None:
    table, records = read(make_csv(ROWS, encoding=encoding))
    assert table.encoding == expected
    assert table.header == ["姓名", "手机", "邮箱"]
    assert [r.cells for r in records] == ROWS[1:]


NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "欧阳娜娜", "司马相如", "赵敏", "Zoe Li", "Ａｌｉ"]


def name_rows(count: int) -> list[str]:
    return [f"{NAMES[i % len(NAMES)]}{i},{13800000000 + i},u{i}@qq.com\r\n" for i in range(count)]


@settings(deadline=None)  # each example reads 2,500 rows: ~70 ms, over 200 ms on a busy machine
@given(pad=st.integers(0, 64), encoding=st.sampled_from(["gb18030", "utf-8"]))
@example(pad=8, encoding="gb18030")  # the detection window ends inside a character
def test_a_character_cut_by_the_detection_window_keeps_the_encoding(pad: int, encoding: str) -> None:
    rows = name_rows(2500)
    data = ("姓名,手机,邮箱\r\n" + "x" * pad + "".join(rows)).encode(encoding)
    assert len(data) > HEAD_BYTES
    table, records = read(data)
    assert table.encoding == encoding
    assert not any(r.undecodable for r in records)
    assert records[-1].cells[0] == rows[-1].split(",")[0]


@pytest.mark.parametrize("encoding, stray", [
    ("gb18030", b"bad\xff\xfe,1,b@x.com\r\n"),
    ("utf-8", "Jo\u00ebl,1,j@x.fr\r\n".encode("cp1252")),
    ("utf-8", "王芳,1,w@x.cn\r\n".encode("gb18030")),
])
def test_a_few_stray_lines_stay_rejects_and_keep_the_encoding(encoding: str, stray: bytes) -> None:
    rows = name_rows(40)
    body = [r.encode(encoding) for r in rows]
    data = "姓名,手机,邮箱\r\n".encode(encoding) + b"".join(body[:20]) + stray + b"".join(body[20:])
    table, records = read(data)
    assert table.encoding == encoding
    assert [r.line for r in records if r.undecodable] == [22]
    assert [r.cells[0] for r in records if not r.undecodable] == [r.split(",")[0] for r in rows]


def test_utf16_without_bom_is_detected() -> None:
    data = make_csv(ROWS, encoding="utf-16-le")
    table, records = read(data)
    assert table.header == ROWS[0] and records[1].cells == ROWS[2]


def test_forced_encoding_wins() -> None:
    table, records = read(make_csv(ROWS, encoding="gb18030"), encoding="gb18030")
    assert records[0].cells[0] == "张伟"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_sniffed(delimiter: str) -> None:
    table, records = read(make_csv(ROWS, delimiter=delimiter))
    assert table.delimiter == delimiter
    assert records[0].cells == ROWS[1]


def test_excel_sep_line_sets_the_delimiter() -> None:
    table, records = read(b"sep=;\r\nname;email\r\nA;a@x.com\r\n")
    assert table.delimiter == ";" and table.header == ["name", "email"]
    assert records[0].line == 3


def test_quoted_newlines_keep_raw_text_and_line_numbers() -> None:
    data = b'name,note\r\n"Bob","line one\r\nline two"\r\nAmy,x\r\n'
    _, records = read(data)
    assert records[0].cells == ["Bob", "line one\r\nline two"]
    assert records[0].line == 2 and records[1].line == 4
    assert records[0].raw == '"Bob","line one\r\nline two"'


def test_undecodable_row_is_flagged_not_fatal() -> None:
    data = b"name,email\r\nok,a@x.com\r\nbad\xff\xfe\x80,b@x.com\r\n"
    _, records = read(data, encoding="utf-8")
    assert not records[0].undecodable and records[1].undecodable


def test_undecodable_header_is_unusable() -> None:
    with pytest.raises(InputFileError, match="header"):
        read(b"na\xffme,email\r\nx,y\r\n", encoding="utf-8")


@pytest.mark.parametrize("data", [b"PK\x03\x04rest", b"\x00\x01\x02\x03\xff" * 100,
                                  b"SQLite format 3\x00...."])
def test_binary_files_are_refused(data: bytes) -> None:
    with pytest.raises(InputFileError):
        read(data)


def test_empty_file_has_no_header_and_no_records() -> None:
    table, records = read(b"")
    assert table.header == [] and records == []


def test_nul_is_data() -> None:
    _, records = read(b"name,email\r\nA\x00B,a@x.com\r\n")
    assert records[0].cells == ["A\x00B", "a@x.com"]


def test_sha256_covers_the_whole_input() -> None:
    import hashlib

    data = make_csv(ROWS * 20000)
    table, _ = read(data)
    assert table.sha256 == hashlib.sha256(data).hexdigest()


def test_sniff_ignores_delimiters_inside_quotes() -> None:
    assert sniff_delimiter('"a;b;c",d,e') == ","


@pytest.mark.parametrize("cell, expected", [
    ("=SUM(A1)", "'=SUM(A1)"), ("+86 138", "'+86 138"), ("-5-1", "'-5-1"), ("@x", "'@x"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("x=1", "x=1"), ("", ""),
    # SPEC 4: a plain number is not a formula; issue 19: a quote before a formula gets one
    # more, so that import gives back exactly what was exported
    ("+86138", "+86138"), ("-5", "-5"), ("'=x", "''=x"),
])
def test_neutralise(cell: str, expected: str) -> None:
    assert neutralise(cell) == expected


@given(st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]),
                                 max_size=8), min_size=3, max_size=3), min_size=1, max_size=6))
def test_any_text_round_trips_through_csv(rows: list[list[str]]) -> None:
    header = ["a", "b", "c"]
    _, records = read(make_csv([header, *rows]))
    assert [r.cells for r in records] == rows
