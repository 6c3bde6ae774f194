"""Write the bundled example files of custdata (deterministic: same bytes on every run).

    python examples/make_examples.py [--out examples]

Builds on benchmarks/datagen.py (same people, mess, duplicates and BG/NBD orders),
then adds what a demo needs to show:

contacts.csv                  UTF-8, 340 contacts (Chinese and Western, messy phones,
                              e-mails, full-width characters, labelled duplicates), with
                              English headers in mixed case and spacing ("Customer ID",
                              "E-mail", "Phone Number", "Birth Date") and an unmapped
                              "WeChat" column (goes to `extra`); 4 rows upsert by e-mail
                              (no Customer ID); one address holds a quoted newline; two
                              rows are rejects (a ragged row, a row with no Customer ID,
                              e-mail, phone or ID number).
contacts_excel_gb18030.csv    the way Chinese Excel saves CSV: GB18030, CRLF, Chinese
                              headers (客户编号,姓名,性别,出生日期,手机,邮箱,公司,职位,城市,
                              省份,地址,邮编,身份证号); 120 other customers ("KH" ids) plus
                              6 people who are also in contacts.csv (cross-file duplicates).
contacts_truth.csv            external_id,person_id for both contact files (dedupe truth;
                              the 4 rows without Customer ID are single-record people).
orders.csv                    ~3,400 orders over 3 years ending 2026-10-31 (refund rows
                              with negative amounts, cancelled orders, some empty status =
                              paid, a few dates as 2025/3/14), plus 3 orders for unknown
                              customers (rejects).
interactions.csv              calls, e-mails, WeChat, visits, social; satisfaction 1-5 or
                              empty; notes with commas and Chinese text.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))

import datagen  # noqa: E402

SEED = 2026
CONTACTS = 340
GB_CONTACTS = 120
MIXED_HEADER = (
    "Customer ID", "Name", "Gender", "Birth Date", "Company", "Title", "E-mail",
    "Phone Number", "ID Number", "Address", "City", "Province", "Postal Code", "Country",
    "Source", "Owner", "Consent", "Created At", "updated_at", "WeChat",
)
GB_HEADER = ("客户编号", "姓名", "性别", "出生日期", "手机", "邮箱", "公司", "职位", "城市", "省份",
             "地址", "邮编", "身份证号")
GB_FIELDS = ("external_id", "name", "gender", "birth_date", "phone", "email", "company", "title",
             "city", "province", "address", "postal_code", "id_number")
UNKNOWN_ORDERS = [
    ("X-90001", "C9999001", "2026-03-02", "199.00", "CNY", "paid", "Desk Lamp", "Home"),
    ("X-90002", "C9999002", "2026-05-17", "1280.00", "CNY", "paid", "Office Chair", "Furniture"),
    ("X-90003", "nobody@example.com", "2026-08-09", "56.50", "CNY", "", "Green Tea 250g", "Food"),
]


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def _csv_text(header, rows, *, line_end: str = "\n") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=line_end)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def build(out: Path) -> dict[str, int]:
    """Write every example file into `out`; return the number of data rows per file."""
    rnd = random.Random(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        main_dir, gb_dir = Path(tmp) / "main", Path(tmp) / "gb"
        datagen.generate(main_dir, datagen.Params(
            contacts=CONTACTS, seed=SEED, orders_per_contact=11.0,
            interactions_per_contact=3.0, dup_share=0.15))
        datagen.generate(gb_dir, datagen.Params(
            contacts=GB_CONTACTS, seed=SEED + 1, chinese_share=0.95, id_prefix="KH",
            pid_offset=5_000_000, orders_per_contact=0.0, interactions_per_contact=0.0,
            dup_share=0.1))
        header, contacts = _read(main_dir / "contacts.csv")
        _, truth = _read(main_dir / "truth.csv")
        _, orders = _read(main_dir / "orders.csv")
        _, interactions = _read(main_dir / "interactions.csv")
        _, gb_contacts = _read(gb_dir / "contacts.csv")
        _, gb_truth = _read(gb_dir / "truth.csv")

    col = {name: i for i, name in enumerate(header)}
    buyers = {row[1] for row in orders}

    # contacts.csv -------------------------------------------------------------
    out_rows = []
    for row in contacts:
        wechat = f"wxid_{rnd.randrange(10**9):09d}" if rnd.random() < 0.3 else ""
        out_rows.append(row + [wechat])
    # Four leads (one record, no orders) lose their id: they upsert by e-mail.
    size: dict[str, int] = {}
    for ext, person in truth:
        size[person] = size.get(person, 0) + 1
    single = {ext for ext, person in truth if size[person] == 1}
    lonely = [r for r in out_rows
              if r[0] not in buyers and r[0] in single and r[col["email"]].strip()]
    blanked = {r[0] for r in lonely[:4]}
    assert len(blanked) == 4, "too few single-record leads with an e-mail"
    interactions = [r for r in interactions if r[0] not in blanked]
    for r in lonely[:4]:
        r[0] = ""
    # An address with a line break inside quotes (Excel's Alt+Enter).
    for r in out_rows:
        if "市" in r[col["address"]] and r[col["phone"]]:
            r[col["address"]] = r[col["address"]].replace("市", "市\n", 1)
            break
    ragged = ["C0000999", "Broken Row", "M", "1990-01-01", "Ragged Ltd"]  # 5 of 20 fields
    no_key = ["", "无名氏", "", "", "某某公司", "", "", "", "", "地址不详", "北京", "北京市", "",
              "CN", "import", "王磊", "unknown", "2025-06-01 10:00:00", "2025-06-01 10:00:00", ""]
    out_rows.insert(120, ragged)
    out_rows.insert(230, no_key)
    text = _csv_text(MIXED_HEADER, out_rows)
    (out / "contacts.csv").write_text(text, encoding="utf-8", newline="")

    # contacts_excel_gb18030.csv -----------------------------------------------
    gcol = {name: i for i, name in enumerate(header)}
    gb_rows = [[row[gcol[f]] for f in GB_FIELDS] for row in gb_contacts]
    truth_rows = [list(t) for t in truth if t[0] not in blanked] + [list(t) for t in gb_truth]
    person_of = dict((t[0], t[1]) for t in truth)
    cross = [r for r in contacts
             if r[col["phone"]] and r[col["name"]] and "\u4e00" <= r[col["name"]].strip()[0]
             <= "\u9fff"][:6]
    for k, r in enumerate(cross):
        ext = f"KH9{k + 1:03d}"
        digits = "".join(c for c in r[col["phone"]] if c.isdigit())[-11:]
        phone = f"{digits[:3]} {digits[3:7]} {digits[7:]}" if len(digits) == 11 else r[col["phone"]]
        gb_rows.append([ext, r[col["name"]].strip(), r[col["gender"]], r[col["birth_date"]],
                        phone, r[col["email"]].strip().lower(), r[col["company"]],
                        r[col["title"]], r[col["city"]], r[col["province"]], "", "", ""])
        truth_rows.append([ext, person_of[r[0]]])
    rnd.shuffle(gb_rows)
    gb_text = _csv_text(GB_HEADER, gb_rows, line_end="\r\n")
    (out / "contacts_excel_gb18030.csv").write_bytes(gb_text.encode("gb18030"))
    truth_rows.sort(key=lambda t: t[0])
    (out / "contacts_truth.csv").write_text(
        _csv_text(("external_id", "person_id"), truth_rows), encoding="utf-8", newline="")

    # orders.csv ---------------------------------------------------------------
    for r in orders:
        if r[5] == "paid" and rnd.random() < 0.05:
            r[5] = ""
        if rnd.random() < 0.03:
            y, m, d = r[2].split("-")
            r[2] = f"{y}/{int(m)}/{int(d)}"
    for k, extra in enumerate(UNKNOWN_ORDERS):
        orders.insert(500 + 1000 * k, list(extra))
    (out / "orders.csv").write_text(_csv_text(datagen.ORDER_HEADER, orders), encoding="utf-8",
                                    newline="")

    # interactions.csv ---------------------------------------------------------
    (out / "interactions.csv").write_text(
        _csv_text(datagen.INTERACTION_HEADER, interactions), encoding="utf-8", newline="")
    return {"contacts.csv": len(out_rows), "contacts_excel_gb18030.csv": len(gb_rows),
            "contacts_truth.csv": len(truth_rows), "orders.csv": len(orders),
            "interactions.csv": len(interactions)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write custdata's example files.")
    ap.add_argument("--out", type=Path, default=HERE, help="directory (default: examples/)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, n in build(args.out).items():
        print(f"{name}: {n} rows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
