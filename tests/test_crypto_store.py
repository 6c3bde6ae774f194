"""The store's encrypt / decrypt / rotate on arbitrary values (hypothesis), without the CLI."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custdata.crypto import generate_key, is_token
from custdata.ingest import id_number_key
from custdata.normalize import email_key, phone_key
from custdata.store import open_store
from custdata.store.crypto import _Person

COLUMNS = ["email", "phone", "id_number", "address", "birth_date"]
# Any text SQLite can hold (no lone surrogates), NUL and control characters included.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
ROW = st.fixed_dictionaries({c: st.one_of(st.none(), TEXT) for c in COLUMNS})


def _store_with(rows: list[dict], folder: Path):
    store = open_store(folder / "s.db")
    with store.write("test") as op:
        for i, row in enumerate(rows, 1):
            store.conn.execute(
                "INSERT INTO contacts (id, external_id, email, phone, id_number, address, "
                "birth_date, email_key, phone_key, id_number_key, changed_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (i, f"X{i}", *(row[c] for c in COLUMNS), email_key(row["email"]),
                 phone_key(row["phone"]), id_number_key(row["id_number"]), op.at))
    return store


def _view(store) -> list[dict]:
    """The decrypted view without the match keys (blind indexes once encrypted)."""
    keys = ("email_key", "phone_key", "id_number_key")
    return [{k: v for k, v in r.items() if k not in keys} for r in store.iter_contacts()]


def _contacts(store) -> list[tuple]:
    return [tuple(r) for r in store.conn.execute("SELECT * FROM contacts ORDER BY id")]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ROW, min_size=1, max_size=5))
def test_decrypt_undoes_encrypt_and_rotate_keeps_values(rows: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = _store_with(rows, Path(tmp))
        try:
            before = _contacts(store)
            view = _view(store)
            key, new_key = generate_key(), generate_key()
            store.encrypt_columns(key, COLUMNS)
            for row in store.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM contacts"):
                assert all(v is None or v == "" or is_token(v) for v in row)
            assert _view(store) == view
            store.rotate_key(key, new_key)
            store.protector = store.crypto_protector(new_key)
            assert _view(store) == view
            store.decrypt_columns(new_key)
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
