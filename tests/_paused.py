"""Run the custdata CLI with a synchronisation point, for concurrency tests.

    python -m tests._paused DIR POINT custdata-args...

POINT: "before-lock" (just before the first BEGIN IMMEDIATE: the store is open and its
state read), "locked" (just after it) or "committed" (just after the first COMMIT).
At the point the process creates DIR/ready and waits until DIR/go exists. It hooks
sqlite3 connections, not custdata code, so the same test runs against older code.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

_connect = sqlite3.connect


def main() -> None:
    folder, point, args = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    done: set[str] = set()

    def pause(name: str) -> None:
        if name != point or name in done:
            return
        done.add(name)
        (folder / "ready").touch()
        while not (folder / "go").exists():
            time.sleep(0.02)

    class Pausing(sqlite3.Connection):
        def execute(self, sql: str, *args, **kwargs):  # type: ignore[override]
            word = sql.strip().upper()
            if word == "BEGIN IMMEDIATE":
                pause("before-lock")
            cursor = super().execute(sql, *args, **kwargs)
            if word == "BEGIN IMMEDIATE":
                pause("locked")
            elif word == "COMMIT":
                pause("committed")
            return cursor

    def connect(*a, **kw):
        kw.setdefault("factory", Pausing)
        return _connect(*a, **kw)

    sqlite3.connect = connect  # type: ignore[assignment]
    from custdata.cli import app

    sys.argv = ["custdata", *args]
    app(prog_name="custdata")


if __name__ == "__main__":
    main()
