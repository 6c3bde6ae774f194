"""`PostgresDatabase`: the team store, `SQLiteDatabase`'s interface on a PostgreSQL server.

The components keep their SQL: each statement is said in PostgreSQL's dialect by
`pg_dialect.translate`, rows come back as tuples that also answer by column name (like
sqlite3.Row), and numeric results (SUM of integers, AVG) come back as int or float, as
SQLite gives them. A write takes a transaction-level advisory lock (one writer at a time,
as SQLite's BEGIN IMMEDIATE) and waits at most `wait` seconds (`lock_timeout`).
psycopg 3 is imported only here (`pip install 'custdata[postgres]'`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from custdata.errors import StoreError, UsageError
from custdata.store.location import redact, server_dsn
from custdata.store.pg_dialect import translate
from custdata.store.pg_errors import LOCK_KEY, advisory_holder, translate_pg_error
from custdata.store.pg_rows import named_row, register_numbers
from custdata.store.pg_schema import PG_MIGRATIONS

IN_LIMIT = 500
# What erasing or encrypting on a server cannot reach, said after forget/encrypt/rotate-key.
SERVER_RESIDUE = (
    "note: on a PostgreSQL server the old values can remain in the server's write-ahead "
    "log, its replicas and its base backups until they are recycled; no client can scrub "
    "them. Ask the server's administrator to rotate the WAL and take new base backups "
    "(and drop the old ones) once this change has reached every replica.")
SCHEMA_VERSION = len(PG_MIGRATIONS)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise UsageError("A PostgreSQL store needs psycopg: pip install 'custdata[postgres]'.",
                         hint="postgres_driver") from None
    return psycopg


class PostgresDatabase:
    """A custdata store on a PostgreSQL server; the only holder of its connection."""

    dialect = "postgres"
    read_only = False
    login: str | None = None  # the database user every logged operation records

    def __init__(self, conn: Any, url: str, wait: float = 30.0) -> None:
        self.conn = conn
        self.path = redact(url)  # what messages name: never a password
        self.url = url
        self.wait = wait
        psycopg = _psycopg()
        self.IntegrityError = psycopg.errors.IntegrityError

    # ---- opening -------------------------------------------------------------------
    @classmethod
    def open(cls, url: str, *, wait: float = 30.0, create: bool = True,
             read_only: bool = False) -> "PostgresDatabase":
        """Connect to the server named by `url`, creating and migrating the schema if needed.

        create=False: a database without a custdata schema is a UsageError (exit 2).
        Raises StoreError (exit 3) for a server it cannot reach or log in to, a foreign
        database or a newer schema.
        """
        psycopg = _psycopg()
        try:
            conn = psycopg.connect(server_dsn(url), autocommit=True,
                                   application_name="custdata", row_factory=named_row)
        except psycopg.Error as exc:
            raise translate_pg_error(exc, redact(url)) from exc
        database = cls(conn, url, wait)
        try:
            register_numbers(conn)
            conn.execute(f"SET lock_timeout = {int(wait * 1000)}")
            database.login = conn.execute("SELECT session_user").fetchone()[0]
            database._migrate(create)
        except (StoreError, UsageError):
            conn.close()
            raise
        except psycopg.Error as exc:
            conn.close()
            raise translate_pg_error(exc, database.path) from exc
        return database

    def _version(self) -> int:
        """The schema version; 0 for an empty database; StoreError for a foreign one.

        One catalog query, so one snapshot: another first open committing its schema
        between two looks cannot make the database look foreign (and no name lookup
        cached before our write lock was granted is consulted, as to_regclass would)."""
        found, tables = self.conn.execute(
            "SELECT count(*) FILTER (WHERE tablename = 'custdata_schema'), count(*) "
            "FROM pg_tables WHERE schemaname = current_schema()").fetchone()
        if found:
            version = self.conn.execute("SELECT version FROM custdata_schema").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"The store {self.path} was made by a newer custdata (schema {version}; "
                    f"this version knows {SCHEMA_VERSION}). Upgrade custdata to use it.")
            return int(version)
        if tables:
            raise StoreError(f"{self.path} is a PostgreSQL database but not a custdata store; "
                             "point at a custdata store or an empty database.")
        return 0

    def _migrate(self, create: bool) -> None:
        """Run the missing migrations in one transaction, under the write lock."""
        version = self._version()
        if version == SCHEMA_VERSION:
            return
        if version == 0 and not create:
            raise UsageError(f"There is no store at {self.path}; create one with "
                             "`custdata init` (or point at the right database).", hint="db")
        self.begin_write()
        try:
            version = self._version()
            for number in range(version, SCHEMA_VERSION):
                self.conn.execute(PG_MIGRATIONS[number])
            self.conn.execute(f"UPDATE custdata_schema SET version = {SCHEMA_VERSION}")
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def close(self) -> None:
        self.conn.close()

    # ---- transactions --------------------------------------------------------------
    def hold_snapshot(self) -> None:
        """Read from now on in one snapshot (REPEATABLE READ): a reading command sees the
        store as one moment, whatever commits meanwhile (a merge, an import), until it
        begins a write or closes. Readers take no lock a writer waits for, except that a
        writer dropping indexes (a large orders import, re-keying) waits for them."""
        if not self.in_transaction:
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            self._snapshot = True

    def begin_write(self) -> None:
        """BEGIN and take the store's write lock (an advisory lock), waiting up to `wait`.
        A held read snapshot ends first: a write reads the latest commits under its lock."""
        psycopg = _psycopg()
        if getattr(self, "_snapshot", False):
            self._snapshot = False
            self.rollback()
        try:
            self.conn.execute("BEGIN")
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        except psycopg.Error as exc:
            self.rollback()
            raise translate_pg_error(exc, self.path, holder=self.lock_holder()) from exc

    def lock_holder(self) -> str | None:
        """Who holds the write lock: "user on host (since HH:MM:SS UTC)", or None."""
        return advisory_holder(self.conn, LOCK_KEY)

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.in_transaction:
            self.conn.execute("ROLLBACK")

    @property
    def in_transaction(self) -> bool:
        return self.conn.info.transaction_status != 0  # IDLE

    # ---- statements ----------------------------------------------------------------
    def execute(self, sql: str, params: Mapping[str, object] | Iterable[Any] = ()) -> Any:
        return self.conn.execute(translate(sql), _params(params))

    def executemany(self, sql: str, rows: Iterable[Any]) -> Any:
        cur = self.conn.cursor()
        cur.executemany(translate(sql), [_params(r) for r in rows])
        return cur

    def tuples(self, sql: str, params: Mapping[str, object] | Iterable[Any] = ()) -> Any:
        """A cursor yielding plain tuples."""
        from psycopg.rows import tuple_row

        cur = self.conn.cursor(row_factory=tuple_row)
        return cur.execute(translate(sql), _params(params))

    def execute_script(self, script: str) -> None:
        """Run several statements written for PostgreSQL (no parameters, no translation)."""
        self.conn.execute(script)

    def schema(self) -> str:
        """The schema the store's tables live in."""
        return self.conn.execute("SELECT current_schema()").fetchone()[0]

    def rows(self, sql: str, params: Mapping[str, object] | Iterable[Any] = ()) -> list[dict]:
        return [dict(r) for r in self.execute(sql, params)]

    def insert_rows(self, table: str, columns: list[str], rows: list[Any]) -> None:
        """Insert `rows` (values in `columns` order) with COPY: one stream, no statements.
        Under row-level security (a team member's write to an `--owners` store), where
        the server allows no COPY, one prepared INSERT per row."""
        if not rows:
            return
        if self.conn.execute("SELECT row_security_active(%s)", (table,)).fetchone()[0]:
            marks = ", ".join(["%s"] * len(columns))
            self.conn.cursor().executemany(
                f"INSERT INTO {table} ({', '.join(_quoted(columns))}) VALUES ({marks})", rows)
            return
        with self.conn.cursor().copy(
                f"COPY {table} ({', '.join(_quoted(columns))}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def update_rows(self, table: str, columns: list[str], rows: list[Any]) -> None:
        """Set `columns` of the rows whose id is each row's last value: COPY into a staging
        table, then one set-based UPDATE ... FROM it."""
        if not rows:
            return
        stage = f"custdata_stage_{table}"
        names = [*columns, "id"]
        self.conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} "
                          f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        self.conn.execute(f"TRUNCATE {stage}")
        with self.conn.cursor().copy(
                f"COPY {stage} ({', '.join(_quoted(names))}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        sets = ", ".join(f"{c} = s.{c}" for c in _quoted(columns))
        self.conn.execute(f"UPDATE {table} t SET {sets} FROM {stage} s WHERE t.id = s.id")

    def stream(self, sql: str, params: Mapping[str, object] | Iterable[Any] = ()) -> Any:
        """A cursor yielding plain tuples as the server sends them: a server-side cursor
        inside a write (memory stays flat), else a plain one (in a reader's snapshot too:
        a component's own BEGIN/COMMIT there would end a server-side cursor early)."""
        if not self.in_transaction or getattr(self, "_snapshot", False):
            return self.tuples(sql, params)
        from psycopg.rows import tuple_row

        self._streams = getattr(self, "_streams", 0) + 1
        cur = self.conn.cursor(name=f"custdata_stream_{self._streams}", row_factory=tuple_row)
        cur.itersize = 5000
        return cur.execute(translate(sql), _params(params))

    def after_copy(self, tables: Iterable[str]) -> None:
        """Move the id sequences of `tables` past the ids copied in."""
        for table in tables:
            self.conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")

    def insert(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one INSERT; the id of the row it made."""
        return int(self.conn.execute(translate(sql) + " RETURNING id",
                                     _params(params)).fetchone()[0])

    def rows_where_in(self, table: str, column: str, values: Iterable[Any],
                      columns: str = "*") -> list[dict]:
        """Rows of `table` whose `column` is one of `values`, in id order (one = ANY query)."""
        values = [v for v in set(values) if v is not None]
        if not values:
            return []
        return [dict(r) for r in self.conn.execute(
            translate(f"SELECT {columns} FROM {table} WHERE {column} = ANY(?) ORDER BY id"),
            (values,))]

    def fetch_by_contact_range(self, sql: str, params: dict[str, object],
                               ) -> tuple[list[tuple], list[str]]:
        """Rows of `sql` (with :lo/:hi contact bounds) and their columns: one query, the
        server does the work."""
        top = self.conn.execute("SELECT coalesce(max(id), 0) FROM contacts").fetchone()[0]
        cur = self.tuples(sql, {**params, "lo": 0, "hi": top + 1})
        return cur.fetchall(), [d.name for d in cur.description]

    def frame_by_contact_range(self, sql: str, params: dict[str, object],
                               text: Iterable[str] = ()) -> Any:
        """`sql`'s result (every contact in range) as a pandas DataFrame, read as CSV from
        COPY TO STDOUT: the rows are parsed by pandas' C reader, not one Python object per
        value (a million customer aggregates cost seconds the other way). The `text` columns
        stay strings ("NA" too); NULL and '' both come back as NaN."""
        import io

        import pandas as pd
        from psycopg import ClientCursor

        bound = ClientCursor(self.conn).mogrify(
            translate(sql), _params({**params, "lo": 0, "hi": 2**62}))
        buffer = io.BytesIO()
        with self.conn.cursor().copy(
                f"COPY ({bound}) TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
            for block in copy:
                buffer.write(block)
        buffer.seek(0)
        return pd.read_csv(buffer, keep_default_na=False, na_values=[""],
                           float_precision="round_trip", dtype={name: str for name in text})

    def next_id(self, table: str) -> int:
        return self.conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0]

    def columns_of(self, table: str) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum", (table,))]

    def drop_indexes(self, table: str, columns: Iterable[str] | None = None) -> list[str]:
        """Drop `table`'s plain indexes (on any of `columns`, or all); their CREATE SQL.
        Indexes behind constraints (primary keys, UNIQUE) stay."""
        wanted = None if columns is None else set(columns)
        rebuild = []
        for name, sql, cols in self.conn.execute(
                "SELECT i.relname, pg_get_indexdef(x.indexrelid), array(SELECT a.attname "
                "FROM pg_attribute a WHERE a.attrelid = x.indrelid AND a.attnum = ANY(x.indkey)) "
                "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = to_regclass(%s) AND NOT x.indisprimary AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY 1",
                (table,)).fetchall():
            if wanted is None or wanted & set(cols):
                self.conn.execute(f'DROP INDEX "{name}"')
                rebuild.append(sql)
        return rebuild

    def pause_trigger(self, name: str) -> list[str]:
        """Nothing: on the server a trigger keeps firing ([] to bring back). Only the
        table's owner may drop or disable one, and a team editor importing is not."""
        return []

    @contextmanager
    def indexes_dropped(self, table: str, columns: Iterable[str] | None = None) -> Iterator[None]:
        rebuild = self.drop_indexes(table, columns)
        yield
        for sql in rebuild:
            self.conn.execute(sql)

    def may_write(self, table: str) -> bool:
        """Whether this login may insert into `table` (a viewer may not)."""
        return bool(self.conn.execute("SELECT has_table_privilege(%s, 'INSERT')",
                                      (table,)).fetchone()[0])
    def exposed(self) -> bool:
        """True when every login of the server (PUBLIC) was granted access to contacts."""
        return bool(self.conn.execute(
            "SELECT coalesce(bool_or(a.grantee = 0), false) FROM pg_class c, "
            "aclexplode(c.relacl) a WHERE c.oid = to_regclass('contacts')").fetchone()[0])

    # ---- the server's storage ---------------------------------------------------------
    def secure_delete(self, on: bool = True) -> None:
        """Nothing to set: the server's files are the server's (see `compact`)."""

    def cache_kib(self, kib: int) -> None:
        """Nothing to set: the server sizes its own cache."""

    def checkpoint(self) -> bool:
        return True

    def vacuum(self) -> None:
        self.conn.execute("VACUUM")

    @contextmanager
    def rollback_journal(self) -> Iterator[None]:
        """The enclosed writes as any other: a server has no journal mode to switch (old
        row versions are its VACUUM's and WAL's business, see `compact`)."""
        self._journal = True
        try:
            yield
        finally:
            self._journal = False

    def in_rollback_journal(self) -> bool:
        return getattr(self, "_journal", False)

    def compact(self) -> str | None:
        """VACUUM the tables (dead row versions freed); None when done, else why not.
        What no client can scrub (the server's WAL, replicas, base backups) is SERVER_RESIDUE."""
        try:
            self.vacuum()
        except Exception as exc:  # noqa: BLE001 - the change is committed already
            return f"the server's VACUUM failed ({exc})"
        return None

    def integrity_problems(self) -> list[str]:
        """The server keeps its own pages sound (checksums, WAL): nothing to report here."""
        return []

    def backup(self, target: Path) -> None:
        """A consistent snapshot of the store written into `target` as an SQLite store."""
        from custdata.store.copying import snapshot_to_sqlite

        snapshot_to_sqlite(self, target)


def _quoted(columns: list[str]) -> list[str]:
    """Column names as the server needs them (`user` is a reserved word)."""
    return [f'"{c}"' if c == "user" else c for c in columns]


def _params(params: Any) -> Any:
    """psycopg's parameters: a mapping as is, any other iterable as a tuple."""
    if isinstance(params, Mapping):
        return params
    return tuple(params)
