"""Issue 19: the README's cron recipes, run as cron runs them: `env -i` with cron's PATH,
no terminal (a new session), stdin from /dev/null, every path absolute."""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

README = Path(__file__).resolve().parent.parent / "docs" / "readme"
INSTALLED = "/opt/custdata/bin/custdata"
CRON_ENV = ["env", "-i", "PATH=/usr/bin:/bin", "SHELL=/bin/sh", "LOGNAME=cron"]


def _blocks(name: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", (README / name).read_text(encoding="utf-8"), re.S)


def _custdata() -> str:
    found = Path(sys.executable).parent / "custdata"
    if not found.exists():
        pytest.skip("no installed custdata script beside this interpreter")
    return str(found)


def _as_cron(command: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CRON_ENV, f"HOME={home}", "/bin/sh", "-c", command],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          start_new_session=True, cwd="/")


def _localised(text: str, root: Path) -> str:
    return (text.replace(INSTALLED, _custdata()).replace("/srv/", f"{root}/srv/")
            .replace("/usr/bin/mail ", f"{root}/mail "))


@pytest.fixture
def srv(tmp_path: Path) -> Path:
    (tmp_path / "srv" / "crm").mkdir(parents=True)
    exports = tmp_path / "srv" / "exports"
    exports.mkdir()
    for kind in ("contacts", "orders"):
        shutil.copy(EXAMPLES / f"{kind}.csv", exports / f"{kind}.csv")
    done = subprocess.run([_custdata(), "keygen", "--key-file", str(tmp_path / "srv/crm/key")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return tmp_path


def test_the_recipe_names_every_program_by_its_absolute_path() -> None:
    script, crontab = [b for b in _blocks("90-bottom.md") if "nightly.sh" in b][:2]
    assert re.search(r"^custdata=/\S+$", script, re.M)
    commands = [line for line in script.splitlines() if line and not line.startswith(
        ("#", "set ", "export ", "custdata="))]
    assert commands and all(line.startswith('"$custdata" ') for line in commands)
    entry = [line for line in crontab.splitlines() if line and not line.startswith("#")]
    assert len(entry) == 1 and entry[0].split()[5].startswith("/")


def test_the_nightly_recipe_runs_under_cron(srv: Path) -> None:
    script, crontab = [b for b in _blocks("90-bottom.md") if "nightly.sh" in b][:2]
    path = srv / "srv" / "crm" / "nightly.sh"
    path.write_text(_localised(script, srv), encoding="utf-8")
    path.chmod(0o700)
    entry = next(line for line in crontab.splitlines() if line and not line.startswith("#"))
    command = _localised(" ".join(entry.split()[5:]), srv)
    for night in (1, 2):  # a second night: new dated backup, rejects replaced
        done = _as_cron(command, srv)
        report = json.loads((srv / "srv/crm/audit.json").read_text(encoding="utf-8"))
        assert done.returncode == (0 if report["score"] >= 80 else 1), done.stderr
        assert "Traceback" not in done.stderr
        assert len(list((srv / "srv/crm/backups").iterdir())) == night
    crm = srv / "srv" / "crm"
    for name in ("crm.db", "rejects.csv", "audit.json"):
        assert stat.S_IMODE((crm / name).stat().st_mode) == 0o600, name


def test_a_bare_custdata_is_not_found_by_cron(tmp_path: Path) -> None:
    assert _as_cron("custdata --version", tmp_path).returncode == 127


def test_the_weekly_report_line_runs_under_cron(srv: Path) -> None:
    line = next(x.strip() for x in (README / "75-html-report.md").read_text(
        encoding="utf-8").splitlines() if x.strip().startswith("0 7 * * 1"))
    assert " custdata " not in f" {line} " and INSTALLED in line
    mail = srv / "mail"  # stands in for /usr/bin/mail: records that it ran, with what
    mail.write_text(f"#!/bin/sh\necho \"$@\" > {srv}/mailed\n")
    mail.chmod(0o755)
    db = srv / "srv" / "crm" / "crm.db"
    done = subprocess.run([_custdata(), "--db", str(db), "import", "contacts",
                           str(EXAMPLES / "contacts.csv")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = _as_cron(_localised(" ".join(line.split()[5:]), srv), srv)
    assert done.returncode == 0, done.stderr
    assert (srv / "srv/crm/weekly.html").stat().st_size > 1000
    assert "weekly.html" in (srv / "mailed").read_text()


def test_cron_environment_has_no_terminal(srv: Path) -> None:
    done = _as_cron("test -t 0 || test -t 1 || test -t 2 || echo none", srv)
    assert done.stdout.strip() == "none"
