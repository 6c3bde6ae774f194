"""Issue 19 (cron must not pass by mistake): a named config that is missing, a store that
is missing, a store that cannot be written. Real processes where modes and users matter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from custdata.errors import ExitCode
from tests.conftest import EXAMPLES, Cli

READING = [
    ["export", "contacts"], ["show", "C0000001"], ["history", "C0000001"], ["log"],
    ["report", "rfm"], ["report", "summary"], ["report", "churn", "--as-of", "2026-11-01"],
    ["audit"], ["audit", "--fail-under", "80"], ["audit", "--history"],
    ["audit", "--show", "stale"], ["validate"], ["dedupe"],
]


def _last_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error:") and "Traceback" not in result.stderr
    return lines[-1]


# ---- a named config must exist --------------------------------------------------------

@pytest.mark.parametrize("command", [["log"], ["import", "contacts", EXAMPLES / "contacts.csv"],
                                     ["config", "show"]])
@pytest.mark.parametrize("how", ["option", "env"])
def test_a_named_config_that_does_not_exist_is_exit_2(cli: Cli, tmp_path: Path, command,
                                                      how: str) -> None:
    missing = tmp_path / "nonexist.toml"
    if how == "option":
        result = cli.runner.invoke(_app(), ["--config", str(missing), "--db", str(cli.db),
                                            *map(str, command)])
    else:
        result = cli(*command, env={"CUSTDATA_CONFIG": str(missing)})
    assert result.exit_code == ExitCode.USAGE
    assert str(missing) in _last_error(result)
    assert not cli.db.exists()


def _app():
    from custdata.cli import app

    return app


# ---- reading commands never create a store ---------------------------------------------

@pytest.mark.parametrize("command", READING + [["backup", "copy.db"]], ids=" ".join)
def test_a_reading_command_on_a_missing_store_is_exit_2_and_creates_nothing(
        cli: Cli, tmp_path: Path, command: list[str]) -> None:
    typo = tmp_path / "crn.db"
    result = cli.runner.invoke(_app(), ["--db", str(typo), *command])
    assert result.exit_code == ExitCode.USAGE, result.output
    line = _last_error(result)
    assert str(typo) in line and "init" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_mistyped_store_in_the_environment_fails_the_cron_gate(tmp_path: Path) -> None:
    env = {**os.environ, "CUSTDATA_DB": str(tmp_path / "crn.db")}
    done = subprocess.run([sys.executable, "-m", "custdata", "audit", "--fail-under", "80"],
                          env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == ExitCode.USAGE
    assert "init" in done.stderr and not (tmp_path / "crn.db").exists()


def test_dedupe_merge_and_init_still_create_a_store(cli: Cli) -> None:
    assert cli("dedupe", "--merge").exit_code == 0 and cli.db.exists()


def test_an_empty_store_prints_no_rows_and_exits_0(cli: Cli) -> None:
    assert cli("init").exit_code == 0
    for command in (["export", "contacts", "-f", "csv"], ["log", "-f", "csv"]):
        result = cli(*command)
        assert result.exit_code == 0 and len(result.stdout.strip().splitlines()) == 1


# ---- a store that cannot be written ----------------------------------------------------

def _as_other_user() -> list[str]:
    """A prefix running a command so that file modes bind: as root, root without any
    capability (no CAP_DAC_OVERRIDE), so that the interpreter, the package and the store,
    all root's, stay readable while a 0444 file or a 0555 folder cannot be written."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file modes cannot bind")
    return ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--"]


@pytest.fixture(scope="module")
def shared_folder() -> Iterator[Path]:
    """A folder another user can reach (pytest's tmp_path is private to its owner)."""
    folder = Path(tempfile.mkdtemp(prefix="custdata-ro-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in folder.rglob("*"):
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def filled_store(shared_folder: Path) -> Path:
    db = shared_folder / "source" / "crm.db"
    db.parent.mkdir()
    for kind in ("contacts", "orders"):
        done = subprocess.run([sys.executable, "-m", "custdata", "--db", str(db), "import",
                               kind, str(EXAMPLES / f"{kind}.csv")], capture_output=True)
        assert done.returncode == 0, done.stderr
    return db


def _read_only_copy(filled_store: Path, shared_folder: Path, how: str) -> Path:
    folder = shared_folder / how
    folder.mkdir()
    db = folder / "crm.db"
    shutil.copy(filled_store, db)
    db.chmod(0o444)
    folder.chmod(0o555 if how == "folder" else 0o777)
    return db


@pytest.mark.parametrize("how", ["file", "folder"])
def test_every_reading_command_works_on_a_read_only_store(filled_store: Path,
                                                          shared_folder: Path, how: str) -> None:
    prefix = _as_other_user()
    db = _read_only_copy(filled_store, shared_folder, how)
    before = db.read_bytes()
    out = shared_folder / f"out-{how}"
    out.mkdir(mode=0o777)
    out.chmod(0o777)
    for command in READING + [["backup", f"{out}/"]]:
        done = subprocess.run([*prefix, sys.executable, "-m", "custdata", "--db", str(db),
                               *command], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, cwd=shared_folder)
        assert done.returncode in (0, 1), (command, done.stderr)
        assert "Traceback" not in done.stderr, command
        if command == ["audit"]:
            assert "could not be recorded" in done.stderr
    assert db.read_bytes() == before
    assert len(list(out.iterdir())) == 1


def test_a_read_only_mount(filled_store: Path, shared_folder: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    source = shared_folder / "mount-src"
    source.mkdir()
    shutil.copy(filled_store, source / "crm.db")
    mount = shared_folder / "mounted"
    mount.mkdir()
    if subprocess.run(["mount", "--bind", "-o", "ro", str(source), str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        if os.access(mount, os.W_OK) and not os.statvfs(mount).f_flag & os.ST_RDONLY:
            pytest.skip("the bind mount did not become read-only")
        for command in (["report", "summary"], ["export", "contacts"], ["show", "C0000001"],
                        ["log"], ["audit"]):
            done = subprocess.run([sys.executable, "-m", "custdata", "--db",
                                   str(mount / "crm.db"), *command], capture_output=True,
                                  text=True, stdin=subprocess.DEVNULL)
            assert done.returncode == 0, (command, done.stderr)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_writing_command_on_a_read_only_store_is_one_line(filled_store: Path,
                                                             shared_folder: Path) -> None:
    prefix = _as_other_user()
    db = _read_only_copy(filled_store, shared_folder, "tagged")
    done = subprocess.run([*prefix, sys.executable, "-m", "custdata", "--db", str(db), "tag"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == ExitCode.STORE, done.stderr
    assert "Traceback" not in done.stderr and "crm.db" in done.stderr
