"""custdata.api.secure from Python, without the CLI: keygen, encrypt, decrypt, rotate, forget."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from custdata.api import Session, secure
from custdata.errors import KeyFileError

CSV = ("external_id,name,email,phone,phone\n"
       "C1,张伟,zhang.wei@qq.com,13800138000,13900139000\n"
       "C2,李娜,lina@163.com,13700137000,\n")


def _stock(cli, tmp_path: Path):
    """`cli` after importing CSV's two contacts."""
    source = tmp_path / "in.csv"
    source.write_text(CSV, encoding="utf-8")
    assert cli("import", "contacts", source).exit_code == 0
    return cli


@pytest.fixture
def crm(cli, tmp_path: Path):
    return _stock(cli, tmp_path)


@pytest.fixture
def ecrm(ecli, tmp_path: Path):
    """`crm` on each engine (sqlite, postgres)."""
    return _stock(ecli, tmp_path)


def _export(cli, *args) -> list[dict]:
    result = cli(*args, "export", "contacts", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_secure_group_runs_from_python(ecrm, tmp_path: Path) -> None:
    before = _export(ecrm)
    notes: list[str] = []
    made = secure.keygen(Session(db=ecrm.db), key_file=tmp_path / "k1")
    session = Session(db=ecrm.db, key_file=made.path, notify=notes.append)
    done = secure.encrypt(session, columns=["email", "phone"])
    assert done.changed and done.columns == ["email", "phone"] and done.key_id == made.key_id
    assert done.counts["contacts"] == 2 and done.counts["extra"] == 1 and done.left is None
    assert not secure.encrypt(session, columns=["email"]).changed  # nothing to do
    assert _export(ecrm, "--key-file", made.path) == before
    new = secure.keygen(Session(db=ecrm.db), key_file=tmp_path / "k2")
    rotated = secure.rotate_key(session, new_key_file=new.path)
    assert (rotated.old_key_id, rotated.key_id) == (made.key_id, new.key_id)
    with pytest.raises(KeyFileError):
        secure.decrypt(session)  # the old key no longer opens the store
    assert secure.decrypt(Session(db=ecrm.db, key_file=new.path)).columns == []
    assert _export(ecrm) == before


def test_forget_from_python_asks_through_a_callback(ecrm) -> None:
    asked: list[int] = []
    kept = secure.forget(Session(db=ecrm.db), "ext:C1",
                         confirm=lambda cid, who: asked.append(cid) or False)
    assert asked == [1] and not kept.erased
    done = secure.forget(Session(db=ecrm.db), "ext:C1")
    assert done.erased and done.contact_id == 1
    assert ecrm.sql("SELECT email, phone, extra FROM contacts WHERE id = 1") == [(None, None, "{}")]


def test_row_masker_masks_a_plain_store_too(crm) -> None:
    session = Session(db=crm.db)
    with session.store() as store:
        mask = secure.row_masker(session, store.protector)
        rows = [{k: v for k, v in mask("contacts", r).items() if not k.endswith("_key")}
                for r in store.contacts.iter()]
    text = json.dumps(rows, ensure_ascii=False)
    assert "zhang.wei@qq.com" not in text and "13900139000" not in text
    assert rows[0]["phone"] != "13800138000" and "*" in rows[0]["phone"]


def test_a_full_disk_after_the_commit_is_a_warning_and_the_next_write_finishes(
        crm, tmp_path: Path, monkeypatch) -> None:
    from custdata.store.database import SQLiteDatabase

    def full(self) -> None:
        exc = sqlite3.OperationalError("database or disk is full")
        exc.sqlite_errorcode = sqlite3.SQLITE_FULL
        raise exc

    made = secure.keygen(Session(db=crm.db), key_file=tmp_path / "k")
    monkeypatch.setattr(SQLiteDatabase, "vacuum", full)
    result = crm("--key-file", made.path, "encrypt")
    assert result.exit_code == 0, result.output  # the change is saved: success
    assert "disk is full" in result.output and "next custdata command" in result.output
    pending = "SELECT count(*) FROM meta WHERE key = 'crypto.scrub_pending'"
    assert crm.sql(pending) == [(1,)]
    monkeypatch.undo()
    assert crm("--key-file", made.path, "tag").exit_code == 0
    assert crm.sql(pending) == [(0,)]


def test_forget_erases_the_records_merged_into_the_person(ecli, tmp_path: Path) -> None:
    source = tmp_path / "d.csv"
    source.write_text("external_id,name,email,phone,city\n"
                      "D1,张伟,zhang.wei@qq.com,138 0013 8000,北京\n"
                      "D2,Zhang Wei,zw.work@163.com,+86 138 0013 8000,Beijing\n"
                      "D3,Li Na,lina@163.com,13912345678,上海\n", encoding="utf-8")
    assert ecli("import", "contacts", source).exit_code == 0
    assert ecli("clean").exit_code == 0  # history rows holding the values
    merged = ecli("dedupe", "--merge", "--format", "json")
    assert merged.exit_code == 0, merged.output
    rows = json.loads(merged.stdout)
    assert len({r["merge_id"] for r in rows}) == 1, rows
    ((survivor,),) = ecli.sql("SELECT survivor_id FROM merges")  # closed: forget needs the store
    away = ({1, 2} - {survivor}).pop()
    done = secure.forget(Session(db=ecli.db), survivor)
    assert done.counts["merged_records"] == 1 and done.counts["merges"] == 1
    assert ecli.sql("SELECT count(*) FROM history WHERE contact_id = ?", away) == [(0,)]
    data = ecli.dump().encode() if ecli.engine == "postgres" else \
        b"".join(p.read_bytes() for p in tmp_path.glob("crm.db*"))
    for value in ("zw.work@163.com", "zhang.wei@qq.com", "13800138000"):
        assert value.encode() not in data
    assert "lina@163.com".encode() in data  # the other person stays


def test_forget_keeps_a_suppression_list_that_import_reads(ecrm, tmp_path: Path) -> None:
    from custdata.api import data

    session = Session(db=ecrm.db)
    assert secure.erasures(session) == []
    assert secure.forget(session, "ext:C1").counts["suppressed"] == 3  # id, email, phone
    listed = secure.erasures(session)
    assert len(listed) == 1 and listed[0].identifiers == 3
    source = tmp_path / "again.csv"
    source.write_text(CSV, encoding="utf-8")
    counts = data.import_records(session, "contacts", source)
    assert (counts.skipped, counts.erased, counts.unchanged) == (1, 1, 1)
    assert "13800138000" not in json.dumps(ecrm.sql("SELECT * FROM suppressed"))
