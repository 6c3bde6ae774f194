"""Issue 16: `tag` reads the order aggregates before the write lock (a pass over every
order); an import that commits in between is seen under the lock, so the store ends as
the operation log says: the import, then the tag on the imported orders. On both engines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests._sync import Paused
from tests.conftest import EXAMPLES, Cli

AS_OF = "2026-11-01"


def _tags(cli: Cli) -> dict:
    """What tag decides: every contact's stage and tier, and the RFM cells `show` reads."""
    rows = cli.sql("SELECT id, stage, tier FROM contacts ORDER BY id")
    cells = cli.sql("SELECT contact_id, cell, segment FROM rfm_cells ORDER BY contact_id")
    return {"contacts": rows, "cells": cells}


def _run(db: Path | str, *args: object) -> None:
    done = subprocess.run([sys.executable, "-m", "custdata", "--db", str(db), *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_an_import_committed_while_tag_aggregated_is_tagged(ecli: Cli, copy_store,
                                                            tmp_path: Path) -> None:
    base = ecli
    head = (EXAMPLES / "orders.csv").read_text(encoding="utf-8").splitlines()[:300]
    (tmp_path / "some.csv").write_text("\n".join(head) + "\n", encoding="utf-8")
    for kind, path in (("contacts", EXAMPLES / "contacts.csv"), ("orders", tmp_path / "some.csv")):
        assert base("import", kind, path).exit_code == 0
    serial = Cli(copy_store(base.db, tmp_path / "serial.db"))
    _run(serial.db, "import", "orders", EXAMPLES / "orders.csv")
    _run(serial.db, "tag", "--as-of", AS_OF)
    stale = Cli(copy_store(base.db, tmp_path / "stale.db"))
    _run(stale.db, "tag", "--as-of", AS_OF)
    assert _tags(stale) != _tags(serial)  # the imported orders change the tags

    tag = Paused(tmp_path / "sync", "write:before-lock", base.db, "tag", "--as-of", AS_OF)
    assert tag.ready()  # the aggregates are read, the lock not yet asked for
    _run(base.db, "import", "orders", EXAMPLES / "orders.csv")
    code, err = tag.go()
    assert code == 0, err
    logged = [c for _, c in base.sql("SELECT id, command FROM oplog ORDER BY id")]
    assert "import orders" in logged[-2] and "tag" in logged[-1]
    assert _tags(base) == _tags(serial)
