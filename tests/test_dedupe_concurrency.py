"""Issue 16 case 2: a merge and an import (or another merge) at once lose nothing, and
`unmerge` keeps what changed after the merge.

Real processes, on both engines (SQLite and the PostgreSQL team store). The merge stops at its synchronisation point ("write:before-lock", see
tests/_sync.py: scored and planned, the write lock not yet asked for), the other command
runs to its commit, then the merge is let go.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests._sync import Paused
from tests.conftest import Cli
from tests.test_dedupe_cli import CONTACTS, INTERACTIONS, ORDERS

@pytest.fixture
def crm(ecli: Cli, write_csv) -> Cli:
    cli = ecli
    for kind, rows in (("contacts", CONTACTS), ("orders", ORDERS),
                       ("interactions", INTERACTIONS)):
        result = cli("import", kind, write_csv(f"{kind}.csv", rows))
        assert result.exit_code == 0, result.output
    return cli


def _run(db: Path | str, *args: object, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "custdata", "--db", str(db), *map(str, args)],
                          capture_output=True, text=True, timeout=120, env=env)


def _paused_merge(db: Path | str, sync: Path) -> Paused:
    """`dedupe --merge` in its own process, stopped once its plan is made."""
    merge = Paused(sync, "write:before-lock", db, "dedupe", "--merge", "-f", "json")
    assert merge.ready(), "the merge never reached its synchronisation point"
    return merge


def _release(merge: Paused) -> tuple[list[dict], str]:
    code, out, err = merge.finish()
    assert code == 0, err
    return json.loads(out), err


def _contact(cli: Cli, external_id: str) -> dict:
    rows = cli.rows("export", "contacts")
    return next(r for r in rows if r["external_id"] == external_id)


def test_an_import_committed_while_the_merge_planned_is_kept(crm: Cli, write_csv, tmp_path) -> None:
    sync = tmp_path / "sync"
    merge = _paused_merge(crm.db, sync)
    update = write_csv("update.csv", [["external_id", "company", "title"],
                                      ["C1", "新华信科技", "CTO"],
                                      ["C2", "新华信科技", "CTO"],
                                      ["C4", "Acme Robotics", "VP Sales"]])
    imported = _run(crm.db, "import", "contacts", update)
    assert imported.returncode == 0, imported.stderr
    rows, err = _release(merge)
    assert {r["merge_id"] is not None for r in rows} == {True}
    survivors = {r["contact_id"] for r in rows if r["survivor"] == "yes"}
    stored = {r["id"]: r for r in crm.rows("export", "contacts")}
    assert survivors <= set(stored)
    zhang = next(stored[i] for i in survivors if stored[i]["external_id"] in ("C1", "C2"))
    smith = next(stored[i] for i in survivors if stored[i]["external_id"] in ("C4", "C5"))
    assert (zhang["company"], zhang["title"]) == ("新华信科技", "CTO")
    assert (smith["company"], smith["title"]) == ("Acme Robotics", "VP Sales")
    assert "skipped" not in err


def test_a_cluster_merged_by_another_command_meanwhile_is_skipped_and_reported(
        crm: Cli, tmp_path) -> None:
    sync = tmp_path / "sync"
    merge = _paused_merge(crm.db, sync)
    other = _run(crm.db, "dedupe", "--merge", "-f", "json")
    assert other.returncode == 0, other.stderr
    merged_first = json.loads(other.stdout)
    contacts = crm.count("contacts")
    history = crm.count("history")
    rows, err = _release(merge)
    clusters = len({r["cluster_id"] for r in rows})
    assert f"skipped {clusters} clusters" in err and "run dedupe again" in err
    assert all(r["merge_id"] is None for r in rows)
    assert crm.count("contacts") == contacts and crm.count("history") == history
    assert crm.sql("SELECT count(*) FROM merges")[0][0] == len(
        {r["merge_id"] for r in merged_first})


def test_unmerge_keeps_updates_made_to_the_survivor_after_the_merge(crm: Cli, write_csv) -> None:
    rows = crm.rows("dedupe", "--merge")
    zhang = next(r for r in rows if r["survivor"] == "yes" and r["external_id"] in ("C1", "C2"))
    away = next(r for r in rows if r["cluster_id"] == zhang["cluster_id"]
                and r["survivor"] == "no")
    update = write_csv("update.csv", [["external_id", "title"], [zhang["external_id"], "CTO"]])
    imported = _run(crm.db, "import", "contacts", update)
    assert imported.returncode == 0, imported.stderr
    undone = _run(crm.db, "unmerge", zhang["merge_id"])
    assert undone.returncode == 0, undone.stderr
    assert "kept the changes" in undone.stderr and "title" in undone.stderr
    assert _contact(crm, zhang["external_id"])["title"] == "CTO"
    assert _contact(crm, away["external_id"])["id"] == away["contact_id"]  # restored
    # the merged values the import did not touch went back to their pre-merge state
    assert _contact(crm, zhang["external_id"])["company"] in (None, "", "华信科技")
