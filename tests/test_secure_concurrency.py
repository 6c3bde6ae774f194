"""Issue 16 for encrypt, decrypt, rotate-key and forget: real processes, synchronised.

Each race runs two CLI processes (tests/_sync.py) with a synchronisation point: the
first holds the write lock (or has just committed); the second has opened the store
and read its state before the first commits. Kill -9 right after a commit is followed
by a byte scan of the database file, its WAL and any journal. The races of the key's
state run on both engines (`estore`: SQLite and the PostgreSQL team store); the byte scans
and SQLite's compaction on SQLite only.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from custdata.crypto import generate_key, write_key_file

from tests._sync import Paused
from tests.conftest import Cli

ROOT = Path(__file__).resolve().parent.parent
N = 150


def _people(first: int, n: int) -> list[dict]:
    return [{"external_id": f"C{i:05d}", "name": f"客户{i}", "email": f"user{i}@example.cn",
             "phone": f"1380013{i:04d}", "phone2": f"1391234{i:04d}", "city": "北京"}
            for i in range(first, first + n)]


def _write_csv(path: Path, rows: list[dict]) -> Path:
    header = ["external_id", "name", "email", "phone", "phone", "city"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        for r in rows:
            out.writerow([r["external_id"], r["name"], r["email"], r["phone"], r["phone2"],
                          r["city"]])
    return path


def _run(db: Path | str, *args: object, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "custdata", "--db", str(db),
                           *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def _new_store(db: Path | str, tmp_path: Path) -> dict:
    _run(db, "import", "contacts", _write_csv(tmp_path / "a.csv", _people(0, N)))
    keys = {}
    for name in ("k1", "k2"):
        keys[name] = tmp_path / f"{name}.key"
        write_key_file(keys[name], generate_key())
    return {"db": db, "tmp": tmp_path, **keys}


@pytest.fixture
def store(tmp_path: Path) -> dict:
    """An SQLite store of N people, and two keys."""
    return _new_store(tmp_path / "s.db", tmp_path)


@pytest.fixture
def estore(store_db: Path | str, tmp_path: Path) -> dict:
    """`store` on each engine in turn."""
    return _new_store(store_db, tmp_path)


def _plain_ids(db: Path | str, columns: tuple[str, ...] = ("email", "phone")) -> list:
    """Contacts with a value stored in clear in a sealed column (or its blind index)."""
    clauses = [f"({c} IS NOT NULL AND {c} NOT LIKE 'cd1:%')" for c in columns]
    clauses.append("(email_key IS NOT NULL AND email_key NOT LIKE 'bi1:%')")
    return Cli(db).sql(f"SELECT id FROM contacts WHERE {' OR '.join(clauses)}")


def _export(db: Path | str, *args: object, mask: bool = False) -> list[dict]:
    extra = ["--mask"] if mask else []
    return json.loads(_run(db, *args, "export", "contacts", *extra, "--format", "json").stdout)


def _no_tokens(rows: list[dict]) -> bool:
    return "cd1:" not in json.dumps(rows, ensure_ascii=False)


# ---------------------------------------------------------------- 1: state under the lock

def test_two_overlapping_encrypts_seal_once(estore: dict) -> None:
    store = estore
    db, tmp = store["db"], store["tmp"]
    first = Paused(tmp / "a", "write:locked", db, "--key-file", store["k1"], "encrypt")
    assert first.ready()
    second = Paused(tmp / "b", "write:before-lock", db, "--key-file", store["k1"], "encrypt")
    second.ready(3)  # it may wait for its turn before it opens the store: both are fine
    assert first.go()[0] == 0
    code, err = second.go()
    assert code == 0, err
    rows = _export(db, "--key-file", store["k1"])
    assert _no_tokens(rows) and rows[5]["email"] == "user5@example.cn"


def test_rotate_key_then_import_never_seals_with_the_old_key(estore: dict) -> None:
    store = estore
    db, tmp = store["db"], store["tmp"]
    _run(db, "--key-file", store["k1"], "encrypt")
    new_rows = _write_csv(tmp / "b.csv", _people(N, 20))
    rotate = Paused(tmp / "a", "write:locked", db, "--key-file", store["k1"], "rotate-key",
                    "--new-key-file", store["k2"])
    assert rotate.ready()
    imp = Paused(tmp / "b", "write:before-lock", db, "--key-file", store["k1"], "import",
                 "contacts", new_rows)
    assert imp.ready()
    assert rotate.go()[0] == 0
    code, err = imp.go()
    assert code == 2 and "key" in err  # the old key no longer opens the store: nothing written
    rows = _export(db, "--key-file", store["k2"])
    assert len(rows) == N and _no_tokens(rows)
    _run(db, "--key-file", store["k2"], "import", "contacts", new_rows)
    _run(db, "--key-file", store["k2"], "decrypt")
    assert len(_export(db)) == N + 20


def test_decrypt_then_import_stores_plain_values(estore: dict) -> None:
    store = estore
    db, tmp = store["db"], store["tmp"]
    _run(db, "--key-file", store["k1"], "encrypt")
    new_rows = _write_csv(tmp / "b.csv", _people(N, 20))
    decrypt = Paused(tmp / "a", "write:locked", db, "--key-file", store["k1"], "decrypt")
    assert decrypt.ready()
    imp = Paused(tmp / "b", "write:before-lock", db, "--key-file", store["k1"], "import",
                 "contacts", new_rows)
    assert imp.ready()
    assert decrypt.go()[0] == 0
    code, err = imp.go()
    assert code == 0, err
    rows = _export(db)
    assert len(rows) == N + 20 and _no_tokens(rows)


def test_encrypt_then_import_seals_the_imported_rows(estore: dict) -> None:
    store = estore
    db, tmp = store["db"], store["tmp"]
    new_rows = _write_csv(tmp / "b.csv", _people(N, 20))
    encrypt = Paused(tmp / "a", "write:locked", db, "--key-file", store["k1"], "encrypt")
    assert encrypt.ready()
    imp = Paused(tmp / "b", "write:before-lock", db, "--key-file", store["k1"], "import",
                 "contacts", new_rows)
    assert imp.ready()
    assert encrypt.go()[0] == 0
    code, err = imp.go()
    assert code == 0, err
    assert _plain_ids(db, ("email",)) == []
    rows = _export(db, "--key-file", store["k1"])
    assert len(rows) == N + 20 and rows[-1]["email"] == f"user{N + 19}@example.cn"


def test_a_merge_planned_before_encrypt_commits_writes_sealed_values(estore: dict) -> None:
    store = estore
    """dedupe --merge read and scored the plain store; encrypt committed before the merge
    took the lock: the merge writes values sealed under the key, never tokens copied from
    other rows (which would fail authentication) or plaintext."""
    db, tmp = store["db"], store["tmp"]
    dupes = [dict(p, external_id=f"D{i}", phone2="") for i, p in enumerate(_people(0, 3))]
    _run(db, "import", "contacts", _write_csv(tmp / "d.csv", dupes))
    encrypt = Paused(tmp / "a", "write:locked", db, "--key-file", store["k1"], "encrypt")
    assert encrypt.ready()
    merge = Paused(tmp / "b", "write:before-lock", db, "--key-file", store["k1"], "dedupe",
                   "--merge", "--format", "json")
    assert merge.ready()  # scored and planned on the values read before encrypt's commit
    assert encrypt.go()[0] == 0
    code, out, err = merge.finish()
    assert code == 0, err
    merged = json.loads(out)
    assert {r["merge_id"] is not None for r in merged} == {True}
    assert _plain_ids(db) == []
    rows = _export(db, "--key-file", store["k1"])
    assert _no_tokens(rows) and len(rows) == N
    assert {r["email"] for r in rows} == {p["email"] for p in _people(0, N)}
    for merge_id in {r["merge_id"] for r in merged}:
        _run(db, "--key-file", store["k1"], "unmerge", merge_id)
    rows = _export(db, "--key-file", store["k1"])
    assert _no_tokens(rows) and len(rows) == N + 3


# ---------------------------------------------------------------- 5: no plaintext window

def _scan(db: Path, values: list[str]) -> list[str]:
    """The values found in the bytes of the store's file, -wal or -journal."""
    found = []
    for suffix in ("", "-wal", "-journal"):
        path = Path(f"{db}{suffix}")
        if path.exists():
            data = path.read_bytes()
            found += [f"{suffix or 'db'}:{v}" for v in values if v.encode() in data]
    return found


@pytest.mark.parametrize("command", ["encrypt", "forget"])
def test_kill_9_right_after_the_commit_leaves_no_plaintext(store: dict, command: str) -> None:
    db, tmp = store["db"], store["tmp"]
    people = _people(0, N)
    if command == "encrypt":
        values = [p[f] for p in people[::10] for f in ("email", "phone", "phone2")]
        args = ["--key-file", store["k1"], "encrypt"]
    else:
        values = [people[7]["email"], people[7]["phone"], people[7]["phone2"]]
        args = ["forget", "ext:C00007", "--yes"]
    assert len(_scan(db, values)) >= len(values)  # the scan finds them before
    proc = Paused(tmp / "a", "write:committed", db, *args)
    assert proc.ready()
    os.kill(proc.proc.pid, signal.SIGKILL)
    proc.proc.wait(timeout=30)
    assert _scan(db, values) == []


def test_extra_copies_history_and_merges_are_sealed(estore: dict) -> None:
    store = estore
    db = store["db"]
    _run(db, "--key-file", store["k1"], "encrypt", "--columns", "email,phone")
    text = "\n".join(str(r) for t in ("contacts", "history", "merges")
                     for r in Cli(db).sql(f"SELECT * FROM {t}"))
    people = _people(0, N)
    assert [v for p in people for v in (p["email"], p["phone2"]) if v in text] == []
    rows = _export(db, "--key-file", store["k1"])
    assert rows[3]["extra"]["phone_2"] == "13912340003"
    masked = _export(db, mask=True)
    assert "13912340003" not in json.dumps(masked)


# ---------------------------------------------------------------- 4: exit codes tell the truth

def test_a_busy_compaction_is_a_warning_and_the_next_write_finishes_it(store: dict) -> None:
    db, tmp = store["db"], store["tmp"]
    proc = Paused(tmp / "a", "write:committed", db, "--wait", "1", "forget", "ext:C00003", "--yes")
    assert proc.ready()
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM contacts").fetchone()  # holds a read lock
    code, err = proc.go()
    reader.execute("COMMIT")
    reader.close()
    assert code == 0, err
    assert "saved" in err and "next custdata command" in err
    assert _run(db, "tag").returncode == 0
    with sqlite3.connect(db) as conn:
        pending = conn.execute("SELECT value FROM meta WHERE key = 'crypto.scrub_pending'")
        assert pending.fetchone() is None
    conn.close()


# ---------------------------------------------------------------- 6: a key is never echoed

@pytest.mark.parametrize("how", ["option", "variable"])
def test_a_key_given_as_the_key_file_is_never_echoed(store: dict, how: str) -> None:
    db = store["db"]
    key_text = store["k1"].read_text().strip()
    before = db.read_bytes()
    if how == "option":
        done = _run(db, "--key-file", key_text, "encrypt", check=False)
    else:
        done = subprocess.run([sys.executable, "-m", "custdata", "--db", str(db), "encrypt"],
                              capture_output=True, text=True, cwd=ROOT,
                              env={**os.environ, "CUSTDATA_KEY_FILE": key_text})
    assert done.returncode == 2
    secret = key_text.split(":", 1)[1]
    assert secret[:12] not in done.stderr + done.stdout
    assert "key file path is expected" in done.stderr
    assert db.read_bytes() == before


def test_encrypt_then_unmerge_restores_sealed_rows(estore: dict) -> None:
    store = estore
    """unmerge opened the store before encrypt committed: everything it writes (the merge's
    before-images, their key id) is read under its write lock, so it restores sealed rows."""
    db, tmp = store["db"], store["tmp"]
    dupes = [dict(p, external_id=f"D{i}", phone2="") for i, p in enumerate(_people(0, 3))]
    _run(db, "import", "contacts", _write_csv(tmp / "d.csv", dupes))
    merged = json.loads(_run(db, "dedupe", "--merge", "--format", "json").stdout)
    merge_id = merged[0]["merge_id"]
    restored = {r["contact_id"]: r["email"] for r in merged if r["merge_id"] == merge_id
                and r["survivor"] == "no"}
    encrypt = Paused(tmp / "a", "write:locked", db, "--key-file", store["k1"], "encrypt")
    assert encrypt.ready()
    unmerge = Paused(tmp / "b", "write:before-lock", db, "--key-file", store["k1"], "unmerge",
                     merge_id)
    assert unmerge.ready()
    assert encrypt.go()[0] == 0
    code, err = unmerge.go()
    assert code == 0, err
    assert _plain_ids(db, ("email",)) == []
    rows = _export(db, "--key-file", store["k1"])
    assert _no_tokens(rows) and len(rows) == N + 3 - len(merged) // 2 + len(restored)
    assert {r["id"]: r["email"] for r in rows if r["id"] in restored} == restored
