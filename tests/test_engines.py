"""The same commands on both engines (SQLite file, PostgreSQL team store): same output,
same exit codes. The PostgreSQL side runs on the throwaway test server (tests/pg_server.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from custdata.errors import ExitCode
from custdata.store.oplog import os_user
from tests.conftest import CONTACT_ROWS, EXAMPLES, Cli
from tests.pg_server import SUPERUSER

_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
AS_OF = "2026-11-01"

FLOW: list[tuple] = [
    ("init", "--region", "CN"),
    ("import", "contacts", EXAMPLES / "contacts.csv", "--source", "demo"),
    ("import", "contacts", EXAMPLES / "contacts_excel_gb18030.csv"),
    ("import", "orders", EXAMPLES / "orders.csv"),
    ("import", "interactions", EXAMPLES / "interactions.csv"),
    ("import", "orders", EXAMPLES / "orders.csv"),  # again: every row unchanged
    ("clean",),
    ("validate", "--format", "csv"),
    ("tag", "--as-of", AS_OF),
    ("report", "rfm", "--as-of", AS_OF, "--format", "csv"),
    ("report", "summary", "--format", "csv"),
    ("report", "churn", "--as-of", AS_OF, "--top", "10", "--format", "csv"),
    ("audit", "--format", "csv", "--as-of", AS_OF),
    ("show", "C0000001", "--format", "json"),
    ("history", "C0000001", "--format", "csv"),
    ("export", "contacts"),
    ("export", "orders"),
    ("export", "interactions"),
    ("export", "contacts", "--where", "city=上海", "--format", "json"),
    ("dedupe", "--format", "csv"),
    ("dedupe", "--merge", "--format", "csv"),
    ("export", "contacts"),
    ("report", "summary", "--format", "csv"),
    ("log", "--format", "csv"),
]


def _same(text: str, cli: Cli) -> str:
    """Output with what differs by run, not by engine, taken out: times, the user, paths."""
    text = _STAMP.sub("<time>", text)
    user = os_user() if cli.engine == "sqlite" else SUPERUSER  # the OS user, the login
    return text.replace(str(cli.db), "<store>").replace(f",{user},", ",<user>,")


def _run_flow(cli: Cli) -> list[tuple[int, str]]:
    results = []
    for step in FLOW:
        if step[0] == "audit" and cli.engine == "sqlite":
            cli.db.chmod(0o600)  # the file check has nothing to say on either engine
        result = cli(*step)
        out = result.stdout
        if step[0] == "log":  # the command lines name the store
            out = out.replace(f"--db {cli.db} ", "")
        results.append((result.exit_code, _same(out, cli)))
    return results


@pytest.mark.postgres
def test_the_same_commands_give_the_same_output_on_both_engines(tmp_path: Path,
                                                               pg_url: str) -> None:
    lite = _run_flow(Cli(tmp_path / "crm.db"))
    server = _run_flow(Cli(pg_url))
    for step, mine, theirs in zip(FLOW, lite, server):
        assert theirs == mine, step[:3]
    assert all(code == 0 for code, _ in server)


def _merged(cli: Cli) -> list[str]:
    rows = cli.rows("dedupe", "--merge")
    return list(dict.fromkeys(r["merge_id"] for r in rows if r.get("merge_id")))


def test_import_export_show_on_each_engine(ecli: Cli, write_csv) -> None:
    assert ecli("init").exit_code == 0
    result = ecli("import", "contacts", write_csv("c.csv", CONTACT_ROWS))
    assert result.exit_code == 0 and "inserted 3" in result.stderr
    assert ecli.count("contacts") == 3
    rows = ecli.rows("export", "contacts")
    assert [r["external_id"] for r in rows] == ["C1", "C2", "C3"]
    assert "Bob Smith" in ecli("show", "C2", "--format", "json").stdout
    log = ecli.rows("log")
    assert len(log) == 1 and "import contacts" in log[0]["command"]


def test_merge_then_unmerge_is_byte_identical_on_each_engine(ecli: Cli) -> None:
    ecli("import", "contacts", EXAMPLES / "contacts.csv")
    ecli("import", "orders", EXAMPLES / "orders.csv")
    ecli("clean")
    before = ecli("export", "contacts").stdout
    orders_before = ecli("export", "orders").stdout
    merge_ids = _merged(ecli)
    assert merge_ids
    assert ecli("export", "contacts").stdout != before
    for merge_id in reversed(merge_ids):
        assert ecli("unmerge", merge_id).exit_code == 0
    assert ecli("export", "contacts").stdout == before
    assert ecli("export", "orders").stdout == orders_before
    assert ecli("unmerge", merge_ids[0]).exit_code == ExitCode.USAGE  # undone already


def test_tag_and_reports_on_each_engine(ecli: Cli) -> None:
    ecli("import", "contacts", EXAMPLES / "contacts.csv")
    ecli("import", "orders", EXAMPLES / "orders.csv")
    assert ecli("tag", "--as-of", AS_OF).exit_code == 0
    stages = ecli.sql("SELECT count(*) FROM contacts WHERE stage IS NOT NULL")[0][0]
    assert stages == ecli.count("contacts")
    rfm = ecli.rows("report", "rfm", "--as-of", AS_OF)
    assert sum(r["customers"] for r in rfm) > 100
    audit = json.loads(ecli("audit", "--format", "json", "--as-of", AS_OF).stdout)
    assert 0 < audit["score"] <= 100


def test_unknown_contact_and_bad_option_exit_codes_on_each_engine(ecli: Cli) -> None:
    ecli("import", "contacts", EXAMPLES / "contacts.csv")
    assert ecli("show", "nobody@nowhere.example").exit_code == ExitCode.USAGE
    assert ecli("export", "contacts", "--where", "nosuch=1").exit_code == ExitCode.USAGE
    assert ecli("unmerge", "m-nope").exit_code == ExitCode.USAGE
