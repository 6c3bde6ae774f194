"""PostgreSQL errors said as custdata's StoreError / UsageError, with the same exit codes
as the same trouble on SQLite (a lock waited out: 3 with the `wait` hint; a server that
cannot be reached or refuses the login: 3; a command the role may not run: 3, naming it)."""

from __future__ import annotations

from custdata.errors import StoreError

# the store's write lock: pg_advisory_xact_lock(LOCK_KEY), one writer at a time
LOCK_KEY = 0x6375_7374  # "cust"

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
