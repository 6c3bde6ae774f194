"""The first pass of an orders import (the amounts' decimal mark, decided from all of
them) reads the amount column without building records: io.csv_rows must give the very
cells and physical lines that the records of the second pass carry."""

from __future__ import annotations

import io

import pytest

from custdata.ingest import amount_evidence, header_matcher, plan_columns
from custdata.io import csv_rows, read_table
from tests.conftest import Cli, make_csv

HEADER = "order_id,customer_id,order_date,amount\n"

SHAPES = {
    "plain": HEADER + "O1,C1,2026-01-02,\"12,50\"\nO2,C2,2026-01-03,7.25\n",
    "crlf, no final newline": (HEADER + "O1,C1,2026-01-02,\"1.234,50\"\r\nO2,C1,x,9").replace(
        "\n", "\r\n"),
    "title rows above the header": "Orders export\n\nprinted 2026-03-01\n" + HEADER
    + "O1,C1,2026-01-02,\"1 234,50\"\n",
    "sep= line": "sep=;\norder_id;customer_id;order_date;amount\nO1;C1;2026-01-02;12,50\n",
    "a header cell over two lines": 'order_id,customer_id,order_date,"amount\n(CNY)"\n'
    "O1,C1,2026-01-02,3.5\n",
    "cells over several lines, blank rows": HEADER + 'O1,C1,"2026-01-02\nmorning",4,50\n'
    '\nO2,"C\n2\n",2026-01-03,"1,234"\n\n\nO3,C3,2026-01-04,"12,5"\n',
    "neutralised cells": HEADER + "O1,C1,2026-01-02,'-12.50\nO2,C2,'=1+2,'-1,25\n",
    "wrong widths and junk": HEADER + "O1,C1\nO2,C2,2026-01-03,abc,extra\nO3,C3,d,\"¥1,5\"\n",
    "an unclosed quote at the end": HEADER + "O1,C1,2026-01-02,1\nO2,\"C2,2026,5\n",
}


def _both(data: bytes, **kw) -> tuple[list, list]:
    is_header = header_matcher("orders", {})
    records = read_table(io.BytesIO(data), is_header=is_header, **kw).records
    full = [(r.line, r.cells) for r in records if not r.error]
    stream = io.BytesIO(data)
    table = read_table(stream, is_header=is_header, **kw)
    return full, list(csv_rows(stream, table))


@pytest.mark.parametrize("text", SHAPES.values(), ids=list(SHAPES))
def test_the_first_pass_reads_the_cells_and_lines_of_the_records(text: str) -> None:
    full, fast = _both(text.encode("utf-8"))
    assert fast == full and full


@pytest.mark.parametrize("encoding", ["gb18030", "cp1252", "utf-16", "utf-8-sig"])
def test_the_first_pass_decodes_as_the_records_do(encoding: str) -> None:
    text = HEADER + "O1,Bühler,2026-01-02,\"12,50\"\nO2,张伟,2026-01-03,\"3,75\"\n"
    if encoding == "cp1252":
        text = text.replace("张伟", "Zoë")
    full, fast = _both(text.encode(encoding), encoding=encoding)
    assert fast == full and len(full) == 2


def test_undecodable_bytes_read_the_same_in_both_passes() -> None:
    data = (HEADER + "O1,C1,2026-01-02,\"12,50\"\n").encode() + b"O2,C\xff\xfe2,d,\"1,5\"\n"
    full, fast = _both(data, encoding="utf-8")
    assert fast == full and len(full) == 2


def test_the_evidence_of_both_passes_is_the_same() -> None:
    text = SHAPES["cells over several lines, blank rows"] + "O9,C9,2026-01-05,\"1,234\"\n"
    full, fast = _both(text.encode())
    plan = plan_columns("orders", HEADER.strip().split(","), {})
    a, b = amount_evidence(full, plan), amount_evidence(fast, plan)
    assert a == b and a is not None and (a.comma, a.ambiguous) == (1, 2)
    assert a.first_lines == {"ambiguous": 5, "comma": 10}


def test_an_orders_import_names_the_first_unreadable_amount_by_its_line(tmp_path) -> None:
    # Through the CLI: the warning of the first pass names physical lines, here after
    # a title row and a cell spanning two lines.
    cli = Cli(tmp_path / "crm.db")
    contacts = tmp_path / "contacts.csv"
    contacts.write_bytes(make_csv([["external_id", "name"], ["C1", "Ana"], ["C2", "Bo"]]))
    assert cli("import", "contacts", contacts).exit_code == 0
    orders = tmp_path / "orders.csv"
    orders.write_bytes(make_csv([["Orders, March"], ["order_id", "customer_id", "note",
                                                    "amount"],
                                 ["O1", "C1", "two\nlines", "12,50"], ["O2", "C2", "", "n/a"],
                                 ["O3", "C1", "", "1.234,50"]]))
    done = cli("import", "orders", orders)
    assert done.exit_code == 0, done.stderr
    assert "1 that are not numbers (first at line 5)" in done.stderr
    assert cli.sql("SELECT order_id, amount_value FROM orders ORDER BY order_id") == [
        ("O1", 12.5), ("O2", None), ("O3", 1234.5)]


@pytest.mark.parametrize("cells, label", [
    (["合计", "63"], True), (["Total:", "1"], True), (["", "Grand Total", "9"], True),
    (["小计"], True), (["O000000001", "C1"], False), (["Sum1"], False), (["１合计"], False),
    (["Total 2024", "5"], False), (["Olga Petrova", "C2"], False),
])
def test_a_totals_label_has_no_digit(cells: list[str], label: bool) -> None:
    # Every order id of an orders file ("O0001", first letter as in "overall total") is
    # ruled out before the label's NFKC comparison form is built.
    from custdata.layout import totals_label

    assert totals_label(cells) is label
