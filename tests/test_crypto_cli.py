"""keygen / encrypt / decrypt / rotate-key / forget and masking, end to end through the CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from custdata.crypto import INDEX_PREFIX, read_key_file
from custdata.errors import ExitCode
from custdata.normalize import email_key, id_number_key, phone_key
from tests.conftest import Cli, make_csv

HEADER = ["external_id", "name", "email", "phone", "id_number", "address", "birth_date", "city"]
PEOPLE = [
    ["C001", "张伟", "Zhang.Wei@QQ.com", "138 0013 8000", "11010519491231002X",
     "北京市朝阳区建国路88号院3号楼", "1961-07-23", "北京"],
    ["C002", "Li Na", "lina.office@163.com", "+86-139-0139-1234", "440305199002150618",
     "深圳市南山区科技园南区T3栋", "1972-11-04", "深圳"],
    ["C003", "Wang Fang", "wangfang77@example.org", "13700137777", "",
     "12 Harbour Road, Wan Chai", "1983-02-19", "Hong Kong"],
]
ORDERS = [["order_id", "customer", "amount", "order_date"],
          ["O1", "C001", "100.50", "2024-01-05"],
          ["O2", "zhang.wei@qq.com", "20", "2024-02-05"],     # matched by email
          ["O3", "13900391234", "300", "2024-03-05"]]        # matched by phone (other spelling)
INTERACTIONS = [["customer", "at", "channel", "note"],
                ["C001", "2024-01-06", "call", "asked about invoice; call back on 13800138000"],
                ["C002", "2024-01-07", "email", "sent brochure"]]


def sensitive_values(people: list[list[str]]) -> set[str]:
    """Every original value of the encrypted columns, raw and normalized."""
    values: set[str] = set()
    for p in people:
        row = dict(zip(HEADER, p))
        for col in ("email", "phone", "id_number", "address", "birth_date"):
            if row[col]:
                values.add(row[col])
        values.update(v for v in (email_key(row["email"]), phone_key(row["phone"], "CN"),
                                  id_number_key(row["id_number"])) if v)
        values.add(row["email"].lower())
    return values


def raw_hits(db: Path, values: set[str]) -> list[tuple[str, str]]:
    """(file suffix, value) for every value found in the bytes of db, -wal or -shm."""
    hits = []
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db}{suffix}")
        if path.exists():
            data = path.read_bytes()
            hits += [(suffix, v) for v in values
                     if v.encode("utf-8") in data or v.encode("utf-16-le") in data]
    return hits


def file_hash(db: Path) -> str:
    return hashlib.sha256(db.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> dict[str, Path]:
    """Made once per module: two keys, a loaded plain store, and the same store encrypted.

    The plain store has contacts, a changed email (history), two rejects (one holding an
    email), orders matched by external id, email and phone, and interactions.
    """
    folder = tmp_path_factory.mktemp("crypto")
    cli = Cli(folder / "plain.db")
    keys = {name: folder / f"{name}.key" for name in ("key", "other_key")}
    for path in keys.values():
        assert cli("keygen", "--key-file", path).exit_code == 0
    first = [HEADER, *PEOPLE, ["", "Nobody", "", "", "", "", "", ""],       # reject: no key
             ["C009", "broken row", "reject.me@qq.com"]]                   # reject: fields
    changed = [HEADER, ["C003", "", "wang.fang.new@example.org", "", "", "", "", ""]]
    for kind, name, rows in (("contacts", "c", first), ("contacts", "c2", changed),
                             ("orders", "o", ORDERS), ("interactions", "i", INTERACTIONS)):
        (folder / f"{name}.csv").write_bytes(make_csv(rows))
        assert cli("import", kind, folder / f"{name}.csv").exit_code == 0
    shutil.copyfile(cli.db, folder / "sealed.db")
    assert Cli(folder / "sealed.db")("--key-file", keys["key"], "encrypt").exit_code == 0
    assert not Path(f"{folder}/sealed.db-wal").exists()
    return {"plain": cli.db, "sealed": folder / "sealed.db", **keys}


@pytest.fixture
def key(template) -> Path:
    return template["key"]


@pytest.fixture
def other_key(template) -> Path:
    return template["other_key"]


@pytest.fixture
def loaded(cli, template):
    """A fresh copy of the template's plain store."""
    shutil.copyfile(template["plain"], cli.db)
    return cli


@pytest.fixture
def sealed(cli, template):
    """A fresh copy of the template's store encrypted with `key` (default columns)."""
    shutil.copyfile(template["sealed"], cli.db)
    return cli


def export(cli, *args: str, kind: str = "contacts") -> list[dict]:
    result = cli(*args, "export", *kind.split(), "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def dump(cli) -> dict[str, list[tuple]]:
    return {t: cli.sql(f"SELECT * FROM {t} ORDER BY id")
            for t in ("contacts", "history", "rejects", "orders", "interactions")}


ALL_VALUES = sensitive_values(PEOPLE) | {"wang.fang.new@example.org", "reject.me@qq.com"}


# ---------------------------------------------------------------- keygen

def test_keygen_writes_a_private_key_and_never_overwrites(cli, tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    assert cli("keygen", "--key-file", path).exit_code == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    before = path.read_bytes()
    result = cli("keygen", "--key-file", path)
    assert result.exit_code == ExitCode.USAGE
    assert "already exists" in result.output
    assert path.read_bytes() == before


def test_keygen_needs_a_path(cli) -> None:
    result = cli("keygen", env={"CUSTDATA_KEY_FILE": ""})
    assert result.exit_code == ExitCode.USAGE
    assert "--key-file" in result.output


# ---------------------------------------------------------------- encrypt

def test_encrypt_leaves_no_plaintext_in_db_wal_or_shm(loaded, key: Path) -> None:
    cli = loaded
    assert raw_hits(cli.db, ALL_VALUES)  # the scan does find them before
    result = cli("--key-file", key, "encrypt")
    assert result.exit_code == 0, result.output
    assert raw_hits(cli.db, ALL_VALUES) == []
    secret = read_key_file(key)
    data = cli.db.read_bytes()
    assert secret not in data and base64.urlsafe_b64encode(secret) not in data
    log = cli.sql("SELECT command FROM oplog")
    assert all(str(key) not in c for (c,) in log)


def test_encrypt_then_decrypt_gives_back_the_same_store(loaded, key: Path) -> None:
    cli = loaded
    before = dump(cli)
    assert cli("--key-file", key, "encrypt").exit_code == 0
    encrypted = dump(cli)
    assert encrypted["contacts"] != before["contacts"]
    assert cli("--key-file", key, "decrypt").exit_code == 0
    after = dump(cli)
    rekeyed = [h for h in after["history"] if h[4] in ("encrypt", "decrypt")]
    after["history"] = [h for h in after["history"] if h[4] not in ("encrypt", "decrypt")]
    assert after == before
    assert {h[4] for h in rekeyed} == {"encrypt", "decrypt"}
    assert all(h[6] is None and h[7] is None for h in rekeyed)  # no value is kept
    assert cli.sql("SELECT count(*) FROM meta WHERE key LIKE 'crypto.%'") == [(0,)]


def test_export_with_key_equals_export_before(loaded, key: Path) -> None:
    cli = loaded
    plain = export(cli), export(cli, kind="orders"), export(cli, kind="interactions")
    assert cli("--key-file", key, "encrypt").exit_code == 0
    assert (export(cli, "--key-file", str(key)), export(cli, "--key-file", str(key), kind="orders"),
            export(cli, "--key-file", str(key), kind="interactions")) == plain


def test_match_keys_become_blind_indexes(sealed, key: Path) -> None:
    cli = sealed
    for email_k, phone_k, id_k in cli.sql("SELECT email_key, phone_key, id_number_key "
                                           "FROM contacts"):
        assert email_k.startswith(INDEX_PREFIX) and phone_k.startswith(INDEX_PREFIX)
        assert id_k is None or id_k.startswith(INDEX_PREFIX)


def test_encrypt_only_some_columns(loaded, key: Path) -> None:
    cli = loaded
    assert cli("--key-file", key, "encrypt", "--columns", "email").exit_code == 0
    rows = export(cli, kind="contacts --mask")
    assert cli.sql("SELECT phone FROM contacts WHERE id = 1") == [("138 0013 8000",)]  # clear
    assert rows[0]["phone"] == "138 **** 8000"      # --mask masks it all the same (issue 16)
    assert rows[0]["email"] == "Z***@QQ.com"
    assert cli.sql("SELECT phone_key FROM contacts WHERE id = 1") == [("+8613800138000",)]
    assert cli("--key-file", key, "encrypt", "--columns", "phone").exit_code == 0
    assert export(cli, kind="contacts --mask")[0]["phone"] == "138 **** 8000"


def test_encrypt_refuses_unknown_columns(loaded, key: Path) -> None:
    result = loaded("--key-file", key, "encrypt", "--columns", "external_id,shoe_size")
    assert result.exit_code == ExitCode.USAGE
    assert "Cannot encrypt" in result.output


def test_encrypt_without_a_key_says_how(loaded) -> None:
    result = loaded("encrypt", env={"CUSTDATA_KEY_FILE": ""})
    assert result.exit_code == ExitCode.USAGE
    assert "--key-file" in result.output and "keygen" in result.output


def test_key_file_from_the_environment(loaded, key: Path) -> None:
    cli = loaded
    assert cli("encrypt", env={"CUSTDATA_KEY_FILE": str(key)}).exit_code == 0
    rows = export(cli, "--key-file", str(key))
    result = cli("export", "contacts", "--format", "json", env={"CUSTDATA_KEY_FILE": str(key)})
    assert result.exit_code == 0 and json.loads(result.stdout) == rows


def test_a_key_is_never_taken_from_an_option_or_variable_value(loaded, key: Path) -> None:
    cli = loaded
    before = file_hash(cli.db)
    text = key.read_text(encoding="utf-8").strip()  # the key itself, not a file name
    for result in (cli("--key-file", text, "encrypt"),
                   cli("encrypt", env={"CUSTDATA_KEY_FILE": text}),
                   cli("encrypt", env={"CUSTDATA_KEY": text})):
        assert result.exit_code == ExitCode.USAGE, result.output
    assert file_hash(cli.db) == before


# ---------------------------------------------------------------- wrong key

@pytest.mark.parametrize("command", [
    ["encrypt"], ["decrypt"], ["export", "contacts"], ["show", "C001"], ["history", "C001"],
    ["forget", "C001", "--yes"], ["import", "contacts", "NEW"],
    ["rotate-key", "--new-key-file", "NEWKEY"],
])
def test_wrong_key_is_exit_2_and_the_store_is_unchanged(sealed, key, other_key, tmp_path,
                                                        write_csv, command) -> None:
    cli = sealed
    new_file = write_csv("new.csv", [HEADER, ["C100", "New", "new@qq.com", "", "", "", "", ""]])
    newkey = tmp_path / "new.key"
    assert cli("keygen", "--key-file", newkey).exit_code == 0
    args = [str(new_file) if a == "NEW" else str(newkey) if a == "NEWKEY" else a for a in command]
    before = file_hash(cli.db)
    result = cli("--key-file", other_key, *args)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "key" in result.output
    assert file_hash(cli.db) == before
    assert not Path(f"{cli.db}-wal").exists() or Path(f"{cli.db}-wal").stat().st_size == 0


def test_ciphertext_swapped_between_rows_fails(sealed, key: Path) -> None:
    cli = sealed
    (a,), (b,) = cli.sql("SELECT email FROM contacts WHERE id IN (1, 2) ORDER BY id")
    with sqlite3.connect(cli.db) as conn:
        conn.execute("UPDATE contacts SET email = ? WHERE id = 1", (b,))
        conn.execute("UPDATE contacts SET email = ? WHERE id = 2", (a,))
    conn.close()
    result = cli("--key-file", key, "export", "contacts", "--format", "json")
    assert result.exit_code == ExitCode.STORE
    assert "fails authentication" in result.output


# ---------------------------------------------------------------- masking

def test_reading_without_the_key_shows_masks(sealed, key: Path) -> None:
    cli = sealed
    shown = cli("show", "C001", "--format", "json")
    assert shown.exit_code == 0, shown.output
    card = json.loads(shown.stdout)
    assert card["phone"] == "138 **** 8000"
    assert card["email"] == "Z***@QQ.com"
    assert card["id_number"] == "110***********002X"
    assert card["name"] == "张伟"                     # not an encrypted column
    history = cli("history", "C003", "--format", "json")
    assert history.exit_code == 0
    emails = [r for r in json.loads(history.stdout) if r["field"] == "email"]
    assert emails and emails[0]["old"] == "w***@example.org"
    assert emails[0]["new"] == "w***@example.org"


def test_export_needs_the_key_or_mask(sealed, key: Path) -> None:
    cli = sealed
    refused = cli("export", "contacts")
    assert refused.exit_code == ExitCode.USAGE
    assert "--mask" in refused.output and "--key-file" in refused.output
    masked = cli("export", "contacts", "--mask", "--format", "json")
    assert masked.exit_code == 0
    rows = json.loads(masked.stdout)
    assert [r["phone"] for r in rows] == ["138 **** 8000", "+86-139-****-1234", "137****7777"]
    assert rows[0]["birth_date"] == "1961-**-**"
    orders = json.loads(cli("export", "orders", "--mask", "--format", "json").stdout)
    assert orders[1]["customer_id"] == "z***@qq.com"


def test_mask_with_the_key_at_hand_still_masks(sealed, key: Path) -> None:
    cli = sealed
    rows = export(cli, "--key-file", str(key))
    masked = json.loads(cli("--key-file", key, "export", "contacts", "--mask",
                            "--format", "json").stdout)
    assert masked[0]["email"] == "Z***@QQ.com" and rows[0]["email"] == "Zhang.Wei@QQ.com"


# ---------------------------------------------------------------- blind index lookups

@pytest.mark.parametrize("spelling", ["zhang.wei@qq.com", "ZHANG.WEI@QQ.COM", "13800138000",
                                      "+86 138-0013-8000", "C001", "1"])
def test_show_finds_a_contact_by_any_spelling_when_encrypted(sealed, key, spelling) -> None:
    cli = sealed
    result = cli("--key-file", key, "show", spelling, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["external_id"] == "C001"


def test_lookup_by_value_without_the_key_is_a_clear_error(sealed, key) -> None:
    cli = sealed
    result = cli("show", "zhang.wei@qq.com")
    assert result.exit_code == ExitCode.USAGE
    assert "--key-file" in result.output


def test_export_where_on_encrypted_columns(sealed, key) -> None:
    cli = sealed
    k = ["--key-file", str(key)]
    for where, ext in (("email=ZHANG.WEI@qq.com", "C001"), ("phone=13901391234", "C002"),
                       ("id_number=440305199002150618", "C002")):
        rows = json.loads(cli(*k, "export", "contacts", "--where", where, "--format",
                              "json").stdout)
        assert [r["external_id"] for r in rows] == [ext]


def test_import_after_encryption_encrypts_and_matches(sealed, key, write_csv) -> None:
    cli = sealed
    k = ["--key-file", str(key)]
    newbie = ["C004", "Zhao Lei", "zhao.lei@sina.com", "18612345678", "",
              "上海市徐汇区漕溪北路", "1990-09-09", "上海"]
    update = ["", "", "ZHANG.WEI@qq.com", "", "", "", "", "Beijing"]      # upsert by email
    result = cli(*k, "import", "contacts", write_csv("n.csv", [HEADER, newbie, update]))
    assert result.exit_code == 0, result.output
    assert "inserted 1, updated 1" in result.output
    assert raw_hits(cli.db, sensitive_values([newbie])) == []
    rows = {r["external_id"]: r for r in export(cli, *k)}
    assert rows["C004"]["phone"] == "18612345678" and rows["C001"]["city"] == "Beijing"
    orders = [["order_id", "customer", "amount"], ["O9", "Zhao.Lei@sina.com", "9"],
              ["O10", "186 1234 5678", "1"]]
    result = cli(*k, "import", "orders", write_csv("o2.csv", orders))
    assert result.exit_code == 0, result.output
    assert "inserted 2" in result.output
    by_order = {o["order_id"]: o["id"] for o in export(cli, *k, kind="orders")}
    assert by_order["O9"] == by_order["O10"] == rows["C004"]["id"]
    again = cli(*k, "import", "contacts", write_csv("n.csv", [HEADER, newbie, update]))
    assert "inserted 0, updated 0, unchanged 2" in again.output


def test_import_without_the_key_writes_nothing(sealed, key, write_csv) -> None:
    cli = sealed
    before = file_hash(cli.db)
    result = cli("import", "contacts", write_csv("n.csv", [HEADER, ["C5", "X", "x@y.cn", "",
                                                                  "", "", "", ""]]))
    assert result.exit_code == ExitCode.USAGE
    assert "--key-file" in result.output
    assert file_hash(cli.db) == before


# ---------------------------------------------------------------- rotation

def test_rotate_key_re_encrypts_and_retires_the_old_key(sealed, key, other_key) -> None:
    cli = sealed
    before = export(cli, "--key-file", str(key))
    orders = export(cli, "--key-file", str(key), kind="orders")
    history = cli("--key-file", key, "history", "C003", "--format", "json").stdout
    result = cli("--key-file", key, "rotate-key", "--new-key-file", other_key)
    assert result.exit_code == 0, result.output
    assert export(cli, "--key-file", str(other_key)) == before
    assert export(cli, "--key-file", str(other_key), kind="orders") == orders
    after = json.loads(cli("--key-file", other_key, "history", "C003", "--format", "json").stdout)
    assert [h for h in after if h["operation"] != "rotate-key"] == json.loads(history)
    rotated = [h for h in after if h["operation"] == "rotate-key"]
    assert rotated and all(h["old"] is None and h["new"] is None for h in rotated)
    refused = cli("--key-file", key, "export", "contacts")
    assert refused.exit_code == ExitCode.USAGE
    assert "does not hold this store's key" in refused.output
    found = cli("--key-file", other_key, "show", "zhang.wei@qq.com", "--format", "json")
    assert found.exit_code == 0 and json.loads(found.stdout)["external_id"] == "C001"
    assert raw_hits(cli.db, ALL_VALUES) == []


def test_rotate_to_the_same_key_is_refused(sealed, key) -> None:
    cli = sealed
    result = cli("--key-file", key, "rotate-key", "--new-key-file", key)
    assert result.exit_code == ExitCode.USAGE


def test_rotate_on_a_plain_store_is_refused(loaded, key, other_key) -> None:
    result = loaded("--key-file", key, "rotate-key", "--new-key-file", other_key)
    assert result.exit_code == ExitCode.USAGE
    assert "encrypt" in result.output


# ---------------------------------------------------------------- forget

FORGOTTEN = PEOPLE[0]
FORGOTTEN_VALUES = sensitive_values([FORGOTTEN]) | {"张伟", "asked about invoice"}


def _net(cli) -> list[tuple]:
    return cli.sql("SELECT count(*), sum(amount_value) FROM orders")


@pytest.mark.parametrize("encrypted", [False, True])
def test_forget_erases_a_person_everywhere(loaded, key, write_csv, encrypted) -> None:
    cli = loaded
    k = ["--key-file", str(key)] if encrypted else []
    # the person also sits in a rejected row (bad field count) and in a later history entry
    bad = [HEADER, ["C001", "张伟", "Zhang.Wei@QQ.com"]]
    assert cli("import", "contacts", write_csv("bad.csv", bad)).exit_code == 0
    renamed = [HEADER, ["C001", "", "", "13800138000", "", "", "", "Tianjin"]]
    assert cli("import", "contacts", write_csv("r.csv", renamed)).exit_code == 0
    from custdata.store import open_store

    with open_store(cli.db) as store, store.write("custdata show ZHANG.WEI@qq.com --x=13800138000"):
        pass
    if encrypted:
        assert cli(*k, "encrypt").exit_code == 0
    totals = _net(cli)
    others = sensitive_values(PEOPLE[1:])
    assert raw_hits(cli.db, FORGOTTEN_VALUES) or encrypted
    result = cli(*k, "forget", "zhang.wei@qq.com", "--yes")
    assert result.exit_code == 0, result.output
    assert raw_hits(cli.db, FORGOTTEN_VALUES | {"C001"}) == []
    assert _net(cli) == totals                              # orders kept, anonymous
    assert cli.sql("SELECT count(*) FROM orders WHERE contact_id = 1") == [(2,)]
    if not encrypted:
        assert {v for _, v in raw_hits(cli.db, others)} >= {"lina.office@163.com"}
    assert cli.sql("SELECT note, customer_ref FROM interactions WHERE contact_id = 1") == \
        [(None, None)]
    assert cli.sql("SELECT operation, field, old, new FROM history WHERE contact_id = 1") == \
        [("forget", "*", None, None)]
    logged = [c for (c,) in cli.sql("SELECT command FROM oplog")]
    assert "custdata show *** --x=***" in logged
    (command, counts), = cli.sql("SELECT command, counts FROM oplog ORDER BY id DESC LIMIT 1")
    assert command == "custdata forget id:1"
    assert "zhang" not in counts.lower()
    gone = cli(*k, "show", "zhang.wei@qq.com")
    assert gone.exit_code == ExitCode.USAGE


def test_forget_without_yes_off_a_terminal_refuses(loaded) -> None:
    cli = loaded
    before = file_hash(cli.db)
    result = cli("forget", "C001")
    assert result.exit_code == ExitCode.USAGE
    assert "--yes" in result.output
    assert file_hash(cli.db) == before


def test_forget_asks_on_a_terminal(loaded, monkeypatch) -> None:
    import custdata.cli.secure as secure

    cli = loaded
    monkeypatch.setattr(secure, "_interactive", lambda: True)
    before = file_hash(cli.db)
    declined = cli("forget", "C001", input="n\n")
    assert declined.exit_code == ExitCode.FINDINGS
    assert "Nothing was erased" in declined.output
    assert file_hash(cli.db) == before
    accepted = cli("forget", "C001", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert cli.sql("SELECT email, name FROM contacts WHERE id = 1") == [(None, None)]


def test_forget_nobody_or_several_is_exit_2(loaded) -> None:
    cli = loaded
    before = file_hash(cli.db)
    assert cli("forget", "nobody@nowhere.cn", "--yes").exit_code == ExitCode.USAGE
    assert file_hash(cli.db) == before
    with sqlite3.connect(cli.db) as conn:  # a duplicate sharing C002's email key
        conn.execute("INSERT INTO contacts (external_id, email_key, changed_at) "
                     "VALUES ('C778', 'lina.office@163.com', 'x')")
    conn.close()
    result = cli("forget", "lina.office@163.com", "--yes")
    assert result.exit_code == ExitCode.USAGE
    assert "2 contacts match" in result.output and "id:2" in result.output


# ---------------------------------------------------------------- merges kept for unmerge

def test_merge_before_encrypt_can_be_undone_after(cli, key, write_csv) -> None:
    rows = [["external_id", "name", "email", "phone", "city"],
            ["D1", "张伟", "zhang.wei@qq.com", "138 0013 8000", "北京"],
            ["D2", "Zhang Wei", "", "+86 138 0013 8000", "Beijing"],
            ["D3", "Li Na", "lina@163.com", "13912345678", "上海"]]
    assert cli("import", "contacts", write_csv("d.csv", rows)).exit_code == 0
    before = export(cli)
    merged = cli("dedupe", "--merge", "--format", "json")
    assert merged.exit_code == 0, merged.output
    merge_ids = {r["merge_id"] for r in json.loads(merged.stdout)}
    assert len(merge_ids) == 1
    assert cli("--key-file", key, "encrypt").exit_code == 0
    assert raw_hits(cli.db, {"zhang.wei@qq.com", "138 0013 8000", "+8613800138000"}) == []
    undone = cli("--key-file", key, "unmerge", merge_ids.pop())
    assert undone.exit_code == 0, undone.output
    assert export(cli, "--key-file", str(key)) == before


def test_history_of_clean_is_sealed_and_still_readable(loaded, key) -> None:
    cli = loaded
    cleaned = cli("clean")
    assert cleaned.exit_code == 0, cleaned.output
    history = cli("history", "C001", "--format", "json").stdout
    assert "+8613800138000" in history
    assert cli("--key-file", key, "encrypt").exit_code == 0
    assert raw_hits(cli.db, ALL_VALUES) == []
    def without_rekeying(text: str) -> list[dict]:
        return [h for h in json.loads(text) if h["operation"] not in ("encrypt", "decrypt")]

    sealed_history = cli("--key-file", key, "history", "C001", "--format", "json").stdout
    assert without_rekeying(sealed_history) == json.loads(history)
    encrypted = {h["field"] for h in json.loads(sealed_history) if h["operation"] == "encrypt"}
    assert {"email", "phone"} <= encrypted
    assert all(h["old"] is None and h["new"] is None
               for h in json.loads(sealed_history) if h["operation"] == "encrypt")
    assert cli("--key-file", key, "decrypt").exit_code == 0
    assert without_rekeying(cli("history", "C001", "--format", "json").stdout) == json.loads(history)


def test_values_in_logged_command_lines_are_redacted(loaded, key) -> None:
    from custdata.store import open_store

    cli = loaded
    with open_store(cli.db) as store, store.write("custdata show zhang.wei@qq.com --x=13800138000"):
        pass
    assert cli("--key-file", key, "encrypt").exit_code == 0
    commands = [c for (c,) in cli.sql("SELECT command FROM oplog")]
    assert "custdata show *** --x=***" in commands, "\n".join(commands)
    assert raw_hits(cli.db, {"zhang.wei@qq.com"}) == []   # (the phone is in a note too)


def test_export_orders_where_customer_on_sealed_references(sealed, key) -> None:
    cli = sealed
    k = ["--key-file", str(key)]
    rows = json.loads(cli(*k, "export", "orders", "--where", "customer_id=zhang.wei@qq.com",
                          "--format", "json").stdout)
    assert [r["order_id"] for r in rows] == ["O2"]
    rows = json.loads(cli(*k, "export", "orders", "--where", "customer_id=C001",
                          "--format", "json").stdout)
    assert [r["order_id"] for r in rows] == ["O1"]
    (ref,), = cli.sql("SELECT customer_ref FROM orders WHERE order_id = 'O2'")
    assert ref.startswith("cd1:")


def test_decrypt_some_columns_keeps_the_others(sealed, key) -> None:
    cli = sealed
    k = ["--key-file", str(key)]
    full = export(cli, *k)
    result = cli(*k, "decrypt", "--columns", "email,phone")
    assert result.exit_code == 0, result.output
    assert "still encrypted: address, birth_date, id_number" in result.output
    masked = export(cli, kind="contacts --mask")
    assert cli.sql("SELECT email FROM contacts WHERE id = 1") == [("Zhang.Wei@QQ.com",)]  # clear
    assert masked[0]["email"] == "Z***@QQ.com" and masked[0]["id_number"].startswith("110*")
    assert cli.sql("SELECT email_key FROM contacts WHERE id = 1") == [("zhang.wei@qq.com",)]
    assert export(cli, *k) == full
    assert cli(*k, "decrypt", "--columns", "email").exit_code == ExitCode.USAGE  # not encrypted


def test_encrypt_again_changes_no_value(sealed, key) -> None:
    cli = sealed
    before = dump(cli)
    assert cli("--key-file", key, "encrypt").exit_code == 0
    assert dump(cli) == before


def test_a_key_file_others_can_read_draws_a_warning(loaded, key, tmp_path) -> None:
    cli = loaded
    loose = tmp_path / "loose.key"
    loose.write_bytes(key.read_bytes())
    loose.chmod(0o644)
    result = cli("encrypt", "--key-file", loose)          # the command's own --key-file
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "can be read by other users" in said and "chmod 600" in said
    assert export(cli, "--key-file", str(key))[0]["email"] == "Zhang.Wei@QQ.com"
