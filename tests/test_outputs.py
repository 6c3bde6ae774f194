"""Issue 16 (3, 4, 7): file arguments never destroy files; outputs to a full disk or a
folder end in one line; deep JSON in `extra` is data."""

from __future__ import annotations

import errno
import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from custdata.errors import ExitCode
from tests.conftest import Cli, make_csv

ROWS = [["external_id", "name", "email"], ["C1", "Ann", "ann@example.com"],
        ["", "", ""], ["C2", "Bo", "bo@example.com"]]  # one reject: no identifying value


@pytest.fixture
def stocked(cli: Cli, tmp_path: Path) -> Cli:
    assert cli("import", "contacts", _csv(tmp_path, "first.csv")).exit_code == 0
    return cli


def _csv(folder: Path, name: str, rows: list[list[str]] = ROWS) -> Path:
    path = folder / name
    path.write_bytes(make_csv(rows))
    return path


def _one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error:"), result.stderr
    assert "Traceback" not in result.stderr
    return lines[-1]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# ---- protected paths ---------------------------------------------------------------

def test_rejects_onto_the_store_is_refused_and_the_store_kept(stocked: Cli, tmp_path) -> None:
    before = stocked.db.read_bytes()
    result = stocked("import", "contacts", _csv(tmp_path, "more.csv"), "--rejects", stocked.db)
    assert result.exit_code == ExitCode.USAGE
    assert "is the store" in _one_line_error(result)
    assert stocked.db.read_bytes() == before and stocked.count("contacts") == 2


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_rejects_onto_the_stores_journal_files_is_refused(stocked: Cli, tmp_path, suffix) -> None:
    result = stocked("import", "contacts", _csv(tmp_path, "more.csv"), "--rejects",
                     f"{stocked.db}{suffix}")
    assert result.exit_code == ExitCode.USAGE
    assert "the store's" in _one_line_error(result)


def test_rejects_onto_the_input_is_refused_and_the_input_kept(cli: Cli, tmp_path) -> None:
    path = _csv(tmp_path, "in.csv")
    before = path.read_bytes()
    result = cli("import", "contacts", path, "--rejects", path)
    assert result.exit_code == ExitCode.USAGE
    assert "an input of this command" in _one_line_error(result)
    assert path.read_bytes() == before and cli.count("contacts") == 0


def test_rejects_and_backup_onto_the_key_file_are_refused(stocked: Cli, tmp_path) -> None:
    key = tmp_path / "k1"
    assert stocked("keygen", "--key-file", key).exit_code == 0
    before = key.read_bytes()
    for args in (["import", "contacts", _csv(tmp_path, "more.csv"), "--rejects", key],
                 ["backup", key]):
        result = stocked("--key-file", key, *args)
        assert result.exit_code == ExitCode.USAGE, args
        assert "is the key file" in _one_line_error(result)
    assert key.read_bytes() == before


def test_no_output_replaces_a_key_file_the_command_was_not_given(stocked: Cli,
                                                                  tmp_path) -> None:
    """`backup k1` (the issue's case) without --key-file, and every other output."""
    key = tmp_path / "k1"
    assert stocked("keygen", "--key-file", key).exit_code == 0
    before = key.read_bytes()
    for args in (["backup", key], ["report", "html", "--output", key],
                 ["import", "contacts", _csv(tmp_path, "more.csv"), "--rejects", key]):
        result = stocked(*args)
        assert result.exit_code == ExitCode.USAGE, args
        assert "holds a custdata key" in _one_line_error(result)
    assert key.read_bytes() == before and stocked.count("contacts") == 2
    assert _leftovers(tmp_path) == []


def test_backup_onto_the_wal_is_refused(stocked: Cli) -> None:
    result = stocked("backup", f"{stocked.db}-wal")
    assert result.exit_code == ExitCode.USAGE
    assert "WAL" in _one_line_error(result)


def test_outputs_are_private_and_leave_no_temp_file(stocked: Cli, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert stocked("import", "contacts", _csv(tmp_path, "more.csv"),
                   "--rejects", out / "rejects.csv").exit_code == 0
    assert stocked("backup", out / "copy.db").exit_code == 0
    for name in ("rejects.csv", "copy.db"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name
    assert _leftovers(out) == []
    assert (out / "rejects.csv").read_text(encoding="utf-8").splitlines()[0] == "line,reason,raw"


def test_rejects_to_a_folder_is_one_line_and_nothing_imported(cli: Cli, tmp_path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    result = cli("import", "contacts", _csv(tmp_path, "in.csv"), "--rejects", folder)
    assert result.exit_code == ExitCode.USAGE
    assert "is a folder" in _one_line_error(result)
    assert cli.count("contacts") == 0 and _leftovers(tmp_path) == []


# ---- a full disk -------------------------------------------------------------------

@pytest.fixture
def full_disk(tmp_path: Path):
    """A 256 KiB tmpfs filled to the last byte (needs root; skipped otherwise)."""
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        with open(mount / "filler", "wb", buffering=0) as fh:
            for size in (65536, 4096, 512, 1):
                try:
                    while True:
                        fh.write(b"\0" * size)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_rejects_to_a_full_disk_is_one_line_and_nothing_imported(cli: Cli, tmp_path,
                                                                 full_disk: Path) -> None:
    result = cli("import", "contacts", _csv(tmp_path, "in.csv"),
                 "--rejects", full_disk / "rejects.csv")
    assert result.exit_code == ExitCode.STORE
    line = _one_line_error(result)
    assert "disk is full" in line and "Free some space" in line
    assert cli.count("contacts") == 0  # the rejects file is complete before the commit
    assert _leftovers(full_disk) == [] and not (full_disk / "rejects.csv").exists()


def test_backup_to_a_full_disk_is_one_line_and_leaves_nothing(stocked: Cli,
                                                              full_disk: Path) -> None:
    result = stocked("backup", full_disk / "copy.db")
    assert result.exit_code == ExitCode.STORE
    line = _one_line_error(result)
    assert "disk is full" in line and "copy.db" in line  # the backup's disk, not the store's
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]


def test_a_failing_sync_of_the_rejects_rolls_the_import_back(cli: Cli, tmp_path,
                                                             monkeypatch) -> None:
    # Fault injection where a tmpfs is not at hand: the disk fills up as the file is synced.
    import custdata.outputs as outputs

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(outputs.os, "fsync", full)
    result = cli("import", "contacts", _csv(tmp_path, "in.csv"),
                 "--rejects", tmp_path / "rejects.csv")
    assert result.exit_code == ExitCode.STORE
    assert "disk is full" in _one_line_error(result)
    assert cli.count("contacts") == 0
    assert not (tmp_path / "rejects.csv").exists() and _leftovers(tmp_path) == []


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_export_to_a_full_disk_is_one_line(stocked: Cli, fmt: str) -> None:
    with open("/dev/full", "wb") as full:
        done = subprocess.run([sys.executable, "-m", "custdata", "--db", str(stocked.db),
                               "export", "contacts", "--format", fmt],
                              stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == ExitCode.STORE, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "error: Cannot write the output: the disk is full. Free some space and run the "
        "command again.")


# ---- deep JSON in `extra` ----------------------------------------------------------

def test_deeply_nested_json_in_extra_is_kept_as_text(cli: Cli, tmp_path) -> None:
    deep = '{"a":' * 1000 + "1" + "}" * 1000
    wide = json.dumps({f"k{i}": i for i in range(2000)})
    rows = [["external_id", "name", "extra"], ["C1", "Ann", deep], ["C2", "Bo", wide],
            ["C3", "Cy", '{"a":' * 500 + "1" + "}" * 500]]
    result = cli("import", "contacts", _csv(tmp_path, "deep.csv", rows))
    assert result.exit_code == 0, result.stderr
    assert "inserted 3" in result.stderr
    got = {r["external_id"]: r["extra"] for r in cli.rows("export", "contacts")}
    assert got["C1"] == {"extra": deep}
    assert len(got["C2"]) == 2000 and got["C2"]["k7"] == "7"
    assert json.loads(got["C3"]["a"])  # nested but readable: kept as its JSON text
    again = cli("import", "contacts", _csv(tmp_path, "deep.csv", rows))
    assert "unchanged 3" in again.stderr
