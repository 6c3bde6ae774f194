"""Taking turns at a store file before opening it: the re-keying commands' flock."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from custdata.errors import StoreError


@contextmanager
def exclusive_turn(path: Path | str, wait: float) -> Iterator[None]:
    """Hold the store's re-keying turn (a flock on the file, apart from SQLite's own locks).

    Commands that leave WAL mode take turns before they open the store: otherwise two of
    them, each with the store open, would wait for the other to close it. Waits up to
    `wait` seconds, then StoreError; a missing file (a new store) needs no turn.
    """
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
                    raise StoreError(f"The store {path} is being re-keyed or erased by another "
                                     "custdata command; it waited and gave up. Nothing was "
                                     "changed. Try again later.", hint="wait") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the flock
