"""Issue 19: Ctrl-C at a confirmation prompt exits 130 (real process, real terminal), and
the operation log records every command's whole command line without secrets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import CONTACT_ROWS, Cli
from tests.test_ux19_progress import _env


def _at_prompt_then(folder: Path, sig: int, *args: str) -> tuple[int, str]:
    """Run custdata with a terminal on stdin and stderr, send `sig` once it asks; (code, text)."""
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "custdata", "--db", str(folder / "crm.db"),
                             *args], stdin=slave, stdout=subprocess.DEVNULL, stderr=slave,
                            cwd=folder, env=_env(), start_new_session=True)
    os.close(slave)
    shown, deadline, sent = b"", time.monotonic() + 60, False
    while time.monotonic() < deadline:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        shown += data
        if not sent and b"cannot be undone" in shown:
            time.sleep(0.2)
            os.kill(proc.pid, sig)
            sent = True
    os.close(master)
    return proc.wait(timeout=60), shown.decode("utf-8", "replace")


def test_ctrl_c_at_the_forget_prompt_exits_130(cli: Cli, write_csv, tmp_path: Path) -> None:
    assert cli("import", "contacts", write_csv("c.csv", CONTACT_ROWS)).exit_code == 0
    before = cli.sql("SELECT * FROM contacts ORDER BY id")
    code, shown = _at_prompt_then(tmp_path, signal.SIGINT, "forget", "ext:C1")
    assert code == 130, shown
    assert "Aborted" not in shown and "interrupted" in shown
    assert cli.sql("SELECT * FROM contacts ORDER BY id") == before


def test_end_of_input_at_the_prompt_erases_nothing(cli: Cli, write_csv, tmp_path: Path) -> None:
    assert cli("import", "contacts", write_csv("c.csv", CONTACT_ROWS)).exit_code == 0
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "custdata", "--db", str(cli.db), "forget",
                             "ext:C1"], stdin=slave, stdout=subprocess.DEVNULL, stderr=slave,
                            cwd=tmp_path, env=_env())
    os.close(slave)
    shown = b""
    while b"cannot be undone" not in shown:
        shown += os.read(master, 4096)
    os.write(master, b"\x04")  # Ctrl-D: end of input
    code = proc.wait(timeout=60)
    os.close(master)
    assert code == 1  # not confirmed: nothing erased (the check failed)
    assert cli.sql("SELECT name FROM contacts WHERE external_id = 'C1'") == [("张伟",)]


def test_the_log_records_the_whole_command_line(cli: Cli, write_csv) -> None:
    cli("import", "contacts", write_csv("c.csv", CONTACT_ROWS))
    cli("import", "orders", write_csv("o.csv", [["order_id", "customer_id", "order_date", "amount"],
                                                  ["O1", "C1", "2026-01-05", "120"]]))
    assert cli("tag", "--as-of", "2026-10-31").exit_code == 0
    assert cli("clean", "--region", "CN").exit_code == 0
    commands = [r[0] for r in cli.sql("SELECT command FROM oplog ORDER BY id")]
    assert commands[2].endswith("tag --as-of 2026-10-31")
    assert commands[3].endswith("clean --region CN")
    assert all(c.startswith(f"custdata --db {cli.db}") for c in commands)


def test_the_log_never_keeps_secrets(cli: Cli, write_csv, tmp_path: Path) -> None:
    key = "x" * 10 + "A1b2C3d4E5f6G7h8I9j0K1l2M3n"  # 37... padded below to a key's shape
    key = (key + "Zz9_-Yy8")[:43]
    url = "https://sales:hunter2@crm.example.com/export"
    result = cli("import", "contacts", write_csv("c.csv", CONTACT_ROWS), "--source", url)
    assert result.exit_code == 0, result.output
    cli("import", "contacts", write_csv("d.csv", CONTACT_ROWS), f"--source={key}")
    keyfile = tmp_path / "k.key"
    assert cli("keygen", "--key-file", keyfile).exit_code == 0
    assert cli("--key-file", keyfile, "encrypt").exit_code == 0
    logged = " ".join(r[0] for r in cli.sql("SELECT command FROM oplog"))
    assert "hunter2" not in logged and "https://sales:***@crm.example.com/export" in logged
    assert key not in logged and "--source=***" in logged
    assert str(keyfile) not in logged and keyfile.read_text().strip() not in logged
