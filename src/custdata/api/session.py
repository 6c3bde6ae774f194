"""`Session`: everything a command needs to know before it runs, passed in, never global.

The CLI builds one from its global options and the environment (httpie's `Environment`);
Python code and tests build their own:

    from custdata.api import Session, data
    session = Session(db=Path("crm.db"))
    counts = data.import_records(session, "contacts", Path("leads.csv"))
"""

from __future__ import annotations

import os

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from custdata.config import Config, load_config
from custdata.errors import ConfigError, KeyFileError

# progress(description, total) -> a context manager yielding advance(n)
Progress = Callable[[str, "int | None"], AbstractContextManager[Callable[[int], None]]]


def no_progress(description: str, total: int | None) -> AbstractContextManager[Callable[[int], None]]:
    """The progress of a session nobody watches: advance() does nothing."""
    return nullcontext(lambda n: None)


def _ignore(message: str) -> None:
    return None


class Notice(str):
    """A message for the person (`Session.notify`) that may need advice only a front end
    can give: `hint` names it (the CLI turns it into the option to pass, cli/_hints.py),
    so a Python caller reads the text alone, without command-line flags."""

    hint: str | None

    def __new__(cls, text: str, hint: str | None = None) -> "Notice":
        notice = super().__new__(cls, text)
        notice.hint = hint
        return notice


@dataclass
class Session:
    """One run's settings: the store, config, key file, lock wait, today, and callbacks.

    db: the store's path. config_path: a TOML file (default: custdata.toml beside the
    store). key_file: the file holding the key (read once, on first need). wait: seconds
    to wait for another command's lock. today: the as-of default. command_line: what the
    operation log records (secrets already removed). progress/notify: how long work and
    messages reach a person (the CLI's progress bars and stderr; nothing by default).
    pause_at(point): called by every write at its synchronisation points
    ("write:before-lock": the command's reading and planning done, the lock not yet
    asked for; "write:locked": the lock held; "write:committed": just after the commit),
    so that a test can run another command right there (see docs/ARCHITECTURE.md).
    """

    db: Path | str = Path("custdata.db")  # a file, or a postgresql:// URL (team store)
    config_path: Path | None = None
    key_file: Path | None = None
    wait: float = 30.0
    today: date = field(default_factory=date.today)
    command_line: str = "custdata"
    progress: Progress = no_progress
    notify: Callable[[str], None] = _ignore
    pause_at: Callable[[str], None] = _ignore
    _config: Config | None = field(default=None, repr=False)
    _key: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        from custdata.store.location import store_location

        self.db = store_location(self.db)  # a file path as a Path; a URL checked

    @property
    def on_server(self) -> bool:
        """True for a team store (a PostgreSQL URL), False for an SQLite file."""
        return not isinstance(self.db, Path)

    def store_exists(self) -> bool:
        """Whether the store exists already (the file; the schema on the server)."""
        if isinstance(self.db, Path):
            return self.db.exists()
        from custdata.errors import UsageError
        from custdata.store import open_store

        try:
            open_store(self.db, wait=self.wait, create=False).close()
        except UsageError:
            return False
        return True

    # ---- settings ----------------------------------------------------------------
    def resolved_config_path(self) -> Path:
        """The named config, else custdata.toml beside the store (for a team store: in
        the current folder)."""
        if self.config_path is not None:
            return self.config_path
        if isinstance(self.db, Path):
            return self.db.parent / "custdata.toml"
        return Path("custdata.toml")

    @property
    def config(self) -> Config:
        """The effective config; a config file named by the caller must exist."""
        if self._config is None:
            if self.config_path is not None and not self.config_path.exists():
                raise ConfigError(f"The config file {self.config_path} does not exist; "
                                  "name an existing file or leave it out.")
            self._config = load_config(self.resolved_config_path())
        return self._config

    @property
    def region(self) -> str:
        return self.config.get("general", "region")

    @property
    def dayfirst(self) -> bool:
        return self.config.get("general", "dayfirst")

    def key(self) -> bytes | None:
        """The key from the key file (read once), or None when no key file is named."""
        if self._key is None and self.key_file is not None:
            from custdata.crypto import key_file_is_private

            self._key = read_key(self.key_file)
            if not key_file_is_private(self.key_file):
                self.notify(f"warning: the key file {self.key_file} can be read by other users "
                            f"of this machine; make it private (chmod 600 {self.key_file}).")
        return self._key

    # ---- the store ---------------------------------------------------------------
    @contextmanager
    def store(self, *, need_key: bool = False, mask: bool = False,
              read_only: bool = False) -> Iterator[Any]:
        """The store, opened (created and migrated if needed) with its protector; closed after.

        need_key: the command writes or must show real values (fail without the key);
        mask: show masked values of encrypted columns even when the key is at hand;
        read_only: a command that only reads: it never creates a store (a missing one
        is an error naming the path), and it works on a store it cannot write.
        A given key is checked against the store's key id before anything else. Every
        write re-derives the protector under the write lock (`Store.write`).
        """
        from custdata.store import open_store

        self.config  # a named config file that is missing fails before the store is touched
        store = open_store(self.db, wait=self.wait, create=not read_only, read_only=read_only)
        try:
            factory = self._protector_factory(need_key=need_key, mask=mask)
            store.protector = factory(store.crypto.state())
            store.protector_for = factory
            store.pause_at = self.pause_at
            yield store
        finally:
            store.close()

    def _protector_factory(self, *, need_key: bool, mask: bool) -> Callable[[Any], Any]:
        """state -> the protector: plain, or the crypto one (masking without the key)."""
        from custdata.crypto import CryptoProtector, PlainProtector

        built: dict[Any, Any] = {}  # state -> its protector: each one is built once

        def protector_for(state: Any) -> Any:
            if state is None:
                return PlainProtector()
            if state in built:
                return built[state]
            key = None if mask else self.key()
            if key is None and need_key:
                raise KeyFileError(
                    f"This store's encrypted columns ({', '.join(state.columns)}) need the "
                    "key for this command.", hint="key_file_or_mask")
            built.clear()
            built[state] = CryptoProtector(key, salt=state.salt, columns=state.columns,
                                           expected_key_id=state.key_id)
            return built[state]

        return protector_for


def looks_like_key(path: Path | str) -> bool:
    """True when a key file setting holds a key itself (key file text or base64) not a path."""
    import re

    text = str(path).strip()
    if os.path.lexists(text):
        return False
    return "custdata-key-v1:" in text or re.fullmatch(r"[A-Za-z0-9_\-+/]{43}=?", text) is not None


def read_key(path: Path) -> bytes:
    """The key in the key file at `path`; KeyFileError (never echoing a key) otherwise."""
    from custdata.crypto import read_key_file

    if looks_like_key(path):
        raise KeyFileError("The key file setting holds what looks like a key, not a path: a "
                           "key file path is expected (the key itself is never given as a "
                           "value, so it does not end up in shell history or logs).",
                           hint="key_file")
    return read_key_file(path)
