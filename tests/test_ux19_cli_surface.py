"""Issue 19: global options after the command get a hint naming where they go; help shows
readable metavars and answers -h on every command; shell completion works."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from custdata.cli import app
from tests.conftest import Cli
from tests.test_ux19_progress import _env

TYPE_NAMES = re.compile(r"<[a-z][a-z \[\]|,.]*>")


def _commands(command, path=()):
    subs = getattr(command, "commands", None)
    if not subs:
        yield path
        return
    yield path
    for name, sub in subs.items():
        yield from _commands(sub, (*path, name))


ALL_COMMANDS = list(_commands(typer.main.get_command(app)))


def test_every_command_is_listed() -> None:
    assert ("report", "churn") in ALL_COMMANDS and ("export", "contacts") in ALL_COMMANDS
    assert len(ALL_COMMANDS) > 25


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "custdata")
def test_dash_h_is_help_with_readable_metavars(path: tuple) -> None:
    result = CliRunner().invoke(app, [*path, "-h"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output and "-h, --help" in result.output
    assert not TYPE_NAMES.search(result.output), TYPE_NAMES.search(result.output).group(0)


def test_metavars_say_what_a_value_is() -> None:
    shown = CliRunner().invoke(app, ["-h"], env={"COLUMNS": "100"}).output
    assert "--db PATH" in shown and "--wait SECONDS" in shown
    shown = CliRunner().invoke(app, ["dedupe", "-h"], env={"COLUMNS": "100"}).output
    assert "--threshold PROBABILITY" in shown and "[table|csv|json|jsonl]" in shown
    shown = CliRunner().invoke(app, ["import", "contacts", "-h"], env={"COLUMNS": "100"}).output
    assert "--map SRC=FIELD" in shown and "FILE" in shown


@pytest.mark.parametrize("args,option,moved", [
    (("report", "summary", "--db", "x.db"), "--db", "custdata --db x.db report summary"),
    (("show", "C1", "--key-file", "k.key"), "--key-file", "custdata --key-file k.key show C1"),
    (("export", "contacts", "--quiet"), "--quiet", "custdata --quiet export contacts"),
    (("tag", "--wait=5"), "--wait", "custdata --wait=5 tag"),
    (("audit", "--config", "c.toml", "-f", "json"), "--config",
     "custdata --config c.toml audit -f json"),
    (("--db", "a.db", "report", "summary", "--db", "b.db"), "--db",
     "custdata --db b.db report summary"),
])
def test_a_global_option_after_the_command_says_where_it_goes(tmp_path: Path, args: tuple,
                                                              option: str, moved: str) -> None:
    result = subprocess.run([sys.executable, "-m", "custdata", *args], capture_output=True,
                            text=True, cwd=tmp_path, env=_env(), timeout=60)
    assert result.returncode == 2, result.stderr
    assert f"{option} is a global option: it goes before the command" in result.stderr
    assert f"`{moved}`" in result.stderr
    assert "Traceback" not in result.stderr and not list(tmp_path.iterdir())  # no store made


def test_encrypt_keeps_its_own_key_file_option(cli: Cli, tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    cli("keygen", "--key-file", key)
    assert cli("encrypt", "--key-file", key).exit_code == 0


def test_an_unknown_option_is_still_clicks_usage_error(cli: Cli) -> None:
    result = cli("tag", "--no-such-thing")
    assert result.exit_code == 2 and "No such option" in result.output


def test_shell_completion_script_and_answers(tmp_path: Path) -> None:
    shown = subprocess.run([sys.executable, "-m", "custdata", "--show-completion", "bash"],
                           capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=60)
    assert shown.returncode == 0 and "complete -o default -F _custdata_completion custdata" \
        in shown.stdout

    def complete(words: str, cword: int) -> list[str]:
        env = _env(_CUSTDATA_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(cword))
        done = subprocess.run([sys.executable, "-m", "custdata"], capture_output=True, text=True,
                              cwd=tmp_path, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("custdata rep", 1) == ["report"]
    assert {"churn", "rfm", "summary"} <= set(complete("custdata report ", 2))
    assert "jsonl" in complete("custdata export contacts --format ", 4)
    assert not list(tmp_path.iterdir())
