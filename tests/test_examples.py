"""examples/: the committed files are exactly what make_examples.py writes, and they hold
what the demo needs (encodings, mess, duplicates, rejects, orders over two years)."""

from __future__ import annotations

import csv
import io
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
import make_examples  # noqa: E402

GENERATED = ("contacts.csv", "contacts_excel_gb18030.csv", "contacts_truth.csv", "orders.csv",
             "interactions.csv")


def _rows(name: str, encoding: str = "utf-8") -> list[list[str]]:
    text = (EXAMPLES / name).read_bytes().decode(encoding)
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("examples")
    make_examples.build(out)
    return out


@pytest.mark.parametrize("name", GENERATED)
def test_committed_files_are_what_the_script_writes(rebuilt: Path, name: str) -> None:
    assert (rebuilt / name).read_bytes() == (EXAMPLES / name).read_bytes(), \
        f"examples/{name} is stale: run python examples/make_examples.py"


def test_script_is_deterministic(rebuilt: Path, tmp_path: Path) -> None:
    make_examples.build(tmp_path)
    for name in GENERATED:
        assert (tmp_path / name).read_bytes() == (rebuilt / name).read_bytes(), name


def test_contacts_are_utf8_with_mixed_english_headers() -> None:
    raw = (EXAMPLES / "contacts.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    rows = _rows("contacts.csv")
    header = rows[0]
    assert {"Customer ID", "E-mail", "Phone Number", "Birth Date", "updated_at", "WeChat"} \
        <= set(header)
    assert len(rows) - 1 >= 300


def test_contacts_hold_the_rows_that_import_must_reject_or_handle() -> None:
    rows = _rows("contacts.csv")
    header, data = rows[0], rows[1:]
    col = {name: i for i, name in enumerate(header)}
    ragged = [r for r in data if len(r) != len(header)]
    assert len(ragged) == 1
    whole = [r for r in data if len(r) == len(header)]
    keyless = [r for r in whole if not any(r[col[c]].strip() for c in
                                           ("Customer ID", "E-mail", "Phone Number",
                                            "ID Number"))]
    assert len(keyless) == 1
    no_id_but_email = [r for r in whole if not r[col["Customer ID"]] and r[col["E-mail"]]]
    assert len(no_id_but_email) == 4
    assert any("\n" in cell for r in whole for cell in r)          # quoted line break
    assert b'"' in (EXAMPLES / "contacts.csv").read_bytes()


def test_contacts_are_messy_and_mixed() -> None:
    rows = _rows("contacts.csv")
    col = {name: i for i, name in enumerate(rows[0])}
    data = [r for r in rows[1:] if len(r) == len(rows[0])]
    names = [r[col["Name"]] for r in data]
    assert any(any("\u4e00" <= c <= "\u9fff" for c in n) for n in names)
    assert any(n.isascii() and n.strip() for n in names)
    cells = "".join("".join(r) for r in data)
    assert any("\uff01" <= c <= "\uff5e" for c in cells)            # full-width characters
    phones = [r[col["Phone Number"]] for r in data]
    assert any(p.startswith("+86") for p in phones) and any(" " in p for p in phones)
    emails = [r[col["E-mail"]] for r in data if r[col["E-mail"]]]
    assert any(e != e.lower() for e in emails) and any(e != e.strip() for e in emails)


def test_gb18030_file_is_gb18030_with_crlf_and_chinese_headers() -> None:
    raw = (EXAMPLES / "contacts_excel_gb18030.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("gb18030")
    assert raw.count(b"\r\n") == raw.count(b"\n") == len(text.splitlines())
    header = text.splitlines()[0].split(",")
    assert header[:3] == ["客户编号", "姓名", "性别"]
    assert {"手机", "邮箱", "公司", "城市", "省份", "地址"} <= set(header)
    assert len(text.splitlines()) - 1 >= 100


def test_truth_covers_both_contact_files_and_has_duplicates() -> None:
    truth = {r[0]: r[1] for r in _rows("contacts_truth.csv")[1:]}
    utf8 = _rows("contacts.csv")
    ids = {r[0] for r in utf8[1:] if len(r) == len(utf8[0]) and r[0]}
    gb = {r[0] for r in _rows("contacts_excel_gb18030.csv", "gb18030")[1:]}
    assert set(truth) == ids | gb
    sizes = Counter(truth.values())
    assert sum(1 for n in sizes.values() if n > 1) >= 20
    cross = {truth[e] for e in gb} & {truth[e] for e in ids}
    assert len(cross) == 6


def test_orders_span_two_years_with_refunds_cancellations_and_unknown_customers() -> None:
    rows = _rows("orders.csv")
    assert rows[0] == ["order_id", "customer_id", "order_date", "amount", "currency", "status",
                       "product", "category"]
    orders = rows[1:]
    assert len(orders) >= 3000
    days = [date(*map(int, o[2].replace("/", "-").split("-"))) for o in orders]
    assert max(days) == date(2026, 10, 31)
    assert (max(days) - min(days)).days >= 730
    status = Counter(o[5] for o in orders)
    assert status["refunded"] > 0 and status["cancelled"] > 0 and status[""] > 0
    assert all(float(o[3]) < 0 for o in orders if o[5] == "refunded")
    contacts = _rows("contacts.csv")
    known = {r[0] for r in contacts[1:] if len(r) == len(contacts[0])}
    unknown = [o for o in orders if o[1] not in known]
    assert len(unknown) == 3


def test_interactions_channels_and_satisfaction() -> None:
    rows = _rows("interactions.csv")
    assert rows[0] == ["customer_id", "at", "channel", "direction", "outcome", "satisfaction",
                       "note"]
    data = rows[1:]
    assert {r[2] for r in data} == {"call", "email", "visit", "wechat", "social"}
    sats = Counter(r[5] for r in data)
    assert set(sats) <= {"", "1", "2", "3", "4", "5"} and sats[""] > 0
    contacts = _rows("contacts.csv")
    known = {r[0] for r in contacts[1:] if len(r) == len(contacts[0]) and r[0]}
    assert {r[0] for r in data} <= known
