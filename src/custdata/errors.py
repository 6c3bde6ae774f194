"""One exception tree for everything a user can cause, each class carrying its exit code."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The contract's exit codes (SPEC.md section 1)."""

    OK = 0
    FINDINGS = 1  # ran fine, and a --fail-* check found problems
    USAGE = 2  # bad options or unusable input
    STORE = 3  # locked past --wait, corrupt, newer schema
    INTERRUPTED = 130


class CustdataError(Exception):
    """Base of every user-facing error; the CLI maps it to a message and `exit_code`.

    Messages say what is wrong and what value would fix it, never a command-line flag:
    `hint` names that value ("key_file": the store's key, from a key file;
    "key_file_unusable": a readable key file; "as_of": another cut date; "currency":
    one report currency; "wait": a longer lock wait) and `example` is a
    value that would do, when one is known. The CLI turns them into a hint naming its
    option (`custdata.cli._hints`).
    """

    exit_code: ExitCode = ExitCode.USAGE
    hint: str | None = None
    example: str | None = None

    def __init__(self, *args: object, hint: str | None = None,
                 example: str | None = None) -> None:
        super().__init__(*args)
        if hint is not None:
            self.hint = hint
        if example is not None:
            self.example = example


class UsageError(CustdataError):
    """Options that make no sense together, unknown names, bad values on the command line."""


class InputFileError(CustdataError):
    """A file that cannot be used: unreadable, undecodable, not text, unknown column."""


class ConfigError(CustdataError):
    """A config file that cannot be read or holds a value of the wrong type."""


class KeyFileError(CustdataError):
    """A missing, unreadable or wrong encryption key."""


class NotFoundError(CustdataError):
    """A CONTACT or MERGE_ID argument that matches nothing, or matches several."""


class StoreError(CustdataError):
    """The SQLite store is locked past the wait, corrupt, or made by a newer version."""

    exit_code = ExitCode.STORE


class TamperedValue(StoreError):
    """A sealed value that fails authentication: moved, edited or corrupted (exit 3)."""


class InsufficientHistory(CustdataError):
    """Too few customers, repeat customers or days of data for a meaningful fit or backtest."""


class OutputFileError(CustdataError):
    """An output file that cannot be written: a folder, no permission, or a protected path
    (the store, its journal files, the key file, an input of the same command)."""


class DiskFull(CustdataError):
    """An output (or the store) could not be written because the disk is full."""

    exit_code = ExitCode.STORE


class CheckFailed(CustdataError):
    """The command ran and a --fail-* / --strict check failed."""

    exit_code = ExitCode.FINDINGS


class InvalidValue(ValueError):
    """One value that cannot be normalised. Not a CustdataError: bad data is a result.

    The value travels as an attribute so messages never have to include it.
    """

    def __init__(self, field: str, value: str, reason: str, code: str = "") -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason
        self.code = code or f"{field}.invalid"


ECHO_LIMIT = 200  # characters of user input a message repeats


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """`text` as a message may echo it: at most `limit` characters, the cut marked with …"""
    return text if len(text) <= limit else text[:limit - 1] + "…"
