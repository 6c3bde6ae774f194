"""A throwaway PostgreSQL server for the tests: initdb in a temporary folder, run by an
unprivileged user, listening only on a Unix socket; stopped and removed at the end.

`make test` installs Debian's `postgresql` package when it is missing (as root). Without
it (or psycopg) the tests that need a server skip, except under CI=true where they fail:
CI must never pass by skipping the second engine.
"""

from __future__ import annotations

import glob
import os
import pwd
import random
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

SUPERUSER = "postgres"


class ServerUnavailable(RuntimeError):
    """The server could not be started here (no binaries, no psycopg, initdb failed)."""


def bin_dir() -> Path:
    """The newest installed PostgreSQL's bin folder (15 or newer)."""
    found = []
    for path in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        version = Path(path).parent.parent.name
        if version.isdigit() and int(version) >= 15:
            found.append((int(version), Path(path).parent))
    on_path = shutil.which("initdb")
    if not found and on_path:
        return Path(on_path).parent
    if not found:
        raise ServerUnavailable("no PostgreSQL 15+ binaries (apt-get install postgresql)")
    return max(found)[1]


def _runner() -> tuple[int, int] | None:
    """(uid, gid) to run the server as: `nobody` when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


@dataclass
class PgServer:
    """A running throwaway server; `url(dbname)` for custdata's --db."""

    root: Path
    port: int
    bin: Path
    owner: tuple[int, int] | None

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    def url(self, dbname: str, user: str = SUPERUSER) -> str:
        host = quote(str(self.socket_dir), safe="")
        return f"postgresql://{user}@{host}:{self.port}/{dbname}"

    def admin(self):  # -> psycopg.Connection, autocommit, to the maintenance database
        import psycopg

        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=SUPERUSER,
                               dbname="postgres", autocommit=True)

    def new_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING UTF8 '
                         "LC_COLLATE 'C' LC_CTYPE 'C'")
        return name

    def clone_database(self, url: str) -> str:
        """A copy of the store at `url` (a database of this server) as a new database; its
        URL. Nobody may be connected to the source while it is copied."""
        source = url.rsplit("/", 1)[1]
        name = "t_" + uuid.uuid4().hex[:12]
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        owner = self.owner

        def demote() -> None:
            if owner is not None:
                os.setgid(owner[1])
                os.setuid(owner[0])

        return subprocess.run(args, preexec_fn=demote, capture_output=True, text=True,
                              timeout=120, env={**os.environ, "LC_ALL": "C"})

    def start(self) -> None:
        data = self.root / "data"
        made = self._run(str(self.bin / "initdb"), "-D", str(data), "-U", SUPERUSER,
                         "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
        if made.returncode:
            raise ServerUnavailable(f"initdb failed: {made.stderr.strip()[-400:]}")
        options = (f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        for _ in range(5):
            self.port = random.randint(20000, 60000)
            started = self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-l",
                                str(self.root / "log"), "-w", "-t", "60",
                                "-o", f"{options} -p {self.port}", "start")
            if not started.returncode:
                return
        log = (self.root / "log").read_text(errors="replace")[-400:]
        raise ServerUnavailable(f"pg_ctl start failed: {started.stderr.strip()} {log}")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate",
                  "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PgServer:
    """Start a server in a new temporary folder; ServerUnavailable when it cannot be."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise ServerUnavailable("psycopg is not installed (pip install 'custdata[postgres]')") from exc
    binaries = bin_dir()
    owner = _runner()
    root = Path(tempfile.mkdtemp(prefix="custdata-pg-"))
    (root / "sock").mkdir()
    if owner is not None:
        for path in (root, root / "sock"):
            os.chown(path, *owner)
    server = PgServer(root, 0, binaries, owner)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server
