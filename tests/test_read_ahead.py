"""Reading ahead in a child process (parallel.ReadAhead) changes nothing a user can see.

`import` parses a big file in a forked child while it writes; these tests force that
path on small files and compare it with the in-process one: same store, same counts,
same rejects, same file hash, and errors raised where they happened.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import custdata.api.data as data_cli
from custdata.errors import InputFileError
from custdata.parallel import ReadAhead
from tests.conftest import Cli, make_csv


def _numbers(n: int, fail_at: int | None = None):
    for i in range(n):
        if i == fail_at:
            raise InputFileError(f"line {i} is broken")
        yield i


def test_items_arrive_in_order_with_the_trailer() -> None:
    with ReadAhead(_numbers(10_001), batch=64, trailer=lambda: "done") as ahead:
        assert list(ahead) == list(range(10_001))
        assert ahead.trailer == "done"


def test_an_error_in_the_child_is_raised_after_the_items_before_it() -> None:
    got = []
    with ReadAhead(_numbers(500, fail_at=300), batch=7) as ahead:
        with pytest.raises(InputFileError, match="line 300 is broken"):
            for item in ahead:
                got.append(item)
    assert got == list(range(294))  # whole batches only: 42 batches of 7


def test_an_empty_source_ends_at_once() -> None:
    with ReadAhead(iter(()), trailer=lambda: 7) as ahead:
        assert list(ahead) == [] and ahead.trailer == 7


def test_close_stops_the_child_mid_stream() -> None:
    ahead = ReadAhead(iter(range(10**9)), batch=10)
    assert next(ahead) == 0
    ahead.close()
    with pytest.raises(ProcessLookupError):  # stopped and reaped
        os.kill(ahead.pid, 0)
    with pytest.raises(StopIteration):
        next(ahead)


SCRIPT = """
import sys, time
from custdata.parallel import ReadAhead
def slow():
    yield 1
    time.sleep(60)
    yield 2
ahead = ReadAhead(slow(), batch=1)
print(ahead.pid, flush=True)
next(ahead)
time.sleep(60)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").exists(), reason="needs /proc (Linux)")
def test_the_child_exits_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(child, 0)
            with open(f"/proc/{child}/stat") as fh:
                if fh.read().split()[2] == "Z":
                    break
        except (ProcessLookupError, FileNotFoundError):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the read-ahead child outlived its killed parent")


def _contacts(n: int) -> bytes:
    rows = [["external_id", "name", "email", "phone", "city", "note"]]
    for i in range(n):
        rows.append([f"C{i}", f"客户{i}", f"user{i % (n // 2)}@qq.com", f"1380013{i % 9000:04d}",
                     "上海", "x" * (i % 7)])
    rows.append(["", "", "", "", "", "no key"])  # a reject
    rows.append(["C-short", "too few cells"])      # a reject
    return make_csv(rows)


@pytest.fixture
def forced(monkeypatch):
    """Read ahead on any file, whatever the load."""
    monkeypatch.setattr(data_cli, "READ_AHEAD_MIN_BYTES", 0)
    monkeypatch.setattr(data_cli, "default_workers", lambda: 2)


def _snapshot(cli: Cli) -> list:
    return [cli.sql("SELECT external_id, name, email, phone, email_key, phone_key, extra "
                    "FROM contacts ORDER BY id"),
            cli.sql("SELECT line, reason FROM rejects ORDER BY line")]


def test_import_reads_ahead_with_the_same_result(tmp_path, monkeypatch, forced) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(_contacts(5_000))
    ahead, plain = Cli(tmp_path / "ahead.db"), Cli(tmp_path / "plain.db")
    started = []
    real = data_cli.ReadAhead
    monkeypatch.setattr(data_cli, "ReadAhead", lambda *a, **k: started.append(1) or real(*a, **k))
    first = ahead("import", "contacts", path)
    assert started, "the read-ahead path was not taken"
    monkeypatch.setattr(data_cli, "READ_AHEAD_MIN_BYTES", 10**12)
    second = plain("import", "contacts", path)
    assert first.exit_code == second.exit_code == 0
    assert "read 5002, inserted 5000, updated 0, unchanged 0, rejected 2" in first.stderr
    assert first.stderr.splitlines()[-1] == second.stderr.splitlines()[-1]
    assert _snapshot(ahead) == _snapshot(plain)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert ahead.sql("SELECT input_sha256 FROM oplog WHERE command LIKE '%import%'") \
        == [(digest,)]


def test_read_ahead_orders_and_strict_rollback(tmp_path, forced) -> None:
    cli = Cli(tmp_path / "crm.db")
    contacts = tmp_path / "contacts.csv"
    contacts.write_bytes(_contacts(200))
    assert cli("import", "contacts", contacts).exit_code == 0
    orders = tmp_path / "orders.csv"
    rows = [["order_id", "customer_id", "order_date", "amount"]]
    rows += [[f"O{i}", f"C{i % 200}", f"2026-0{1 + i % 9}-1{i % 10}", f"{i}.50"] for i in range(3000)]
    rows.append(["O-x", "NOBODY", "2026-01-01", "1"])
    orders.write_bytes(make_csv(rows))
    strict = cli("import", "orders", orders, "--strict")
    assert strict.exit_code == 1 and cli.count("orders") == 0
    done = cli("import", "orders", orders)
    assert "read 3001, inserted 3000, updated 0, unchanged 0, rejected 1" in done.stderr
    assert cli.sql("SELECT sum(amount_value) FROM orders") == [(sum(i + 0.5 for i in range(3000)),)]


@pytest.mark.slow
def test_a_pipe_into_import_gives_the_same_store_as_the_file(tmp_path) -> None:
    # Real processes: `cat contacts.csv | custdata import contacts -` (read ahead when a
    # core is idle) and `custdata import contacts contacts.csv` (a small file: in-process).
    path = tmp_path / "contacts.csv"
    path.write_bytes(_contacts(3_000))
    cmd = [sys.executable, "-m", "custdata", "--quiet"]
    piped = subprocess.run(f"cat '{path}' | {' '.join(cmd)} --db '{tmp_path / 'a.db'}' "
                           "import contacts -", shell=True, capture_output=True, text=True)
    direct = subprocess.run([*cmd, "--db", str(tmp_path / "b.db"), "import", "contacts",
                             str(path)], capture_output=True, text=True)
    assert piped.returncode == direct.returncode == 0, piped.stderr + direct.stderr
    assert "read 3002, inserted 3000, updated 0, unchanged 0, rejected 2" in piped.stderr
    assert piped.stderr == direct.stderr
    assert _snapshot(Cli(tmp_path / "a.db")) == _snapshot(Cli(tmp_path / "b.db"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert Cli(tmp_path / "a.db").sql("SELECT input_sha256 FROM oplog") == [(digest,)]


def test_import_reads_in_process_when_it_cannot_fork(tmp_path, monkeypatch, forced) -> None:
    def no_fork() -> int:
        raise OSError(11, "Resource temporarily unavailable")
    monkeypatch.setattr(os, "fork", no_fork)
    path = tmp_path / "contacts.csv"
    path.write_bytes(_contacts(500))
    cli = Cli(tmp_path / "crm.db")
    done = cli("import", "contacts", path)
    assert done.exit_code == 0
    assert "read 502, inserted 500, updated 0, unchanged 0, rejected 2" in done.stderr


def _indexes(cli: Cli, table: str) -> list[tuple]:
    return cli.sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                   "AND sql IS NOT NULL ORDER BY name", table)


def test_a_big_load_rebuilds_the_indexes_it_dropped(tmp_path, monkeypatch) -> None:
    # A load past DEFER_AFTER rows drops the orders' secondary indexes and builds them
    # again before the commit; a load that fails (--strict) rolls the drop back too.
    import custdata.store.imports as imports  # DEFER_AFTER: the store decides when to drop
    from custdata.store.database import SQLiteDatabase
    monkeypatch.setattr(imports, "DEFER_AFTER", 100)
    dropped = []
    real = SQLiteDatabase.drop_indexes

    def spy(self, table, columns=None):
        dropped.append(table)
        return real(self, table, columns)
    monkeypatch.setattr(SQLiteDatabase, "drop_indexes", spy)
    cli = Cli(tmp_path / "crm.db")
    contacts = tmp_path / "contacts.csv"
    contacts.write_bytes(_contacts(200))
    assert cli("import", "contacts", contacts).exit_code == 0
    before = _indexes(cli, "orders")
    assert "orders_rfm" in {name for name, _ in before}
    orders = tmp_path / "orders.csv"
    rows = [["order_id", "customer_id", "order_date", "amount"]]
    rows += [[f"O{i}", f"C{i % 200}", f"2026-0{1 + i % 9}-1{i % 10}", "10"] for i in range(3000)]
    orders.write_bytes(make_csv(rows + [["O-x", "NOBODY", "2026-01-01", "1"]]))
    assert cli("import", "orders", orders, "--strict").exit_code == 1
    assert _indexes(cli, "orders") == before and cli.count("orders") == 0
    assert cli("import", "orders", orders).exit_code == 0
    assert dropped == ["orders", "orders"]  # both loads went past DEFER_AFTER
    assert _indexes(cli, "orders") == before
    assert cli.sql("PRAGMA integrity_check") == [("ok",)]
    plan = " ".join(r[-1] for r in cli.sql(
        "EXPLAIN QUERY PLAN SELECT day FROM orders WHERE contact_id = 5"))
    assert "INDEX orders_" in plan


def test_import_clean_reads_ahead_with_the_same_result(tmp_path, monkeypatch, forced) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(_contacts(2_000))
    ahead, plain = Cli(tmp_path / "ahead.db"), Cli(tmp_path / "plain.db")
    first = ahead("import", "contacts", "--clean", path)
    monkeypatch.setattr(data_cli, "READ_AHEAD_MIN_BYTES", 10**12)
    second = plain("import", "contacts", "--clean", path)
    assert first.exit_code == second.exit_code == 0
    assert first.stderr.splitlines()[-1] == second.stderr.splitlines()[-1]
    assert _snapshot(ahead) == _snapshot(plain)
    assert ahead.sql("SELECT phone FROM contacts WHERE external_id = 'C7'") == [("+8613800130007",)]
    again = ahead("import", "contacts", "--clean", path)  # still idempotent
    assert "inserted 0, updated 0, unchanged 2000" in again.stderr


def test_read_ahead_keeps_encodings_rejects_files_and_dry_runs(tmp_path, monkeypatch,
                                                               forced) -> None:
    # A GB18030 export with one undecodable row, through the forked reader and in process:
    # the same values (as read), the same rejects file, the same dry-run counts.
    rows = [["客户编号", "姓名", "手机", "邮箱"]]
    rows += [[f"K{i}", f"王{i}", f"13900{i:06d}", f"w{i}@163.com"] for i in range(300)]
    data = make_csv(rows, encoding="gb18030")
    data += b"K-bad,\xff\xfe\xff,13900999999,x@163.com\r\n"
    path = tmp_path / "gbk.csv"
    path.write_bytes(data)
    results = {}
    for label, min_bytes in (("ahead", 0), ("plain", 10**12)):
        monkeypatch.setattr(data_cli, "READ_AHEAD_MIN_BYTES", min_bytes)
        cli = Cli(tmp_path / f"{label}.db")
        dry = cli("import", "contacts", path, "--encoding", "gb18030", "--dry-run")
        done = cli("import", "contacts", path, "--encoding", "gb18030",
                   "--rejects", tmp_path / f"{label}.rej.csv")
        results[label] = (dry.stderr.splitlines()[-1], done.stderr.splitlines()[-1],
                          cli.sql("SELECT external_id, name, phone FROM contacts ORDER BY id"),
                          (tmp_path / f"{label}.rej.csv").read_bytes())
    assert results["ahead"] == results["plain"]
    assert results["ahead"][1] == ("read 301, inserted 300, updated 0, unchanged 0, rejected 1, "
                                   "skipped 0; encoding gb18030")
    assert results["ahead"][2][0] == ("K0", "王0", "13900000000")
    assert b"undecodable" in results["ahead"][3]


def test_an_import_leaves_the_cycle_collector_as_it_found_it(tmp_path, forced) -> None:
    # A Python caller's process keeps its own collector settings after an import,
    # whether the import succeeded or failed (bulk_gc is undone either way).
    import gc

    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    path = tmp_path / "contacts.csv"
    path.write_bytes(_contacts(300))
    cli = Cli(tmp_path / "crm.db")
    assert cli("import", "contacts", path, "--strict").exit_code == 1
    assert cli("import", "contacts", path).exit_code == 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen
