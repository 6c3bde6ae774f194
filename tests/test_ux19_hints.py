"""Issue 19: every exit code and hint as SPEC.md sections 1 and 4 say; echoed input cut
to 200 characters; the key file permission warning wherever a key is read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import CONTACT_ROWS, Cli

ORDERS_TWO_CURRENCIES = [
    ["order_id", "customer_id", "order_date", "amount", "currency"],
    ["O1", "C1", "2026-01-05", "120", "CNY"],
    ["O2", "C2", "2026-02-05", "80", "USD"],
    ["O3", "C1", "2026-03-05", "60", "CNY"],
]


@pytest.fixture
def crm(cli: Cli, write_csv) -> Cli:
    assert cli("import", "contacts", write_csv("c.csv", CONTACT_ROWS)).exit_code == 0
    return cli


@pytest.fixture
def mixed(crm: Cli, write_csv) -> Cli:
    assert crm("import", "orders", write_csv("o.csv", ORDERS_TWO_CURRENCIES)).exit_code == 0
    return crm


@pytest.mark.parametrize("args", [("tag", "--as-of", "2026-10-31"),
                                  ("report", "churn", "--as-of", "2026-10-31")])
def test_commands_without_currency_never_suggest_it(mixed: Cli, args: tuple) -> None:
    result = mixed(*args)
    assert result.exit_code == 2
    assert "--currency" not in result.stderr and "one currency alone" not in result.stderr
    assert "rates" in result.stderr  # what does help: the [rfm] rates


def test_report_rfm_still_offers_one_currency(mixed: Cli) -> None:
    result = mixed("report", "rfm", "--as-of", "2026-10-31")
    assert result.exit_code == 2 and "--currency CNY" in result.stderr
    assert mixed("report", "rfm", "--as-of", "2026-10-31", "--currency", "CNY",
                 "-f", "csv").exit_code == 0


@pytest.mark.parametrize("region", ["XX", "ZZ", "china", "1", ""])
def test_init_rejects_an_unknown_region(cli: Cli, region: str) -> None:
    result = cli("init", "--region", region)
    assert result.exit_code == 2, result.output
    assert "not a phone region" in result.stderr and "CN, US or GB" in result.stderr
    assert not (cli.db.parent / "custdata.toml").exists()


def test_import_rejects_an_unknown_region(cli: Cli, write_csv) -> None:
    result = cli("import", "contacts", write_csv("c.csv", CONTACT_ROWS), "--region", "XX")
    assert result.exit_code == 2 and "--region CC" in result.stderr
    assert cli.count("contacts") == 0


@pytest.mark.parametrize("value", ["7x", "yesterday-ish", "d7"])
def test_changed_since_names_the_accepted_forms(crm: Cli, value: str) -> None:
    result = crm("export", "contacts", "--changed-since", value)
    assert result.exit_code == 2
    assert "7d" in result.stderr and "YYYY-MM-DD" in result.stderr


# ---- SPEC section 4, rule by rule ------------------------------------------------------

@pytest.mark.parametrize("command", ["show", "history", "forget"])
def test_a_contact_that_matches_nothing_is_exit_2(crm: Cli, command: str) -> None:
    extra = ("--yes",) if command == "forget" else ()
    result = crm(command, "nobody@nowhere.example", *extra)
    assert result.exit_code == 2 and "No contact matches" in result.stderr


def test_a_contact_that_matches_several_lists_them(crm: Cli, write_csv) -> None:
    crm("import", "contacts", write_csv("d.csv", [["external_id", "name", "email"],
                                                  ["13800138000", "Other", "o@x.com"]]))
    result = crm("show", "13800138000")  # C1's phone and another contact's external id
    assert result.exit_code == 2 and "2 contacts match" in result.stderr
    assert "id:1" in result.stderr


def test_a_wrong_key_is_exit_2_and_the_store_untouched(crm: Cli, tmp_path: Path) -> None:
    key, other = tmp_path / "k.key", tmp_path / "other.key"
    crm("keygen", "--key-file", key)
    crm("keygen", "--key-file", other)
    assert crm("--key-file", key, "encrypt").exit_code == 0
    before = crm.db.read_bytes()
    for args in (("show", "ext:C1"), ("clean",), ("export", "contacts")):
        result = crm("--key-file", other, *args)
        assert result.exit_code == 2, (args, result.output)
    assert crm.db.read_bytes() == before


@pytest.mark.parametrize("threshold", ["-5", "0", "80.5", "150"])
def test_fail_under_takes_any_number(crm: Cli, threshold: str) -> None:
    result = crm("audit", "--fail-under", threshold, "-f", "json")
    assert result.exit_code in (0, 1), result.output


def test_an_undecodable_header_is_exit_2(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xff\xfe\x00\xd8name\n")
    result = cli("import", "contacts", path, "--encoding", "utf-8")
    assert result.exit_code == 2 and cli.count("contacts") == 0


def test_an_unknown_merge_id_is_exit_2_and_names_where_ids_come_from(crm: Cli) -> None:
    result = crm("unmerge", "m999-1")
    assert result.exit_code == 2 and "dedupe --merge" in result.stderr


# ---- echoed input ------------------------------------------------------------------------

def test_an_unknown_header_of_5_mb_is_cut(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("a" * 5_000_000 + ",b\n1,2\n")
    result = cli("import", "contacts", path)
    assert result.exit_code == 2
    assert len(result.stderr) < 1000 and "…" in result.stderr


@pytest.mark.parametrize("args", [
    ("import", "contacts", "FILE", "--map", "z" * 5000 + "=name"),
    ("import", "contacts", "FILE", "--map", "name=" + "f" * 5000),
    ("export", "contacts", "--where", "q" * 5000 + "=1"),
    ("export", "contacts", "--where", "city"),
    ("init", "--region", "r" * 5000),
    ("show", "x" * 5000),
    ("unmerge", "m" * 5000),
    ("export", "contacts", "--format", "x" * 5000),
    ("tag", "--" + "n" * 5000),
])
def test_long_input_echoed_in_a_message_is_cut_to_200(crm: Cli, write_csv, args: tuple) -> None:
    path = write_csv("c.csv", CONTACT_ROWS)
    result = crm(*[str(path) if a == "FILE" else a for a in args])
    assert result.exit_code == 2, result.output
    longest = max(len(run) for run in result.stderr.replace("'", " ").split())
    assert longest <= 201, result.stderr[:400]
    assert len(result.stderr) < 2100


# ---- the key file warning ----------------------------------------------------------------

@pytest.mark.parametrize("args", [("show", "ext:C1"), ("export", "contacts"),
                                  ("import", "contacts", "FILE"), ("history", "ext:C1"),
                                  ("validate",), ("clean", "--dry-run"), ("dedupe",),
                                  ("report", "summary")])
def test_a_shared_key_file_is_warned_about_wherever_the_key_is_read(
        crm: Cli, write_csv, tmp_path: Path, args: tuple) -> None:
    key = tmp_path / "k.key"
    crm("keygen", "--key-file", key)
    assert crm("--key-file", key, "encrypt").exit_code == 0
    os.chmod(key, 0o644)
    path = write_csv("again.csv", CONTACT_ROWS)
    result = crm("--key-file", key, *[str(path) if a == "FILE" else a for a in args])
    assert result.exit_code in (0, 1), result.output
    assert f"chmod 600 {key}" in result.stderr
