"""PostgreSQL errors said as custdata's StoreError / UsageError, with the same exit codes
as the same trouble on SQLite (a lock waited out: 3 with the `wait` hint; a server that
cannot be reached or refuses the login: 3; a command the role may not run: 3, naming it)."""

from __future__ import annotations

from custdata.errors import StoreError

# the store's write lock: pg_advisory_xact_lock(LOCK_KEY), one writer at a time
LOCK_KEY = 0x6375_7374  # "cust"
# the re-keying and erasing commands' turn (custdata.store.turn): pg_advisory_lock(TURN_KEY),
# held by a connection of its own for the whole command
TURN_KEY = 0x7475_726E  # "turn"

_LOCKED = {"55P03", "40P01"}  # lock_not_available, deadlock_detected
_DENIED = {"42501"}  # insufficient_privilege
_FULL = {"53100", "53200", "53300"}  # disk_full, out_of_memory, too_many_connections
_CONNECT = {"08000", "08001", "08003", "08004", "08006", "28000", "28P01", "3D000"}


def translate_pg_error(exc: BaseException, where: str, *, holder: str | None = None,
                       ) -> StoreError | None:
    """A StoreError with the fix for a psycopg error, or None if it is not one.

    Judged by SQLSTATE, not the message; `holder` says who holds the write lock.
    """
    import psycopg

    if not isinstance(exc, psycopg.Error):
        return None
    state = getattr(exc, "sqlstate", None) or ""
    text = (str(exc).strip().splitlines() or [""])[0]
    if state in _LOCKED:
        held = f" (held by {holder})" if holder else ""
        return StoreError(f"The store {where} is locked by another custdata command{held}; "
                          "it waited and gave up. Try again later.", hint="wait")
    if state in _DENIED:
        return StoreError(f"The store {where} refused this command: {text}. "
                          "Ask a custdata admin for the role it needs.")
    if state in _FULL:
        return StoreError(f"The server of the store {where} is out of resources ({text}); "
                          "nothing was changed. Try again later.")
    if isinstance(exc, psycopg.OperationalError) and (state in _CONNECT or not state):
        return StoreError(f"Cannot connect to the store {where}: {text}. Check the URL, that "
                          "the server runs, and the login (passwords in ~/.pgpass).")
    return StoreError(f"The store {where} failed: {text}.")


def advisory_holder(conn: object, key: int) -> str | None:
    """Who else holds the advisory lock `key`: "user on host (since HH:MM:SS UTC)", or None."""
    try:
        row = conn.execute(  # type: ignore[attr-defined]
            "SELECT a.usename, coalesce(a.client_hostname, host(a.client_addr), 'local'), "
            "to_char(a.xact_start AT TIME ZONE 'UTC', 'HH24:MI:SS') FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
            "AND l.granted AND l.objid = %s AND a.pid <> pg_backend_pid() LIMIT 1",
            (key & 0xFFFFFFFF,)).fetchone()
    except Exception:  # noqa: BLE001 - only adds detail to a message
        return None
    return f"{row[0]} on {row[1]} (since {row[2]} UTC)" if row else None
