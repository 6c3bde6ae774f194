"""Where a store lives: an SQLite file path, or a PostgreSQL server URL.

`postgresql://user@host:port/dbname` (or `postgres://`) names a team store. The password
comes only from libpq's own places (~/.pgpass, PGPASSFILE, a service file), so a URL that
carries one is refused: the command line would keep it in the operation log and in the
shell history. TLS and the rest go through libpq's URL parameters (sslmode=...).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from custdata.errors import UsageError

SCHEMES = ("postgresql://", "postgres://")


def is_server_url(db: object) -> bool:
    """True when `db` names a PostgreSQL server rather than an SQLite file."""
    return isinstance(db, str) and db.lower().startswith(SCHEMES)


def store_location(value: str | Path) -> str | Path:
    """A server URL as it is (checked: no password), anything else as a file Path."""
    if isinstance(value, Path) or not is_server_url(value):
        return Path(value)
    parts = urlsplit(value)
    if parts.password is not None:
        raise UsageError("Put the database password in ~/.pgpass (or PGPASSFILE, or a service "
                         "file), not in the store's URL: the URL is written to the operation "
                         "log. Name the store as postgresql://user@host:port/dbname.",
                         hint="pgpass")
    if not parts.path.strip("/"):
        raise UsageError(f"The store URL {value!r} names no database; write "
                         "postgresql://user@host:port/dbname.", hint="db")
    return value


def redact(url: str) -> str:
    """The URL as messages show it: scheme, user, host, port and database, no query."""
    parts = urlsplit(url)
    user = f"{unquote(parts.username)}@" if parts.username else ""
    host = unquote(parts.hostname or "") if parts.hostname else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def server_dsn(url: str) -> str:
    """The connection string psycopg gets: the URL itself (libpq reads its parameters)."""
    return url


def database_name(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/"))
