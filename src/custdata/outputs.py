"""The one writer of every file custdata makes besides the store (rejects CSV, backups).

A file is written to a temp file beside the target (created 0600) and renamed over the
target only once it is complete, so a failure never leaves half a file or a temp file
behind and never destroys what was there. A target that is the store, one of its
-wal/-shm/-journal files, the key file or an input of the same command is refused before
anything is written. OS errors come back as one-line errors: a full disk is `DiskFull`
(exit 3, hint "free_space"), a folder or a missing permission `OutputFileError` (exit 2).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from custdata.crypto.keys import holds_key_text
from custdata.errors import CustdataError, DiskFull, OutputFileError

FILE_MODE = 0o600
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}


def private_mode() -> int:
    """0600, or stricter when the process's umask says so (0400 under umask 0277)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return FILE_MODE & ~mask


def stream_path(stream: object) -> Path | None:
    """A path naming the regular file behind an open stream (stdin redirected from a
    file, say), so it can be protected like a named input; None for a pipe or terminal."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
    except (AttributeError, OSError, ValueError):
        return None
    return Path(f"/dev/fd/{fd}")


def make_private(stream: object) -> bool:
    """Make the file behind `stream` private (0600, or as the umask says) when it is a
    regular file of ours that is still empty: a shell redirect (`> contacts.csv`) just made
    it with the umask's looser mode, and personal data is about to go in. True if changed."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        info = os.fstat(fd)
        if (not stat.S_ISREG(info.st_mode) or info.st_size or info.st_uid != os.geteuid()
                or not stat.S_IMODE(info.st_mode) & 0o077):
            return False
        os.fchmod(fd, stat.S_IMODE(info.st_mode) & private_mode())
        return True
    except (AttributeError, OSError, ValueError):
        return False


def store_paths(db: Path) -> dict[Path, str]:
    """The store and the files SQLite keeps beside it, each with what it is."""
    return {db: "the store", Path(f"{db}-wal"): "the store's WAL file",
            Path(f"{db}-shm"): "the store's shared-memory file",
            Path(f"{db}-journal"): "the store's journal"}


def _same(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def protected_match(target: Path, protected: Mapping[Path, str] | Iterable[Path]) -> str | None:
    """What `target` is when it is one of the `protected` paths ("the store"), else None."""
    names = protected if isinstance(protected, Mapping) else dict.fromkeys(protected, "an input")
    for path, what in names.items():
        if _same(target, Path(path)):
            return what
    return None


def check_target(target: Path, protected: Mapping[Path, str] | Iterable[Path] = ()) -> None:
    """Raise OutputFileError if `target` is protected, a key file, a folder, or in no folder."""
    what = protected_match(target, protected)
    if what is not None:
        raise OutputFileError(f"{target} is {what}; writing there would destroy it. "
                              "Choose another output file.")
    if target.is_dir():
        raise OutputFileError(f"{target} is a folder; give a file name.")
    if target.is_file() and holds_key_text(target):  # a key file this command was not given
        raise OutputFileError(f"{target} holds a custdata key; writing there would destroy "
                              "it, and with it the data it opens. Choose another output file.")
    if not target.parent.is_dir():
        raise OutputFileError(f"Cannot write {target}: the folder {target.parent} does not exist.")


def output_error(exc: OSError, target: Path) -> CustdataError:
    """The one-line error for an OSError met while writing `target`."""
    if exc.errno in _FULL:
        return DiskFull(f"Cannot write {target}: the disk is full.", hint="free_space")
    if exc.errno == errno.EISDIR:
        return OutputFileError(f"{target} is a folder; give a file name.")
    if exc.errno in _DENIED:
        return OutputFileError(f"Cannot write {target}: permission denied. Choose a file "
                               "in a folder you can write to.")
    if exc.errno == errno.ENOENT:
        return OutputFileError(f"Cannot write {target}: the folder {target.parent} does not exist.")
    return OutputFileError(f"Cannot write {target}: {exc.strerror or exc}.")


class AtomicFile:
    """A file being written: `tmp` fills up, `finish()` makes it `target`, `discard()` drops it.

    Create it with `check_target` already passed (see `open_output`). `finish` flushes
    and syncs first, so a full disk shows there, before the rename and before anything
    that depends on the file is reported as saved.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        self.tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        self.handle: IO[str] | None = None
        try:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            os.close(fd)
        except OSError as exc:
            raise output_error(exc, target) from exc

    def text(self) -> IO[str]:
        """The temp file opened for UTF-8 text (CSV: newline translation off)."""
        try:
            self.handle = open(self.tmp, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            self.discard()
            raise output_error(exc, self.target) from exc
        return self.handle

    def complete(self) -> None:
        """Flush, sync and close the temp file (errors become one-line errors; temp removed)."""
        try:
            if self.handle is not None and not self.handle.closed:
                self.handle.flush()
                os.fsync(self.handle.fileno())
                self.handle.close()
            os.chmod(self.tmp, private_mode())
        except OSError as exc:
            self.discard()
            raise output_error(exc, self.target) from exc

    def finish(self) -> None:
        """Complete the temp file and rename it over the target."""
        self.complete()
        try:
            os.replace(self.tmp, self.target)
        except OSError as exc:
            self.discard()
            raise output_error(exc, self.target) from exc

    def discard(self) -> None:
        """Drop the temp file (nothing of it stays); the target is left as it was."""
        if self.handle is not None and not self.handle.closed:
            try:
                self.handle.close()
            except OSError:
                pass
        self.tmp.unlink(missing_ok=True)


@contextmanager
def open_output(target: Path, protected: Mapping[Path, str] | Iterable[Path] = (),
                ) -> Iterator[AtomicFile]:
    """An AtomicFile for `target`: finished when the block ends, discarded if it raises.

    OSErrors raised inside the block (a write to a full disk) become one-line errors.
    """
    check_target(target, protected)
    out = AtomicFile(target)
    try:
        yield out
    except OSError as exc:
        out.discard()
        raise output_error(exc, target) from exc
    except BaseException:
        out.discard()
        raise
    out.finish()
