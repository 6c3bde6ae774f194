"""Several people at once on the team store (issue 20): real processes on the test server.

A reader keeps one view while a merge commits; a key rotation holds its turn and the write
lock, and whoever comes meanwhile waits or gives up with exit 3 naming the holder.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from custdata.crypto import generate_key, key_id, read_key_file, write_key_file
from custdata.errors import ExitCode
from tests._sync import Paused
from tests.conftest import Cli

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
CUSTDATA = [sys.executable, "-m", "custdata"]


def _run(url: str, *args: object) -> subprocess.CompletedProcess:
    return subprocess.run([*CUSTDATA, "--db", url, *map(str, args)], capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def _people(path: Path, ids: range, twins: int = 0) -> Path:
    """Contacts C<i> with their own email; then `twins` second records (D<i>) of the first
    ones, same name and email: duplicates whose ids come last."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["external_id", "name", "email", "city"])
        for i in ids:
            out.writerow([f"C{i}", f"Person Number{i}", f"person{i}@example.com", "Boston"])
        for i in list(ids)[:twins]:
            out.writerow([f"D{i}", f"Person Number{i}", f"person{i}@example.com", ""])
    return path


def test_a_reader_keeps_one_view_while_a_merge_commits(pg_url: str, tmp_path: Path) -> None:
    """export reads in pages; the merge deletes records of the last page while the export
    waits (its output pipe full): the export still prints the store as it was when it
    began, and the merge does not wait for it."""
    assert _run(pg_url, "import", "contacts", _people(tmp_path / "c.csv", range(12_000),
                                                      twins=20)).returncode == 0
    before = _run(pg_url, "export", "contacts", "--format", "csv").stdout
    reader = subprocess.Popen([*CUSTDATA, "--db", pg_url, "export", "contacts", "--format",
                               "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL)
    head = reader.stdout.read(2000)  # it has begun: its first page is read
    merged = _run(pg_url, "--wait", "60", "dedupe", "--merge")
    assert merged.returncode == 0, merged.stderr
    rest, err = reader.stdout.read(), reader.stderr.read()  # what the buffer holds too
    assert reader.wait(timeout=300) == 0, err
    after = _run(pg_url, "export", "contacts", "--format", "csv").stdout
    assert after.count("\n") == before.count("\n") - 20  # the merge took away 20 records
    assert (head + rest).decode("utf-8").replace("\r\n", "\n") == before


def _encrypted_store(url: str, tmp_path: Path) -> dict:
    keys = {}
    for name in ("k1", "k2"):
        keys[name] = tmp_path / f"{name}.key"
        write_key_file(keys[name], generate_key())
    assert _run(url, "import", "contacts", _people(tmp_path / "a.csv", range(60))).returncode == 0
    assert _run(url, "--key-file", keys["k1"], "encrypt").returncode == 0
    return keys


def test_a_rotation_makes_others_wait_or_name_it_and_leaves_nothing_old(
        pg_url: str, tmp_path: Path) -> None:
    keys = _encrypted_store(pg_url, tmp_path)
    rotate = Paused(tmp_path / "sync", "write:locked", pg_url, "--key-file", keys["k1"],
                    "rotate-key", "--new-key-file", keys["k2"])
    assert rotate.ready()
    writer = _run(pg_url, "--wait", "1", "--key-file", keys["k1"], "import", "contacts",
                  _people(tmp_path / "b.csv", range(100, 110)))
    assert writer.returncode == ExitCode.STORE, writer.stderr
    assert "locked by another custdata command (held by postgres" in writer.stderr
    second = _run(pg_url, "--wait", "1", "--key-file", keys["k1"], "rotate-key",
                  "--new-key-file", keys["k2"])
    assert second.returncode == ExitCode.STORE, second.stderr
    assert "re-keyed or erased by another custdata command (held by postgres" in second.stderr
    waiting = subprocess.Popen([*CUSTDATA, "--db", pg_url, "--wait", "120", "--key-file",
                                keys["k2"], "import", "contacts",
                                _people(tmp_path / "c.csv", range(200, 210))],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    code, err = rotate.go()
    assert code == 0, err
    _, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err  # it waited for the rotation, then sealed with k2
    old = _run(pg_url, "--key-file", keys["k1"], "export", "contacts")
    assert old.returncode == ExitCode.USAGE and "key" in old.stderr
    rows = Cli(pg_url).rows("--key-file", keys["k2"], "export", "contacts")
    assert len(rows) == 70 and "cd1:" not in str(rows)
    sealed_with = Cli(pg_url).sql("SELECT DISTINCT split_part(email, ':', 2) FROM contacts")
    assert sealed_with == [(key_id(read_key_file(keys["k2"])),)]  # nothing under the old key
