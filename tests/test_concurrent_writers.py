"""Two writing commands at once end as one of their two serial orders (issue 16).

Each example draws two writing commands, runs them one after the other in both orders
on copies of one store, then runs them at the same time on a third copy, and checks the
third equals one of the first two. "At the same time" is forced, not hoped for: the
first command stops at a synchronisation point of its write (tests/_sync.py): either
"write:before-lock" (it has read and planned, the lock not yet asked for) — the
interleaving in which a command that read the store's state before the lock used to
write stale values (keys, merged records) with exit 0 — or "write:locked" (it holds the
lock, so the second reads the store as it was and then waits). The second starts and
runs until it finishes or waits on a lock, then the first goes on.

Both engines: the base store is an SQLite file or a database on the PostgreSQL test
server (copied by cloning it), and the same synchronisation points stop the team store's
writes (Store.write is the same code on both).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._sync import Paused
from tests.conftest import ENGINES, EXAMPLES, Cli

pytestmark = pytest.mark.slow

AS_OF = "2026-11-01"
# Timestamps and ids that differ between any two runs, whatever the order.
VOLATILE = {"created_at", "updated_at", "changed_at", "stage_changed_at", "tier_changed_at"}

UPDATES = [
    ["Customer ID", "Name", "Company", "Title", "E-mail", "Phone Number", "City"],
    *[[f"C{n:07d}", "", f"Updated Co {n}", "Buyer", "", "", ""] for n in range(1, 60, 3)],
    ["C9000001", "New Person", "Fresh Ltd", "CEO", "fresh.person@example.com", "13911112222", "上海"],
]

COMMANDS: dict[str, list[str]] = {
    "import": ["import", "contacts", "{updates}"],
    "import-orders": ["import", "orders", str(EXAMPLES / "orders.csv")],
    "clean": ["clean"],
    "tag": ["tag", "--as-of", AS_OF],
    "merge": ["dedupe", "--merge"],
    "encrypt": ["encrypt"],
    "decrypt": ["decrypt"],
    "forget": ["forget", "C0000005", "--yes"],
}


def _args(name: str, files: dict[str, Path]) -> list[str]:
    """The arguments after --db: every command gets the key (once one of them encrypted
    the store, all need it) and waits for the lock as long as it takes."""
    words = [w.format(**{k: str(v) for k, v in files.items()}) for w in COMMANDS[name]]
    return ["--wait", "120", "--key-file", str(files["key"]), *words]


def _argv(name: str, db: Path | str, files: dict[str, Path]) -> list[str]:
    return [sys.executable, "-m", "custdata", "--db", str(db), *_args(name, files)]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTDATA_")}
    env["NO_COLOR"] = "1"
    return env


def _run(name: str, db: Path | str, files: dict[str, Path]) -> subprocess.CompletedProcess:
    return subprocess.run(_argv(name, db, files), capture_output=True, text=True, env=_env(),
                          stdin=subprocess.DEVNULL, timeout=300)


def _run_together(first: str, second: str, db: Path | str, files: dict[str, Path], point: str,
                  sync: Path) -> tuple[int, int]:
    """Both commands at once: `first` stopped at `point` of its write while `second` runs.

    A first command with nothing to write never reaches the point: it just ends first.
    """
    a = Paused(sync, point, db, *_args(first, files), env=_env())
    a.ready()
    b = subprocess.Popen(_argv(second, db, files), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=_env(), stdin=subprocess.DEVNULL)
    try:
        b.wait(timeout=8)  # done, or waiting for a lock the stopped command holds
    except subprocess.TimeoutExpired:
        pass
    code, _ = a.go(300)
    return code, b.wait(timeout=300)


def _snapshot(db: Path | str, files: dict[str, Path]) -> dict:
    """What a user sees: every contact and order as export prints them (opened with the
    key when the store is encrypted), timestamps left out, and whether it is encrypted."""
    cli = Cli(db)
    out: dict = {}
    for kind in ("contacts", "orders"):
        result = cli("--key-file", files["key"], "export", kind, "--format", "json")
        assert result.exit_code == 0, result.output
        rows = json.loads(result.stdout)
        text = json.dumps(rows, ensure_ascii=False)
        assert "cd1:" not in text, "export with the key printed sealed tokens"
        out[kind] = sorted(json.dumps({k: v for k, v in r.items() if k not in VOLATILE},
                                      ensure_ascii=False, sort_keys=True) for r in rows)
    row = cli.sql("SELECT value FROM meta WHERE key = 'crypto.columns'")
    out["encrypted"] = json.loads(row[0][0]) if row else []
    return out


@pytest.fixture(scope="module", params=ENGINES)
def base(request, tmp_path_factory) -> tuple[Path | str, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("writers")
    files = {"key": folder / "k1", "updates": folder / "updates.csv"}
    import csv

    with open(files["updates"], "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(UPDATES)
    server = request.getfixturevalue("pg_server") if request.param == "postgres" else None
    db: Path | str = folder / "base.db" if server is None else server.url(server.new_database())
    cli = Cli(db)
    for args in (("init",), ("import", "contacts", EXAMPLES / "contacts.csv"),
                 ("import", "interactions", EXAMPLES / "interactions.csv"),
                 ("keygen", "--key-file", files["key"])):
        assert cli(*args).exit_code == 0
    # A few orders only, so that importing the examples' orders changes the store.
    head = (EXAMPLES / "orders.csv").read_text(encoding="utf-8").splitlines()[:200]
    (folder / "some_orders.csv").write_text("\n".join(head) + "\n", encoding="utf-8")
    assert cli("import", "orders", folder / "some_orders.csv").exit_code == 0
    yield db, files
    if server is not None:
        server.drop_database(str(db).rsplit("/", 1)[1])


def test_two_writers_end_as_one_serial_order(base, tmp_path_factory, copy_store) -> None:
    """Five drawn pairs on SQLite, one on the team store (each pair runs six commands and
    six exports there, in processes that each connect to the server)."""
    base_db, files = base

    @settings(max_examples=5 if isinstance(base_db, Path) else 1, deadline=None,
              suppress_health_check=list(HealthCheck), database=None)
    @given(st.sampled_from(sorted(COMMANDS)), st.sampled_from(sorted(COMMANDS)),
           st.sampled_from(["write:before-lock", "write:locked"]))
    def pair(first: str, second: str, point: str) -> None:
        folder = tmp_path_factory.mktemp("pair")
        outcomes = []  # (snapshot, (first's exit code, second's)) of each serial order
        for label, (x, y) in (("ab", (first, second)), ("ba", (second, first))):
            db = copy_store(base_db, folder / f"{label}.db")
            codes = {}
            for name, turn in ((x, "x"), (y, "y")):
                done = _run(name, db, files)
                assert done.returncode in (0, 2), (name, done.stderr)  # 2: forget, forgotten
                codes[turn] = done.returncode
            pair = (codes["x"], codes["y"]) if label == "ab" else (codes["y"], codes["x"])
            outcomes.append((_snapshot(db, files), pair))
        together = copy_store(base_db, folder / "together.db")
        codes = _run_together(first, second, together, files, point, folder / "sync")
        assert (_snapshot(together, files), codes) in outcomes, (first, second, point, codes)

    pair()


@pytest.mark.parametrize("point", ["write:before-lock", "write:locked"])
def test_the_same_forget_twice_at_once_erases_once(base, tmp_path_factory, copy_store,
                                                   point: str) -> None:
    """A serial order's exit codes too: the second forget finds nobody (exit 2)."""
    base_db, files = base
    folder = tmp_path_factory.mktemp("forget2")
    together = copy_store(base_db, folder / "together.db")
    codes = _run_together("forget", "forget", together, files, point, folder / "sync")
    assert sorted(codes) == [0, 2], codes  # one erases, the other is told nobody is there
