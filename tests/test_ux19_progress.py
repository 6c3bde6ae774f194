"""Issue 19: long work shows a progress bar with its total and rate on a terminal, and
nothing in a pipe or under cron. Real subprocesses: stderr is a pseudo-terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTDATA_")}
    env.update(PYTHONPATH=str(ROOT / "src"), TERM="xterm", COLUMNS="200", **extra)
    env.pop("NO_COLOR", None)
    return env


def run_at_terminal(folder: Path, *args: str) -> tuple[int, str]:
    """custdata ARGS with stderr on a pseudo-terminal (stdout to a file); (code, stderr)."""
    master, slave = os.openpty()
    with open(folder / "stdout.txt", "wb") as stdout:
        proc = subprocess.Popen([sys.executable, "-m", "custdata", "--db", str(folder / "crm.db"),
                                 *args], stdin=subprocess.DEVNULL, stdout=stdout, stderr=slave,
                                cwd=folder, env=_env())
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = proc.wait(timeout=120)
    return code, ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))


def last_render(shown: str, description: str) -> str | None:
    """The last drawing of the bar named `description` (the bar is redrawn in place)."""
    lines = [ln for ln in re.split(r"[\r\n]", shown) if description in ln]
    return lines[-1] if lines else None


def run_in_pipe(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "custdata", "--db", str(folder / "crm.db"),
                           *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          cwd=folder, env=_env(), timeout=120)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("progress")
    for step in (("init", "--region", "CN"),
                 ("import", "contacts", str(EXAMPLES / "contacts.csv")),
                 ("import", "orders", str(EXAMPLES / "orders.csv")),
                 ("keygen", "--key-file", str(folder / "k.key"))):
        assert run_in_pipe(folder, *step).returncode == 0, step
    return folder


LINES = 343  # examples/contacts.csv: lines after the header (the import's total)
CONTACTS = 340  # the contacts stored from it

CASES = [
    (("import", "contacts", str(EXAMPLES / "contacts.csv"), "--dry-run"),
     "importing contacts", f"/{LINES:,}"),
    (("validate", "-f", "csv"), "validating contacts", f"{CONTACTS:,}/{CONTACTS:,}"),
    (("clean", "--dry-run"), "cleaning", f"{CONTACTS:,}/{CONTACTS:,}"),
    (("tag", "--as-of", "2026-10-31"), "tagging contacts", "3/3"),
    (("report", "churn", "--as-of", "2026-10-31", "-f", "csv"), "scoring churn risk", "4/4"),
    (("export", "contacts", "-f", "table"), "exporting contacts", f"{CONTACTS:,}/{CONTACTS:,}"),
    (("audit", "-f", "json"), "auditing the store", "/"),
    (("report", "rfm", "--as-of", "2026-10-31", "-f", "csv"), "scoring customers", "2/2"),
    (("report", "summary", "-f", "csv"), "summing revenue", "2/2"),
    (("report", "html", "--output", "page.html", "--as-of", "2026-10-31"),
     "building the report", "3/3"),
    (("dedupe", "-f", "csv"), "reading contacts", f"{CONTACTS:,}/{CONTACTS:,}"),
]


@pytest.mark.parametrize("args,description,count", CASES, ids=[c[1] for c in CASES])
def test_long_commands_show_total_and_rate_on_a_terminal(store: Path, args: tuple, description: str,
                                                          count: str) -> None:
    code, shown = run_at_terminal(store, *args)
    assert code in (0, 1), shown
    line = last_render(shown, description)
    assert line is not None, shown
    assert count in line and "%" in line, line
    if count not in ("2/2", "3/3", "4/4", "/"):  # rows show their rate; a few steps show none
        assert "/s" in line, line
    if count in ("2/2", "3/3", "4/4"):
        assert "/s" not in line, line


def test_rekeying_shows_progress(store: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path
    shutil.copy(store / "crm.db", folder / "crm.db")
    shutil.copy(store / "custdata.toml", folder / "custdata.toml")
    key = str(store / "k.key")
    for args, description in ((("encrypt",), "encrypting contacts"),
                              (("rotate-key", "--new-key-file", str(folder / "new.key")),
                               "re-keying contacts"),
                              (("decrypt",), "decrypting contacts")):
        if args[0] == "rotate-key":
            assert run_in_pipe(folder, "keygen", "--key-file", str(folder / "new.key")).returncode == 0
        code, shown = run_at_terminal(folder, "--key-file", key, *args)
        assert code == 0, shown
        line = last_render(shown, description) or ""
        assert f"{CONTACTS:,}/{CONTACTS:,}" in line and "/s" in line, shown
        if args[0] == "rotate-key":
            key = str(folder / "new.key")


@pytest.mark.parametrize("args", [("validate", "-f", "csv"), ("tag", "--dry-run"),
                                  ("export", "contacts")])
def test_silent_in_a_pipe(store: Path, args: tuple) -> None:
    result = run_in_pipe(store, *args)
    assert result.returncode in (0, 1), result.stderr
    assert "━" not in result.stderr and "/s" not in result.stderr
    assert "contacts" not in result.stderr.replace("contacts,", "")


def test_quiet_at_a_terminal_shows_no_bar(store: Path) -> None:
    code, shown = run_at_terminal(store, "--quiet", "validate", "-f", "csv")
    assert code in (0, 1)
    assert "validating" not in shown
