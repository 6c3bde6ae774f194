"""One plain store of a generated data set, built once and shared by the benchmarks.

    .venv/bin/python benchmarks/shared_store.py DATA_DIR      # prints DATA_DIR/store.db

`DATA_DIR` is a datagen output (contacts.csv, orders.csv, interactions.csv, params.json),
such as the one bench_import.py caches. The store holds all three files, imported with
`custdata import`; it is rebuilt only when the data set (params.json), the custdata
version or the store schema changes, and it is checkpointed so that a file copy of it is a whole store.
The audit, churn, encryption and segments benchmarks copy or read it instead of each
importing 10M orders again (about ten minutes each at 1M contacts).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import remove_db, timed_cli  # noqa: E402


def ensure_store(data: Path) -> Path:
    from custdata import __version__

    db, stamp = data / "store.db", data / "store.json"
    schema = (HERE.parent / "src/custdata/store/schema.py").read_bytes()
    want = {"params": json.loads((data / "params.json").read_text(encoding="utf-8")),
            "custdata": __version__, "schema": hashlib.sha256(schema).hexdigest()}
    if db.exists() and stamp.exists() and json.loads(stamp.read_text(encoding="utf-8")) == want:
        return db
    remove_db(db)
    stamp.unlink(missing_ok=True)
    for kind in ("contacts", "orders", "interactions"):
        _, seconds = timed_cli(db, "import", kind, str(data / f"{kind}.csv"))
        print(f"shared store: imported {kind} in {seconds:.0f} s", file=sys.stderr)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    stamp.write_text(json.dumps(want), encoding="utf-8")
    return db


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: shared_store.py DATA_DIR")
    print(ensure_store(Path(sys.argv[1])))
