"""keygen, encrypt, decrypt, rotate-key and forget: parse, call custdata.api.secure, render."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from custdata.api import secure as api
from custdata.api.session import Session
from custdata.cli._shared import ask, say
from custdata.errors import CheckFailed, UsageError


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


def _interactive() -> bool:
    """True when a person at a terminal can answer a confirmation prompt."""
    return sys.stdin.isatty()


def _columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    columns = [c.strip().lower() for c in text.split(",") if c.strip()]
    if not columns:
        raise UsageError("--columns needs at least one column name, e.g. --columns email,phone.")
    return columns


def _say_left(left: str | None) -> None:
    if left is not None:
        say("warning: " + api.LEFT_FOR_LATER.format(reason=left))


def keygen(
    ctx: typer.Context,
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", help="Where to write the new key (never overwritten; mode 0600).",
        show_default=False)] = None,
) -> None:
    """Write a new random 256-bit key to a file of its own (mode 0600), never overwriting one.

    Keep a copy somewhere safe: without the key, encrypted values cannot be read.
    """
    made = api.keygen(ctx.obj, key_file=key_file)
    say(f"Wrote a new key to {made.path} (mode 0600), key id {made.key_id}. Keep a copy "
        "somewhere safe: without it, encrypted data cannot be read.")


def encrypt(ctx: typer.Context, columns: ColumnsOpt = None, key_file: KeyFileOpt = None) -> None:
    """Encrypt sensitive contact columns in place (AES-256-GCM), with blind indexes for lookups.

    Also seals their copies in extra, history and merge records, rejected rows and
    customer references; once it has committed, no plaintext remains in the file.
    """
    done = api.encrypt(ctx.obj, columns=_columns(columns), key_file=key_file)
    counts, names = done.counts, ", ".join(done.columns)
    if not done.changed:
        say(f"Nothing to encrypt: {names} already encrypted under key id {done.key_id}.")
        return
    say(f"Encrypted {names} of {counts['contacts']} contacts under key id {done.key_id} "
        f"({counts['history']} history values, {counts['rejects']} rejects, "
        f"{counts['orders'] + counts['interactions']} customer references sealed).")
    _say_left(done.left)


def decrypt(ctx: typer.Context, columns: ColumnsOpt = None, key_file: KeyFileOpt = None) -> None:
    """Decrypt encrypted contact columns (all of them unless --columns), undoing `encrypt`."""
    done = api.decrypt(ctx.obj, columns=_columns(columns), key_file=key_file)
    if not done.changed:
        say("Nothing to decrypt: this store has no encrypted columns.")
        return
    left = ", ".join(done.columns) or "none"
    say(f"Decrypted {done.counts['contacts']} contacts; still encrypted: {left}.")
    _say_left(done.left)


def rotate_key(
    ctx: typer.Context,
    new_key_file: Annotated[Path, typer.Option(
        "--new-key-file", help="File holding the new key (make it with keygen).",
        show_default=False)],
    key_file: KeyFileOpt = None,
) -> None:
    """Re-encrypt everything under a new key in one transaction; the old key stops working.

    Backups made before the rotation still need the old key.
    """
    done = api.rotate_key(ctx.obj, new_key_file=new_key_file, key_file=key_file)
    say(f"Re-encrypted {done.counts['contacts']} contacts under key id {done.key_id}; "
        f"the old key ({done.old_key_id}) no longer opens this store. Keep {new_key_file} safe.")
    _say_left(done.left)


def _who(cid: int, person: dict) -> str:
    """"id:7 王伟 (C1, 北京星辰科技, 138 0013 8000)": who a prompt is about."""
    details = [str(person[k]) for k in ("external_id", "company", "phone_or_email")
               if person.get(k)]
    name = person.get("name") or "(no name)"
    return f"id:{cid} {name}" + (f" ({', '.join(details)})" if details else "")


def forget(
    ctx: typer.Context,
    contact: Annotated[str | None, typer.Argument(
        metavar="CONTACT",
        help="Contact id, external id, email or phone (prefix id:, ext:, email: or phone:).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    list_: Annotated[bool, typer.Option(
        "--list", help="Show the suppression list: how many people were erased and when "
                       "(never who).")] = False,
) -> None:
    """Erase a person's personal data everywhere (PIPL / GDPR); their orders stay, anonymous.

    Blanks the contact, deletes its history and that of the records merged into it, the
    rejected rows and merge records that hold it, and interaction notes; the log
    records the act without personal data. Keyed hashes of the person's identifiers go
    on a suppression list, so that a later import skips their rows.
    """
    session: Session = ctx.obj
    if list_:
        if contact is not None:
            raise UsageError("forget --list takes no CONTACT.")
        _show_erasures(api.erasures(session))
        return
    if contact is None:
        raise UsageError("Name the CONTACT to erase (or pass --list).")
    if not yes and not _interactive():
        raise UsageError("forget erases data for good and cannot ask for confirmation "
                         "here; pass --yes to confirm.")

    def confirm(cid: int, person: dict) -> bool:
        return yes or ask(f"Erase all personal data of {_who(cid, person)}? "
                          "This cannot be undone")

    done = api.forget(session, contact, confirm=confirm)
    if not done.erased:
        raise CheckFailed("Nothing was erased.")
    c = done.counts
    merged = f" and {c['merged_records']} records merged into it" if c["merged_records"] else ""
    say(f"Erased the personal data of contact id:{done.contact_id}{merged}: {c['history']} "
        f"history rows, {c['rejects']} rejected rows, {c['interactions']} interactions and "
        f"{c['merges']} merge records; its {c['orders']} orders were kept, anonymous; "
        f"{c['suppressed']} identifiers added to the suppression list.")
    _say_left(done.left)


def _show_erasures(erasures: list) -> None:
    """The suppression list on stdout: one line per erasure, then the count."""
    for e in erasures:
        typer.echo(f"{e.at[:10]}  erased, {e.identifiers} identifier(s) listed")
    people = len(erasures)
    typer.echo(f"{people} {'person' if people == 1 else 'people'} erased at their request; "
               "only keyed hashes of their identifiers are kept.")
