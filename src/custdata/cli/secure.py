"""keygen, encrypt, decrypt, rotate-key and forget: protecting and erasing personal data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from custdata.cli._shared import open_store, resolve_contact, say, state
from custdata.crypto import generate_key, key_file_is_private, key_id, read_key_file, write_key_file
from custdata.errors import ExitCode, KeyFileError, UsageError


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.command("keygen")(keygen)
    app.command("encrypt")(encrypt)
    app.command("decrypt")(decrypt)
    app.command("rotate-key")(rotate_key)
    app.command("forget")(forget)


KeyFileOpt = Annotated[Path | None, typer.Option(
    "--key-file", help="File holding the key (default: the global --key-file, else env "
    "CUSTDATA_KEY_FILE).", show_default=False)]
ColumnsOpt = Annotated[str | None, typer.Option(
    "--columns", help="Comma-separated contact columns (default: config crypto.columns).",
    show_default=False)]


def _key_path(local: Path | None, *, what: str) -> Path:
    """The key file to use: the command's --key-file, the global one, or CUSTDATA_KEY_FILE."""
    if local is not None:
        state.key_file = local  # so the store opener checks this same key
    path = state.resolved_key_file()
    if path is None:
        raise KeyFileError(
            f"{what} needs the key: pass --key-file PATH or set CUSTDATA_KEY_FILE to the key "
            "file's path (make one with `custdata keygen --key-file PATH`).")
    return path


def _read_key(path: Path) -> bytes:
    key = read_key_file(path)
    if not key_file_is_private(path):
        say(f"warning: key file {path} can be read by other users; run `chmod 600 {path}`.")
    return key


def _interactive() -> bool:
    """True when a person at a terminal can answer a confirmation prompt."""
    return sys.stdin.isatty()


def _columns(text: str | None) -> list[str]:
    if text is None:
        return list(state.config.get("crypto", "columns"))
    columns = [c.strip().lower() for c in text.split(",") if c.strip()]
    if not columns:
        raise UsageError("--columns needs at least one column name, e.g. --columns email,phone.")
    return columns


def keygen(
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", help="Where to write the new key (never overwritten; mode 0600).",
        show_default=False)] = None,
) -> None:
    """Write a new random 256-bit key to a file of its own (mode 0600), never overwriting one.

    Keep a copy somewhere safe: without the key, encrypted values cannot be read.
    """
    path = key_file or state.resolved_key_file()
    if path is None:
        raise UsageError("Name the new key file: custdata keygen --key-file PATH.")
    key = generate_key()
    write_key_file(path, key)
    say(f"Wrote a new key to {path} (mode 0600), key id {key_id(key)}. Keep a copy somewhere "
        "safe: without it, encrypted data cannot be read.")


def encrypt(columns: ColumnsOpt = None, key_file: KeyFileOpt = None) -> None:
    """Encrypt sensitive contact columns in place (AES-256-GCM), with blind indexes for lookups.

    Also seals their history, rejected rows and customer references, then scrubs the file
    so no plaintext remains in it, its WAL or its free pages.
    """
    path = _key_path(key_file, what="encrypt")
    key = _read_key(path)
    with open_store(need_key=True) as store:
        counts = store.crypto.encrypt_columns(key, _columns(columns), command=state.command_line)
        names = ", ".join(sorted(store.protector.encrypted_columns))
    say(f"Encrypted {names} of {counts['contacts']} contacts under key id {key_id(key)} "
        f"({counts['history']} history values, {counts['rejects']} rejects, "
        f"{counts['orders'] + counts['interactions']} customer references sealed).")


def decrypt(columns: ColumnsOpt = None, key_file: KeyFileOpt = None) -> None:
    """Decrypt encrypted contact columns (all of them unless --columns), undoing `encrypt`."""
    path = _key_path(key_file, what="decrypt")
    key = _read_key(path)
    with open_store(need_key=True) as store:
        if store.crypto.state() is None:
            say("Nothing to decrypt: this store has no encrypted columns.")
            return
        wanted = None if columns is None else _columns(columns)
        counts = store.crypto.decrypt_columns(key, wanted, command=state.command_line)
        left = ", ".join(sorted(store.protector.encrypted_columns)) or "none"
    say(f"Decrypted {counts['contacts']} contacts; still encrypted: {left}.")


def rotate_key(
    new_key_file: Annotated[Path, typer.Option(
        "--new-key-file", help="File holding the new key (make it with keygen).",
        show_default=False)],
    key_file: KeyFileOpt = None,
) -> None:
    """Re-encrypt everything under a new key in one transaction; the old key stops working.

    Backups made before the rotation still need the old key.
    """
    path = _key_path(key_file, what="rotate-key")
    old_key = _read_key(path)
    with open_store(need_key=True) as store:
        if store.crypto.state() is None:
            raise UsageError("This store has no encrypted columns, so there is no key to "
                             "rotate; run `custdata encrypt` first.")
        new_key = _read_key(new_key_file)
        counts = store.crypto.rotate_key(old_key, new_key, command=state.command_line)
    say(f"Re-encrypted {counts['contacts']} contacts under key id {key_id(new_key)}; "
        f"the old key ({key_id(old_key)}) no longer opens this store. Keep {new_key_file} safe.")


def forget(
    contact: Annotated[str, typer.Argument(
        metavar="CONTACT",
        help="Contact id, external id, email or phone (prefix id:, ext:, email: or phone:).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a person's personal data everywhere (PIPL / GDPR); their orders stay, anonymous.

    Blanks the contact, deletes its history, the rejected rows and merge records that
    hold it, and interaction notes; the log records the act without personal data.
    """
    with open_store(need_key=True, command_line="custdata forget") as store:
        cid = resolve_contact(store, contact)
        if not yes:
            if not _interactive():
                raise UsageError("forget erases data for good and cannot ask for confirmation "
                                 "here; pass --yes to confirm.")
            if not typer.confirm(f"Erase all personal data of contact id:{cid}? "
                                 "This cannot be undone", default=False, err=True):
                say("Nothing was erased.")
                raise typer.Exit(ExitCode.FINDINGS)
        counts = store.forget.forget_contact(cid, command=f"custdata forget id:{cid}")
    say(f"Erased the personal data of contact id:{cid}: {counts['history']} history rows, "
        f"{counts['rejects']} rejected rows, {counts['interactions']} interactions and "
        f"{counts['merges']} merge records; its {counts['orders']} orders were kept, anonymous.")
