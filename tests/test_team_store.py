"""The team store on PostgreSQL: URLs, errors, locking, roles, copying between engines.

Runs on the throwaway test server (tests/pg_server.py); skipped only outside CI when no
server can be started.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from custdata.errors import ExitCode
from custdata.store.pg_dialect import translate
from custdata.store.pg_errors import LOCK_KEY
from custdata.store.pg_schema import PG_MIGRATIONS
from custdata.store.schema import MIGRATIONS
from tests.conftest import EXAMPLES, Cli, make_csv

pytestmark = pytest.mark.postgres
CUSTDATA = [sys.executable, "-m", "custdata"]
TEAM_ROWS = [
    ["external_id", "name", "email", "owner"],
    ["T1", "Alice's customer", "a1@example.com", "alice"],
    ["T2", "Another of Alice's", "a2@example.com", "alice"],
    ["T3", "Bob's customer", "b1@example.com", "bob"],
]


def as_user(url: str, user: str) -> Cli:
    """The same store, logged in as another database user."""
    return Cli(url.replace("postgresql://postgres@", f"postgresql://{user}@", 1))


def test_every_sqlite_migration_has_a_postgres_one() -> None:
    assert len(PG_MIGRATIONS) == len(MIGRATIONS)


@pytest.mark.parametrize("sql, expected", [
    ("SELECT * FROM t WHERE a = ? AND b LIKE '%x?'",
     "SELECT * FROM t WHERE a = %s AND b ILIKE '%%x?'"),
    ("SELECT :as_of, x::text FROM t", "SELECT %(as_of)s, x::text FROM t"),
    ("SELECT user FROM oplog o WHERE o.user = 'user'",
     'SELECT "user" FROM oplog o WHERE o."user" = \'user\''),
    ("SELECT rowid AS seq FROM merges WHERE a IS NOT b", 
     "SELECT seq AS seq FROM merges WHERE a IS DISTINCT FROM b"),
    ("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
     "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT DO NOTHING"),
    ("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
     "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) "
     "DO UPDATE SET value = EXCLUDED.value"),
    ("DELETE FROM temp.gaps", "DELETE FROM pg_temp.gaps"),
])
def test_sqlite_statements_said_in_postgres(sql: str, expected: str) -> None:
    assert translate(sql) == expected


def test_a_password_in_the_url_is_refused_and_never_shown(pg_url: str) -> None:
    url = pg_url.replace("postgres@", "postgres:s3cret@")
    result = Cli(url)("log")
    assert result.exit_code == ExitCode.USAGE
    assert "pgpass" in result.stderr and "s3cret" not in result.output


def test_a_server_that_is_not_there_is_exit_3(pg_url: str) -> None:
    result = Cli(pg_url.rsplit(":", 1)[0] + ":1/nothing")("log")
    assert result.exit_code == ExitCode.STORE and "Cannot connect" in result.stderr


def test_reading_an_empty_database_says_there_is_no_store(pg_url: str, tmp_path: Path) -> None:
    result = Cli(pg_url)("copy", pg_url, tmp_path / "x.db")
    assert result.exit_code == ExitCode.USAGE and "There is no store" in result.stderr
    result = Cli(pg_url)("log")  # a reading command never creates it, as on SQLite
    assert result.exit_code == ExitCode.USAGE and "init" in result.stderr
    assert Cli(pg_url)("init").exit_code == 0
    assert Cli(pg_url)("log").exit_code == 0


def test_a_foreign_database_is_refused(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (x int)")
    result = Cli(pg_url)("log")
    assert result.exit_code == ExitCode.STORE and "not a custdata store" in result.stderr


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    cli = Cli(pg_url)
    cli("init")
    cli.sql("UPDATE custdata_schema SET version = version + 1")
    result = cli("export", "contacts")
    assert result.exit_code == ExitCode.STORE and "newer custdata" in result.stderr


def test_a_writer_gives_up_after_wait_and_says_who_holds_the_lock(pg_url: str,
                                                                  write_csv) -> None:
    cli = Cli(pg_url)
    cli("init")
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        result = cli("--wait", "0.5", "import", "contacts",
                     write_csv("c.csv", TEAM_ROWS))
        holder.execute("ROLLBACK")
    assert result.exit_code == ExitCode.STORE
    assert "locked" in result.stderr and "held by postgres" in result.stderr
    assert "--wait" in result.stderr
    assert cli.count("contacts") == 0


def test_a_second_writer_waits_then_succeeds(pg_url: str, tmp_path: Path) -> None:
    Cli(pg_url)("init")
    path = tmp_path / "c.csv"
    path.write_bytes(make_csv(TEAM_ROWS))
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        proc = subprocess.Popen([*CUSTDATA, "--db", pg_url, "--wait", "30", "import",
                                 "contacts", path], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        time.sleep(2)
        assert proc.poll() is None, "the second writer did not wait for the lock"
        holder.execute("COMMIT")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert b"inserted 3" in err


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_import_leaves_the_team_store_unchanged(pg_url: str, tmp_path: Path,
                                                       sig: signal.Signals) -> None:
    """kill -9, or Ctrl-C (SIGINT: the process rolls back and exits 130 saying so)."""
    cli = Cli(pg_url)
    small = tmp_path / "small.csv"
    small.write_bytes(make_csv(TEAM_ROWS))
    cli("import", "contacts", small)
    before = cli.sql("SELECT * FROM contacts ORDER BY id"), cli.count("oplog")
    big = tmp_path / "big.csv"
    rows = [["external_id", "email"]] + [[f"X{i}", f"u{i}@example.com"] for i in range(60_000)]
    big.write_bytes(make_csv(rows))
    proc = subprocess.Popen([*CUSTDATA, "--db", pg_url, "import", "contacts", big],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and not cli.sql(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"):
        time.sleep(0.05)
    time.sleep(0.5)
    assert proc.poll() is None, "import finished before it could be killed"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == ExitCode.INTERRUPTED, err
        assert b"left as it was before" in err, err
    time.sleep(0.5)  # the server notices the closed connection and rolls back
    assert (cli.sql("SELECT * FROM contacts ORDER BY id"), cli.count("oplog")) == before


def test_roles_decide_who_may_run_what(pg_url: str, write_csv) -> None:
    admin = Cli(pg_url)
    admin("import", "contacts", write_csv("c.csv", TEAM_ROWS))
    assert admin("team", "init", "--owners").exit_code == 0
    for user, role in (("alice", "viewer"), ("erin", "editor"), ("ada", "admin")):
        result = admin("team", "grant", user, role)
        assert result.exit_code == 0, result.output
    assert {(r["user"], r["role"]) for r in admin.rows("team", "members")} == {
        ("alice", "viewer"), ("erin", "editor"), ("ada", "admin")}
    alice = as_user(pg_url, "alice")
    assert [r["external_id"] for r in alice.rows("export", "contacts")] == ["T1", "T2"]
    assert alice("show", "T3").exit_code == ExitCode.USAGE  # not hers: not found
    denied = alice("import", "contacts", write_csv("d.csv", TEAM_ROWS))
    assert denied.exit_code == ExitCode.STORE and "editor role" in denied.stderr
    erin = as_user(pg_url, "erin")
    assert erin("clean").exit_code == 0
    assert len(erin.rows("export", "contacts")) == 3
    denied = erin("forget", "T3", "--yes")
    assert denied.exit_code == ExitCode.STORE and "admin role" in denied.stderr
    ada = as_user(pg_url, "ada")
    forgot = ada("forget", "T3", "--yes")
    assert forgot.exit_code == 0, forgot.output
    assert "write-ahead log" in forgot.stderr  # what no client can scrub, said plainly
    users = {r["command"].split()[-1]: r["user"] for r in admin.rows("log")}
    assert users["clean"] == "erin"
    assert admin("team", "revoke", "erin", "editor").exit_code == 0
    assert erin("clean").exit_code == ExitCode.STORE


def test_team_commands_on_an_sqlite_store_say_they_need_a_server(cli) -> None:
    result = cli("team", "init")
    assert result.exit_code == ExitCode.USAGE and "PostgreSQL" in result.stderr


def test_copy_to_postgres_and_back_keeps_everything(tmp_path: Path, pg_url: str) -> None:
    lite = Cli(tmp_path / "crm.db")
    for step in (("import", "contacts", EXAMPLES / "contacts.csv"),
                 ("import", "orders", EXAMPLES / "orders.csv"), ("clean",),
                 ("audit", "--format", "json")):
        lite(*step)
    merges = lite.rows("dedupe", "--merge")
    merge_id = merges[0]["merge_id"]
    copied = lite("copy", lite.db, pg_url)
    assert copied.exit_code == 0, copied.output
    assert "content hash" in copied.stderr and "merges 43" in copied.stderr
    server = Cli(pg_url)
    for table in ("contacts", "orders"):
        assert server("export", table).stdout == lite("export", table).stdout
    assert server.rows("log") == lite.rows("log")
    assert server("unmerge", merge_id).exit_code == 0  # unmerge works on the copy
    back = Cli(tmp_path / "back.db")
    assert server("copy", pg_url, back.db).exit_code == 0
    assert back("export", "contacts").stdout == server("export", "contacts").stdout
    again = server("copy", lite.db, pg_url)
    assert again.exit_code == ExitCode.USAGE and "already holds data" in again.stderr


def test_backup_of_a_team_store_is_an_sqlite_snapshot(tmp_path: Path, pg_url: str) -> None:
    server = Cli(pg_url)
    server("import", "contacts", EXAMPLES / "contacts.csv")
    target = tmp_path / "snap.db"
    assert server("backup", target).exit_code == 0
    assert Cli(target)("export", "contacts").stdout == server("export", "contacts").stdout
    assert not Path(f"{target}-wal").exists()


def test_concurrent_importers_and_a_tag_lose_nothing(pg_url: str, tmp_path: Path) -> None:
    """Four importers of different files and a tag at once: every row and operation kept."""
    Cli(pg_url)("import", "orders", EXAMPLES / "orders.csv")
    files = []
    for part in range(4):
        rows = [["external_id", "email"]] + [[f"P{part}-{i}", f"p{part}.{i}@example.com"]
                                             for i in range(400)]
        files.append(tmp_path / f"p{part}.csv")
        files[-1].write_bytes(make_csv(rows))
    runs = [[*CUSTDATA, "--db", pg_url, "--wait", "120", "import", "contacts", f]
            for f in files]
    runs.append([*CUSTDATA, "--db", pg_url, "--wait", "120", "tag", "--as-of", "2026-11-01"])
    procs = [subprocess.Popen(r, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for r in runs]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    cli = Cli(pg_url)
    assert cli.count("contacts") == 1600
    assert cli.count("oplog") == 6  # every command committed once, none lost
    assert any(" tag " in f" {r['command']} " for r in cli.rows("log"))


def test_a_viewer_sees_only_their_customers_in_every_table(pg_url: str, write_csv) -> None:
    """--owners: history, merges, orders and their lines, the find index, the operation log
    and rejects show a viewer nothing of other reps' customers; find works without the
    right to write its index (it indexes for its own run)."""
    admin = Cli(pg_url)
    admin("import", "contacts", write_csv("c.csv", [
        *TEAM_ROWS, ["T4", "Bob's customer", "b1@example.com", "bob"]]))
    admin("import", "contacts", write_csv("u.csv", [["external_id", "name"],
                                                    ["T3", "Bob's renamed customer"]]))
    admin("import", "orders", write_csv("o.csv", [
        ["order_id", "customer_id", "order_date", "amount", "status"],
        ["O1", "T1", "2026-01-02", "10", "paid"], ["O3", "T3", "2026-01-03", "30", "paid"],
        ["bad", "T3", "not a date", "x", "paid"]]))
    assert admin("dedupe", "--merge").exit_code == 0  # T3 and T4: one of bob's customers
    assert admin("find", "customer").exit_code == 0  # the index is made, for every contact
    admin("import", "contacts", write_csv("n.csv", [["external_id", "name", "owner"],
                                                    ["T5", "Alice's newest", "alice"],
                                                    ["", "Nobody", "bob"]]))  # a reject
    assert admin("team", "init", "--owners").exit_code == 0
    assert admin("team", "grant", "alice", "viewer").exit_code == 0
    bobs = [r[0] for r in admin.sql("SELECT id FROM contacts WHERE owner = 'bob'")]
    seen = {table: admin.count(table) for table in ("history", "merges", "orders",
                                                    "order_lines", "find_index", "oplog",
                                                    "rejects")}
    assert min(seen.values()) > 0, seen  # admin sees rows of every kind
    alice = as_user(pg_url, "alice")
    for table, column in (("history", "contact_id"), ("merges", "survivor_id"),
                          ("orders", "contact_id"), ("find_index", "contact_id"),
                          ("rfm_cells", "contact_id"), ("find_dirty", "contact_id")):
        assert alice.sql(f"SELECT count(*) FROM {table} WHERE {column} = ANY(?)",
                         bobs) == [(0,)], table
    assert alice.sql("SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_pk "
                     "WHERE o.order_id = 'O3'") == [(0,)]
    assert alice.count("oplog") == 0 and alice.count("rejects") == 0
    assert alice("history", "T3").exit_code == ExitCode.USAGE
    assert alice("history", "T1").exit_code == 0
    assert alice.rows("log") == [] and alice.rows("export", "rejects") == []
    found = alice("find", "customer", "--format", "json")
    assert found.exit_code == 0, found.output
    assert "Bob" not in found.stdout and "T1" in found.stdout
    newest = alice("find", "newest", "--format", "json")
    assert newest.exit_code == 0 and "T5" in newest.stdout  # indexed for this run only
    assert admin.sql("SELECT count(*) FROM find_dirty") == [(1,)]  # nothing written


def test_an_admin_can_grant_and_make_logins_or_is_told_what_is_missing(pg_url: str) -> None:
    """team init and team grant give an admin what the server asks for: ADMIN OPTION on the
    three roles and CREATEROLE; without CREATEROLE, a new login is exit 3 naming it."""
    admin = Cli(pg_url)
    assert admin("team", "init").exit_code == 0
    assert admin("team", "grant", "ada", "admin").exit_code == 0
    ada = as_user(pg_url, "ada")
    for user, role in (("bea", "viewer"), ("carl", "editor"), ("cleo", "admin")):
        done = ada("team", "grant", user, role)  # new logins, made by a non-superuser
        assert done.exit_code == 0, done.output
    assert ada("team", "revoke", "bea", "viewer").exit_code == 0
    cleo = as_user(pg_url, "cleo")
    assert cleo("team", "grant", "bea", "editor").exit_code == 0  # an admin made by an admin
    admin.sql('ALTER ROLE ada NOCREATEROLE')
    denied = ada("team", "grant", "dora", "viewer")
    assert denied.exit_code == ExitCode.STORE
    assert "CREATEROLE" in denied.stderr and "ada" in denied.stderr
    admin.sql("CREATE ROLE dora LOGIN")
    assert ada("team", "grant", "dora", "viewer").exit_code == 0  # an existing login
    assert {(r["user"], r["role"]) for r in admin.rows("team", "members")} >= {
        ("bea", "editor"), ("carl", "editor"), ("cleo", "admin"), ("dora", "viewer")}
