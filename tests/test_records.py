"""show, history, log, init, config show, global options, help."""

from __future__ import annotations

import json

import pytest

from custdata.cli import app
from custdata.errors import ExitCode
from tests.conftest import CONTACT_ROWS


@pytest.fixture
def stocked(ecli, write_csv):
    """Four contacts, two orders and an interaction, on each engine (sqlite, postgres)."""
    cli = ecli
    cli("import", "contacts", write_csv("c.csv", [*CONTACT_ROWS, ["C9", "张伟", "", "13800138000", ""]]))
    cli("import", "orders", write_csv("o.csv", [["order_id", "customer_id", "order_date", "amount"],
                                                ["O1", "C2", "2024-01-05", "100"],
                                                ["O2", "C2", "2024-03-05", "-30"]]))
    cli("import", "interactions", write_csv("i.csv", [["customer_id", "at", "channel", "satisfaction"],
                                                      ["C2", "2024-03-06", "call", "2"]]))
    return cli


def test_show_finds_a_contact_by_any_identifier(stocked) -> None:
    for ref in ("2", "C2", "ext:C2", "BOB@example.com", "id:2", "+16502530000"):
        result = stocked("show", ref, "--format", "json")
        assert result.exit_code == 0, (ref, result.output)
        card = json.loads(result.stdout)
        assert card["external_id"] == "C2"
        assert (card["orders"], card["paid_orders"], card["net_amount"]) == (2, 1, 70.0)
        assert card["last_order"] == "2024-01-05"
        assert [o["order_id"] for o in card["recent_orders"]] == ["O2", "O1"]
        assert card["recent_interactions"][0]["channel"] == "call"


def test_show_table_view_is_readable(stocked) -> None:
    result = stocked("show", "C2", "--format", "table")
    assert result.exit_code == 0 and "Bob Smith" in result.stdout and "Last orders" in result.stdout


def test_show_unknown_contact_is_exit_2(stocked) -> None:
    result = stocked("show", "nobody@nowhere.com")
    assert result.exit_code == ExitCode.USAGE and "No contact matches" in result.stderr


def test_show_ambiguous_contact_lists_candidates_and_exits_2(stocked) -> None:
    result = stocked("show", "13800138000")
    assert result.exit_code == ExitCode.USAGE
    assert "2 contacts match" in result.stderr and "id:1" in result.stderr and "id:4" in result.stderr


def test_history_lists_changes_in_order(stocked, write_csv) -> None:
    stocked("import", "contacts", write_csv("u.csv", [["external_id", "city"], ["C1", "杭州"]]))
    stocked("import", "contacts", write_csv("v.csv", [["external_id", "city"], ["C1", "苏州"]]))
    rows = stocked.rows("history", "C1")
    assert [(r["field"], r["old"], r["new"]) for r in rows] == [("city", "上海", "杭州"),
                                                               ("city", "杭州", "苏州")]
    assert all(r["operation"] == "import" for r in rows)
    assert stocked.rows("history", "C3") == []


def test_log_since_filters(stocked) -> None:
    assert len(stocked.rows("log")) == 3
    assert stocked.rows("log", "--since", "2999-01-01") == []


def test_init_writes_a_commented_config_and_never_overwrites(ecli, tmp_path, monkeypatch) -> None:
    cli = ecli
    monkeypatch.chdir(tmp_path)  # a team store's config is in the working folder
    result = cli("init", "--region", "us")
    assert result.exit_code == 0, result.output
    config = (cli.db.parent if cli.engine == "sqlite" else tmp_path) / "custdata.toml"
    text = config.read_text(encoding="utf-8")
    assert 'region = "US"' in text and "# stale_days = 90" in text
    rows = cli.rows("config", "show")
    region = next(r for r in rows if r["key"] == "region")
    assert region["value"] == "US" and region["origin"].endswith("custdata.toml")
    stale = next(r for r in rows if r["key"] == "stale_days")
    assert stale["value"] == 90 and stale["origin"] == "default"
    config.write_text('[general]\nregion = "GB"\n', encoding="utf-8")
    cli("init")
    assert config.read_text(encoding="utf-8") == '[general]\nregion = "GB"\n'


def test_bad_config_is_a_usage_error(cli) -> None:
    (cli.db.parent / "custdata.toml").write_text("[audit]\nstale_days = 'soon'\n", encoding="utf-8")
    result = cli("config", "show")
    assert result.exit_code == ExitCode.USAGE and "stale_days" in result.stderr


def test_config_from_env_and_flag(ecli, tmp_path) -> None:
    other = tmp_path / "other.toml"
    other.write_text("[general]\nregion = \"DE\"\n", encoding="utf-8")
    result = ecli.runner.invoke(app, ["--db", str(ecli.db), "--config", str(other), "config", "show",
                                     "--format", "json"])
    assert next(r for r in json.loads(result.stdout) if r["key"] == "region")["value"] == "DE"
    result = ecli("config", "show", "--format", "json", env={"CUSTDATA_CONFIG": str(other)})
    assert next(r for r in json.loads(result.stdout) if r["key"] == "region")["value"] == "DE"


def test_db_from_environment(tmp_path, write_csv) -> None:
    from typer.testing import CliRunner

    db = tmp_path / "env.db"
    result = CliRunner().invoke(app, ["import", "contacts", str(write_csv("c.csv", CONTACT_ROWS))],
                                env={"CUSTDATA_DB": str(db)})
    assert result.exit_code == 0 and db.exists()


def test_version_and_help() -> None:
    from typer.testing import CliRunner

    from custdata import __version__

    runner = CliRunner()
    assert runner.invoke(app, ["--version"]).stdout.strip() == f"custdata {__version__}"
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    for command in ("init", "import", "export", "show", "history", "log", "backup", "config"):
        assert command in top.stdout
        assert runner.invoke(app, [command, "--help"]).exit_code == 0


def test_unknown_option_is_exit_2(cli) -> None:
    assert cli("export", "contacts", "--bogus").exit_code == ExitCode.USAGE
