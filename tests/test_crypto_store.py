"""The store's encrypt / decrypt / rotate on arbitrary values (hypothesis), without the CLI."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import custdata.crypto.recode as recode
from custdata.crypto import generate_key, is_token, write_key_file
from custdata.crypto.protector import _unb64
from custdata.errors import ExitCode
from custdata.normalize import email_key, id_number_key, phone_key
from custdata.api import Session
from custdata.api import secure
from custdata.api.person import Person as _Person
from custdata.crypto import key_id
from custdata.store import open_store
from tests.conftest import wait_for_write_lock

COLUMNS = ["email", "phone", "id_number", "address", "birth_date"]
# Any text SQLite can hold (no lone surrogates), NUL and control characters included.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
ROW = st.fixed_dictionaries({c: st.one_of(st.none(), TEXT) for c in COLUMNS})


def _store_with(rows: list[dict], folder: Path):
    store = open_store(folder / "s.db")
    with store.write("test") as op:
        for i, row in enumerate(rows, 1):
            store.db.conn.execute(
                "INSERT INTO contacts (id, external_id, email, phone, id_number, address, "
                "birth_date, email_key, phone_key, id_number_key, changed_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (i, f"X{i}", *(row[c] for c in COLUMNS), email_key(row["email"]),
                 phone_key(row["phone"]), id_number_key(row["id_number"]), op.at))
    return store


def _session(store, key: bytes) -> Session:
    """A session on `store`'s file with `key` in a key file beside it."""
    path = store.path.parent / f"{key_id(key)}.key"
    if not path.exists():
        write_key_file(path, key)
    return Session(db=store.path, key_file=path)


def _run(store, key: bytes, call, *, reopen_with: bytes | None = None):
    """Close `store`, run call(session) on its file, and reopen it with `reopen_with` (or key).

    Re-keying needs the store alone (other connections closed), as from the CLI.
    """
    store.close()
    try:
        call(_session(store, key))
    finally:
        again = open_store(store.path)
        state = again.crypto.state()
        use = reopen_with or key
        if state is not None and state.key_id != key_id(use):
            use = key
        again.protector = _session(again, use)._protector_factory(
            need_key=False, mask=False)(state)
    return again


def _encrypt(store, key, columns, workers=None):
    return _run(store, key, lambda s: secure.encrypt(s, columns=columns, workers=workers))


def _decrypt(store, key, workers=None):
    return _run(store, key, lambda s: secure.decrypt(s, workers=workers))


def _rotate(store, key, new_key, workers=None):
    path = store.path.parent / f"{key_id(new_key)}.key"
    if not path.exists():
        write_key_file(path, new_key)
    return _run(store, key, lambda s: secure.rotate_key(s, new_key_file=path, workers=workers),
                reopen_with=new_key)


def _view(store) -> list[dict]:
    """The decrypted view without the match keys (blind indexes once encrypted)."""
    keys = ("email_key", "phone_key", "id_number_key")
    return [{k: v for k, v in r.items() if k not in keys} for r in store.contacts.iter()]


def _contacts(store) -> list[tuple]:
    return [tuple(r) for r in store.db.conn.execute("SELECT * FROM contacts ORDER BY id")]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ROW, min_size=1, max_size=5))
def test_decrypt_undoes_encrypt_and_rotate_keeps_values(rows: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = _store_with(rows, Path(tmp))
        try:
            before = _contacts(store)
            view = _view(store)
            key, new_key = generate_key(), generate_key()
            store = _encrypt(store, key, COLUMNS)
            for row in store.db.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM contacts"):
                assert all(v is None or v == "" or is_token(v) for v in row)
            assert _view(store) == view
            store = _rotate(store, key, new_key)
            assert _view(store) == view
            store = _decrypt(store, new_key)
            assert _contacts(store) == before
        finally:
            store.close()


@pytest.mark.parametrize("line, found", [
    ('C001,张伟,Zhang.Wei@QQ.com', True),                 # external id cell
    ('x,"zhang.wei@qq.com ",y', True),                     # email anywhere, any case
    ('x;138-0013-8000;y', True),                           # phone digits in a cell
    ('x|+86 138 0013 8000', True),
    ('C0012,张伟明,other@qq.com', False),                  # no whole-cell match
    ('2024-01-05,13900000000,100', False),
    ('x,11010519491231002x', True),                        # ID number, lower-case x
])
def test_a_person_is_recognised_in_rejected_lines(line: str, found: bool) -> None:
    person = _Person.of({"external_id": "C001", "name": "张伟", "email": "Zhang.Wei@QQ.com",
                         "phone": "138 0013 8000", "id_number": "11010519491231002X"}, "CN")
    assert person.found_in(line) is found


# ---------------------------------------------------------------- big stores: pool and rollback

def _people(n: int) -> list[dict]:
    """n contacts with the usual shapes of values, some missing."""
    return [{"email": f"user{i}@qq.com" if i % 7 else None,
             "phone": f"138{i:08d}" if i % 5 else f"+86 139 {i:04d} {i % 10000:04d}",
             "id_number": "11010519491231002X" if i % 3 == 0 else "",
             "address": f"北京市朝阳区建国路{i}号", "birth_date": f"19{i % 90 + 10}-03-07"}
            for i in range(n)]


def _everything(store) -> list:
    """Every table's rows and the schema (indexes included), for before/after comparisons."""
    conn = store.db.conn
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return [sorted(tuple(r) for r in conn.execute(
        "SELECT type, name, coalesce(sql, '') FROM sqlite_master"))] + [
        [tuple(r) for r in conn.execute(f"SELECT * FROM {t}")] for t in tables]


@pytest.fixture
def small_pool(monkeypatch):
    """Make recode use its process pool from the first row, in chunks of 16 rows."""
    monkeypatch.setattr(recode, "PARALLEL_ROWS", 1)
    monkeypatch.setattr(recode, "CHUNK_ROWS", 16)


def test_pool_and_in_process_sealing_give_the_same_values(tmp_path: Path, small_pool) -> None:
    rows = _people(200)
    sealed_views = []
    for workers in (1, 2):
        folder = tmp_path / f"w{workers}"
        folder.mkdir()
        store = _store_with(rows, folder)
        before = _contacts(store)
        key, new_key = generate_key(), generate_key()
        store = _encrypt(store, key, COLUMNS, workers=workers)
        sealed_views.append([{c: r[c] for c in ("id", *COLUMNS)} for r in _view(store)])
        tokens = [v for r in store.db.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM contacts")
                  for v in r if v]
        assert all(is_token(t) for t in tokens)
        nonces = {_unb64(t.split(":")[2])[:12] for t in tokens}
        assert len(nonces) == len(tokens)  # no nonce drawn twice, whichever process drew it
        indexes = store.db.conn.execute("SELECT email_key, phone_key FROM contacts ORDER BY id")
        for row, (email_index, phone_index) in zip(rows, indexes):
            assert email_index == store.protector.index("email", email_key(row["email"]))
            assert phone_index == store.protector.index("phone", phone_key(row["phone"]))
        store = _rotate(store, key, new_key, workers=workers)
        store = _decrypt(store, new_key, workers=workers)
        assert _contacts(store) == before
        store.close()
    assert sealed_views[0] == sealed_views[1]
    assert sealed_views[0][5]["email"] == rows[5]["email"]


def test_the_pool_runs_in_forked_workers(small_pool, monkeypatch) -> None:
    from custdata.crypto import CryptoProtector
    from custdata.crypto import PlainProtector

    plain = recode.ContactRecoder.recode
    monkeypatch.setattr(recode.ContactRecoder, "recode", lambda self, rows: (
        plain(self, rows)[0], {str(os.getpid())}))
    recoder = recode.ContactRecoder(
        PlainProtector(), CryptoProtector(generate_key(), salt="00" * 16, columns=COLUMNS),
        columns=["email"], kinds=[("email", "email_key")], region="CN")
    rows = [(i, f"u{i}@qq.com", f"u{i}@qq.com") for i in range(1, 101)]
    chunks = list(recode.recode_rows(recoder, rows, workers=2))
    assert [u[-1] for updates, _ in chunks for u in updates] == list(range(1, 101))
    pids = set().union(*(found for _, found in chunks))
    assert pids and str(os.getpid()) not in pids and len(pids) <= 2
    assert recode._ACTIVE is None


def _fail_after_row_50(monkeypatch) -> None:
    """Make every recode chunk from contact 51 on raise RuntimeError("stopped")."""
    plain = recode.ContactRecoder.recode

    def fail_late(self, rows):
        if rows[0][0] > 50:
            raise RuntimeError("stopped")
        return plain(self, rows)

    monkeypatch.setattr(recode.ContactRecoder, "recode", fail_late)


@pytest.mark.parametrize("workers", [1, 2])
def test_an_encrypt_that_fails_midway_changes_nothing(tmp_path: Path, small_pool, monkeypatch,
                                                     workers: int) -> None:
    store = _store_with(_people(100), tmp_path)
    before = _everything(store)
    _fail_after_row_50(monkeypatch)
    with pytest.raises(RuntimeError, match="stopped"):
        store = _encrypt(store, generate_key(), COLUMNS, workers=workers)
    store = open_store(store.path)
    assert _everything(store) == before
    assert store.crypto.state() is None
    assert store.db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


@pytest.mark.parametrize("operation", ["decrypt", "rotate-key"])
def test_a_decrypt_or_rotation_that_fails_midway_changes_nothing(
        tmp_path: Path, small_pool, monkeypatch, operation: str) -> None:
    store = _store_with(_people(100), tmp_path)
    key, new_key = generate_key(), generate_key()
    store = _encrypt(store, key, COLUMNS, workers=1)
    before, state = _everything(store), store.crypto.state()
    _fail_after_row_50(monkeypatch)
    with pytest.raises(RuntimeError, match="stopped"):
        if operation == "decrypt":
            store = _decrypt(store, key, workers=1)
        else:
            store = _rotate(store, key, new_key, workers=1)
    store = open_store(store.path)
    assert _everything(store) == before and store.crypto.state() == state
    store.close()


def test_a_forget_that_fails_midway_changes_nothing(tmp_path: Path, monkeypatch) -> None:
    store = _store_with(_people(20), tmp_path)
    before = _everything(store)

    def fail(self, contact_id):  # after the contact, history, orders and rejects are erased
        raise RuntimeError("stopped")

    monkeypatch.setattr(type(store.forget), "_forget_merges", fail)
    store.close()
    with pytest.raises(RuntimeError, match="stopped"):
        secure.forget(Session(db=store.path), 3)
    store = open_store(store.path)
    assert _everything(store) == before
    store.close()


def _gone(db: Path, seconds: float = 10) -> bool:
    """True once no process runs with `db` on its command line (Linux /proc; else True)."""
    proc = Path("/proc")
    deadline = time.time() + seconds
    while time.time() < deadline:
        alive = []
        for cmdline in proc.glob("[0-9]*/cmdline"):
            try:
                alive += [cmdline] if str(db).encode() in cmdline.read_bytes() else []
            except OSError:
                continue
        if not alive:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_encrypt_leaves_the_store_unchanged(tmp_path: Path, sig) -> None:
    """Ctrl-C or kill -9 while the workers seal: the store is as it was, no worker left."""
    store = _store_with(_people(60_000), tmp_path)
    before = _everything(store)
    store.close()
    key = tmp_path / "k.key"
    write_key_file(key, generate_key())
    proc = subprocess.Popen([sys.executable, "-m", "custdata", "--db", tmp_path / "s.db",
                             "--key-file", key, "encrypt"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert wait_for_write_lock(tmp_path / "s.db", proc), "encrypt ended before it was stopped"
    time.sleep(0.5)  # the workers are sealing
    assert proc.poll() is None, "encrypt ended before it was stopped"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == ExitCode.INTERRUPTED
    assert _gone(tmp_path / "s.db"), "a worker outlived its parent (holding the key)"
    copy = tmp_path / "after.db"  # read a copy: opening the store itself would scrub nothing
    for suffix in ("", "-wal", "-journal"):
        if Path(f"{tmp_path}/s.db{suffix}").exists():
            shutil.copyfile(f"{tmp_path}/s.db{suffix}", f"{copy}{suffix}")
    after = open_store(copy)
    assert after.db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert _everything(after) == before
    after.close()
