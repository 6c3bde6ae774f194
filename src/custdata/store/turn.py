"""Taking turns at a store before opening it: the re-keying and erasing commands' turn (a
flock on an SQLite file; a session advisory lock on a team store's server)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from custdata.errors import StoreError
from custdata.store.location import is_server_url, redact, server_dsn

GAVE_UP = ("The store {path} is being re-keyed or erased by another custdata command{held}; "
           "it waited and gave up. Nothing was changed. Try again later.")


@contextmanager
def exclusive_turn(path: Path | str, wait: float) -> Iterator[None]:
    """Hold the store's re-keying turn (a flock on the file, apart from SQLite's own locks).

    Commands that leave WAL mode take turns before they open the store: otherwise two of
    them, each with the store open, would wait for the other to close it. Waits up to
    `wait` seconds, then StoreError; a missing file (a new store) needs no turn. On a
    team store (a postgresql:// URL) the turn is a server-wide advisory lock instead, so
    the second of two forgets looks the person up after the first erased them.
    """
    if is_server_url(path):
        with _server_turn(str(path), wait):
            yield
        return
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(GAVE_UP.format(path=path, held=""), hint="wait") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the flock


@contextmanager
def _server_turn(url: str, wait: float) -> Iterator[None]:
    """Hold pg_advisory_lock(TURN_KEY) on a connection of its own while the command runs;
    StoreError after `wait` seconds naming who holds it (or the server's own trouble)."""
    import psycopg

    from custdata.store.pg_errors import TURN_KEY, advisory_holder, translate_pg_error

    where = redact(url)
    try:
        conn = psycopg.connect(server_dsn(url), autocommit=True, application_name="custdata")
    except psycopg.Error as exc:
        raise translate_pg_error(exc, where) from exc
    with conn:
        try:
            conn.execute(f"SET lock_timeout = {int(wait * 1000)}")
            conn.execute("SELECT pg_advisory_lock(%s)", (TURN_KEY,))
        except psycopg.errors.LockNotAvailable:
            holder = advisory_holder(conn, TURN_KEY)
            held = f" (held by {holder})" if holder else ""
            raise StoreError(GAVE_UP.format(path=where, held=held), hint="wait") from None
        except psycopg.Error as exc:
            raise translate_pg_error(exc, where) from exc
        yield  # the lock goes with the connection, however the command ends
