"""backup and restore: a checked copy of the store out, a checked copy back in.

    from custdata.api import Session, backups
    copy = backups.backup(Session(db=Path("crm.db")), "/srv/crm/backups/")
    backups.restore(Session(db=Path("crm.db")), copy)
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from custdata.api.common import protected_paths
from custdata.api.session import Session
from custdata.errors import InputFileError, OutputFileError, StoreError
from custdata.errors import UsageError
from custdata.outputs import AtomicFile, check_target, open_output, output_error
from custdata.store.location import database_name, is_server_url


def backup(session: Session, path: Path | str, *, force: bool = False,
           now: datetime | None = None) -> Path:
    """A checked copy of the store; returns the file written (0600, renamed into place).

    `path` is a folder when it exists as one or ends with a separator: the copy is a new
    dated file inside it (the folder is made if its parent exists). An existing file is
    replaced only with `force`. The store must pass SQLite's integrity check (StoreError,
    exit 3) and so must the copy before it takes the name. Never the store, its journal
    files or the key file. A reading command: a missing store is not created.
    """
    stem = database_name(str(session.db)) if is_server_url(session.db) else session.db.stem
    target = _backup_target(stem, path, now or datetime.now())
    check_target(target, protected_paths(session))  # the store or the key file: said first
    if _taken(target) and not force:
        raise OutputFileError(f"{target} already exists; it was left as it is. Name a new "
                              "file or a folder, or replace it on purpose.", hint="force")
    with session.store(read_only=True) as store:
        problems = store.integrity_problems()
        if problems:
            raise StoreError(f"The store {session.db} fails its integrity check "
                             f"({'; '.join(problems)}); it was not backed up. Restore the "
                             "last good backup.")
        with open_output(target, protected_paths(session)) as out:
            store.backup(out.tmp)
            _check_copy(out.tmp, target)
    return target


def _backup_target(stem: str, path: Path | str, now: datetime) -> Path:
    """The file a backup goes to: `path`, or a new dated file when it names a folder."""
    text = str(path)
    folder = Path(text)
    if not (folder.is_dir() or text.endswith((os.sep, "/"))):
        return folder
    if not folder.is_dir():
        if not folder.parent.is_dir():
            raise OutputFileError(f"Cannot make the backup folder {folder}: its parent "
                                  f"{folder.parent} does not exist.")
        try:
            folder.mkdir(mode=0o700)
        except OSError as exc:
            raise output_error(exc, folder) from exc
    stamp = f"{stem}-{now:%Y%m%d-%H%M%S}"
    target, n = folder / f"{stamp}.db", 1
    while _taken(target):  # two backups in one second: never the same name
        target, n = folder / f"{stamp}-{n}.db", n + 1
    return target


def _taken(path: Path) -> bool:
    """Whether something is at `path`; a folder that cannot be looked into is an error."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise output_error(exc, path) from exc
    return True


def _check_copy(copy: Path, target: Path) -> None:
    from custdata.store import copy_problems

    problems = copy_problems(copy)
    if problems:
        raise StoreError(f"The copy written for {target} failed its check "
                         f"({'; '.join(problems)}); nothing was kept. Try again.")


@dataclass
class Restored:
    """What `restore` did: the backup read, its SHA-256, and whether a store was replaced."""

    backup: Path
    sha256: str
    replaced: bool


def restore(session: Session, backup_file: Path) -> Restored:
    """Put a checked copy of `backup_file` in the place of the store, atomically.

    The backup is copied beside the store (0600), checked there (a custdata store that
    passes SQLite's integrity check; else InputFileError, exit 2, nothing changed),
    upgraded if an older custdata made it, logged as a `restore` operation, then renamed
    over the store while no other command has the store open. The current store is kept
    aside until the new one is in place and opens, and put back if anything fails.
    """
    if is_server_url(session.db):
        raise UsageError("restore replaces an SQLite store file; to bring a backup into a "
                         f"team store, copy it into an empty database: `custdata copy "
                         f"{backup_file} {session.db}`.")
    _check_backup_file(session, backup_file)
    staging = AtomicFile(session.db)
    try:
        digest = _stage(session, backup_file, staging)
        _log_restore(session, staging.tmp, backup_file, digest)
        replaced = _swap(session, staging.tmp)
    finally:
        staging.discard()
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{staging.tmp}{suffix}").unlink(missing_ok=True)
    return Restored(backup_file, digest, replaced)


def _check_backup_file(session: Session, backup_file: Path) -> None:
    if not backup_file.is_file():
        raise InputFileError(f"No backup file at {backup_file}; give the path of a file "
                             "`backup` wrote.")
    protected = protected_paths(session)
    protected.pop(session.db, None)
    for path, what in {session.db: "the store itself", **protected}.items():
        try:
            same = path.exists() and os.path.samefile(path, backup_file)
        except OSError:
            same = False
        if same:
            raise InputFileError(f"{backup_file} is {what}, not a backup of it.")
    check_target(session.db)  # its folder exists and the store is not a folder


def _stage(session: Session, backup_file: Path, staging: AtomicFile) -> str:
    """Copy the backup into the staging file and check it; its SHA-256."""
    from custdata.store import copy_database, copy_problems

    try:
        copy_database(backup_file, staging.tmp)
    except ValueError as exc:
        raise InputFileError(f"{backup_file} cannot be restored: {exc}.") from exc
    except OSError as exc:
        raise output_error(exc, session.db) from exc
    staging.complete()
    problems = copy_problems(staging.tmp)
    if problems:
        raise InputFileError(f"{backup_file} cannot be restored: {'; '.join(problems)}. "
                             "Nothing was changed; choose another backup.")
    digest = hashlib.sha256()
    with backup_file.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _log_restore(session: Session, staged: Path, backup_file: Path, digest: str) -> None:
    """Upgrade the staged copy if needed and record the restore in its operation log."""
    from custdata.store import open_store

    with open_store(staged, wait=session.wait, create=False) as store:
        with store.write(session.command_line, input_file=str(backup_file), sha256=digest) as op:
            op.counts["contacts"] = store.contacts.count()
        store.db.checkpoint()
        store.db.execute("PRAGMA journal_mode = DELETE")


def _swap(session: Session, staged: Path) -> bool:
    """Rename the staged store over the store, the old one aside until the new one opens."""
    from custdata.store import open_store, swap_in
    from custdata.store.turn import exclusive_turn

    db = session.db
    aside = db.with_name(f".{db.name}.{os.getpid()}.before-restore")
    with exclusive_turn(db, session.wait):
        replaced = swap_in(db, staged, aside, wait=session.wait)
    try:
        with open_store(db, wait=session.wait, create=False):
            pass
    except BaseException:
        if replaced:
            os.replace(aside, db)
        raise
    aside.unlink(missing_ok=True)
    return replaced
