"""Issue 16, case 5 for the writers: no plaintext of an encrypted column reaches the file.

`import` into an encrypted store, and a merge on one, write the copies of encrypted
fields that `extra` keeps (the second phone column of a CRM export is `phone_2`, an
order's delivery address is `address`) sealed like the columns themselves. The check is
a byte scan of the database file and its WAL for every plaintext value the same imports
store in a plain twin store: the columns, their match keys and the copies in `extra` of
contacts, orders and interactions.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from custdata.crypto import generate_key, write_key_file
from custdata.store.extra import extra_field

from tests.conftest import Cli

FILES = Path(__file__).resolve().parent / "data" / "files"
COLUMNS = ("email", "phone", "id_number", "address", "birth_date")
KEYS = ("email_key", "phone_key", "id_number_key")

ORDERS = ("order_id,customer_email,order_date,amount,currency,address,address_2\n"
          "SO-1,wang.fang@163.com,2024-01-02,10.50,CNY,上海市徐汇区漕溪北路88号,"
          "北京市朝阳区建国路1号\n"
          "SO-2,mary.johnson@example.com,2024-02-03,99.00,USD,"
          "1600 Amphitheatre Parkway Mountain View,\n")
INTERACTIONS = ("customer_email,date,channel,phone_2\n"
                "wang.fang@163.com,2024-01-05,phone,13712345670\n")
# A later export of the same CRM: a second phone for 张伟 (an update that merges `extra`).
UPDATE = ("客户名称,姓,名,手机号码,联系电话,邮箱地址,所属公司\n"
          "上海某贸易公司,张,伟,13800138000,021-55550199,zhang.wei@qq.com,某贸易公司\n")


def _imports(cli: Cli, tmp: Path, *key: object) -> None:
    """The same imports into either store: real CRM export shapes, orders, interactions."""
    (tmp / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (tmp / "talks.csv").write_text(INTERACTIONS, encoding="utf-8")
    (tmp / "update.csv").write_text(UPDATE, encoding="utf-8")
    for kind, path in (("contacts", FILES / "crm_export_cn.csv"),
                       ("contacts", FILES / "crm_export_en.csv"),
                       ("contacts", FILES / "customers_cn.xlsx"),
                       ("contacts", tmp / "update.csv"),
                       ("orders", tmp / "orders.csv"), ("interactions", tmp / "talks.csv")):
        done = cli(*key, "import", kind, path)
        assert done.exit_code == 0, done.output


def _plain_values(db: Path) -> set[str]:
    """Every value of an encrypted column, its match key and its copies in `extra`."""
    values: set[str] = set()
    with closing(sqlite3.connect(db)) as conn:
        for row in conn.execute(f"SELECT {', '.join(COLUMNS + KEYS)} FROM contacts"):
            values.update(str(v) for v in row if v)
        for table in ("contacts", "orders", "interactions"):
            for (text,) in conn.execute(f"SELECT extra FROM {table}"):
                values.update(str(v) for k, v in json.loads(text).items()
                              if extra_field(k, COLUMNS) and v)
    return {v for v in values if len(v) >= 6}


def _found(db: Path, values: set[str]) -> list[str]:
    """The values whose bytes are in the store's file or its WAL."""
    found = []
    for suffix in ("", "-wal", "-journal"):
        path = Path(f"{db}{suffix}")
        if path.exists():
            data = path.read_bytes()
            found += sorted(f"{suffix or 'db'}: {v}" for v in values if v.encode() in data)
    return found


def _timeless(rows: list[dict]) -> list[dict]:
    """Exported rows without the times the import stamped on them."""
    return [{k: v for k, v in r.items() if k not in ("created_at", "updated_at")} for r in rows]


@pytest.fixture
def twins(tmp_path: Path) -> dict:
    """A plain store and an encrypted one (encrypted while empty), same imports after."""
    plain = Cli(tmp_path / "plain.db")
    _imports(plain, tmp_path)
    key = tmp_path / "k.key"
    write_key_file(key, generate_key())
    sealed = Cli(tmp_path / "sealed.db")
    assert sealed("init").exit_code == 0
    assert sealed("--key-file", key, "encrypt").exit_code == 0
    return {"plain": plain, "sealed": sealed, "key": key, "tmp": tmp_path}


def test_import_into_an_encrypted_store_writes_no_plaintext(twins: dict) -> None:
    plain, sealed, key = twins["plain"], twins["sealed"], twins["key"]
    values = _plain_values(plain.db)
    assert {"021-55550199", "13712345670", "北京市朝阳区建国路1号"} <= values  # the copies
    assert _found(plain.db, values)  # the scan sees them in a plain store
    with closing(sqlite3.connect(sealed.db)) as reader:  # keeps the WAL after each import
        reader.execute("SELECT count(*) FROM contacts").fetchone()
        _imports(sealed, twins["tmp"], "--key-file", key)
        assert Path(f"{sealed.db}-wal").stat().st_size > 0
        assert _found(sealed.db, values) == []
    assert _found(sealed.db, values) == []
    for kind in ("contacts", "orders", "interactions"):
        assert _timeless(sealed.rows("--key-file", key, "export", kind)) == \
            _timeless(plain.rows("export", kind))


def test_encrypt_rotate_and_decrypt_carry_the_copies_of_orders_and_interactions(
        twins: dict, tmp_path: Path) -> None:
    plain, key = twins["plain"], twins["key"]
    before = {k: plain.rows("export", k) for k in ("contacts", "orders", "interactions")}
    values = _plain_values(plain.db)
    masked = plain.rows("export", "orders", "--mask")  # masked before encrypt too
    assert masked[0]["extra"]["address"].startswith("上海市") and "漕溪" not in str(masked)
    assert plain("--key-file", key, "encrypt").exit_code == 0
    assert _found(plain.db, values) == []
    masked = plain.rows("export", "orders", "--mask")
    assert masked[0]["extra"]["address"].startswith("上海市") and "漕溪" not in str(masked)
    key2 = tmp_path / "k2.key"
    write_key_file(key2, generate_key())
    assert plain("--key-file", key, "rotate-key", "--new-key-file", key2).exit_code == 0
    assert {k: plain.rows("--key-file", key2, "export", k) for k in before} == before
    assert plain("--key-file", key2, "decrypt").exit_code == 0
    assert {k: plain.rows("export", k) for k in before} == before


def test_a_merge_on_an_encrypted_store_seals_the_survivors_new_copies(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "crm.db")
    key = tmp_path / "k.key"
    write_key_file(key, generate_key())
    source = tmp_path / "dupes.csv"
    source.write_text("external_id,name,email,phone,phone,city\n"
                      "A1,张伟,zhang.wei@qq.com,13800138000,,上海\n"
                      "A2,张伟,zhang.wei@qq.com,13800138000,13698765432,上海\n",
                      encoding="utf-8")
    assert cli("import", "contacts", source).exit_code == 0
    assert cli("--key-file", key, "encrypt").exit_code == 0
    merged = cli.rows("--key-file", key, "dedupe", "--merge")
    assert {r["merge_id"] for r in merged} != {None}
    assert cli.count("contacts") == 1
    assert _found(cli.db, {"13698765432", "zhang.wei@qq.com"}) == []
    (row,) = cli.rows("--key-file", key, "export", "contacts")
    assert row["extra"]["phone_2"] == "13698765432"
