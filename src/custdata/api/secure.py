"""keygen, encrypt, decrypt, rotate-key and forget: protecting and erasing personal data.

Every re-keying and erasure follows one protocol: the store is opened and the key
checked (a wrong key changes nothing); then the write lock is taken and the
encryption state is read again under it, so the old and new protectors are those of
the state the change is applied to, whatever another command committed meanwhile.
encrypt, rotate-key and forget run with a rollback journal and secure_delete: once
they commit, no old value is left in the database file or a journal, even if the
process is killed at that very moment. Compacting the file afterwards is best effort:
when it cannot run (another reader, a full disk), the result says so and the next
writing command finishes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from custdata.api.person import Person
from custdata.api.session import Session, read_key
from custdata.crypto import CryptoProtector, PlainProtector, generate_key, key_file_is_private
from custdata.crypto import key_id, new_salt, write_key_file
from custdata.errors import KeyFileError, StoreError, UsageError
from custdata.crypto.recode import ContactRecoder, recode_rows
from custdata.normalize.keys import KEY_KINDS
from custdata.normalize.keys import key_of as plain_key
from custdata.store.crypto import CACHE_KIB, check_encryptable
from custdata.store.turn import exclusive_turn

__all__ = ["KeyInfo", "Rekeyed", "Forgotten", "Recoding", "keygen", "encrypt", "decrypt",
           "rotate_key", "forget", "LEFT_FOR_LATER"]

# What a result's `left` means for the person: the change is saved, compaction is not.
LEFT_FOR_LATER = ("The change was saved; compacting the store's file (no value is left in it "
                  "in clear) was left for later because {reason}. The next custdata command "
                  "that writes to this store finishes it.")


@dataclass(frozen=True)
class KeyInfo:
    """A key file written by keygen."""

    path: Path
    key_id: str


@dataclass
class Rekeyed:
    """What encrypt, decrypt or rotate-key did.

    counts: rows re-written per table; columns: the columns encrypted after it; key_id /
    old_key_id: the store's key before and after; changed: False when there was nothing
    to do; left: why compacting the file was left for later (None when done).
    """

    counts: dict[str, int] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    key_id: str | None = None
    old_key_id: str | None = None
    changed: bool = True
    left: str | None = None


@dataclass
class Forgotten:
    """What forget did: the contact, counts per table, and `left` (see Rekeyed)."""

    contact_id: int
    counts: dict[str, int] = field(default_factory=dict)
    erased: bool = True
    left: str | None = None


_DOING = {"encrypt": "encrypting contacts", "decrypt": "decrypting contacts",
          "rotate-key": "re-keying contacts"}


class _NothingToDo(Exception):
    """Raised inside a write to roll it back: the state read under the lock needs no change."""


@dataclass(frozen=True)
class Recoding:
    """The domain half of re-keying for the store (crypto.recode, normalize.keys; one region)."""

    region: str
    kinds: tuple[tuple[str, str], ...] = KEY_KINDS

    def recoder(self, old: Any, new: Any, *, columns: list[str], kinds: list[tuple[str, str]],
                log_words: dict[str, set[str]]) -> ContactRecoder:
        return ContactRecoder(old, new, columns=columns, kinds=kinds, region=self.region,
                              log_words=log_words)

    def recode_rows(self, recoder: ContactRecoder, rows: Iterable[tuple], *,
                    workers: int | None) -> Iterator[tuple[list, set[str]]]:
        return recode_rows(recoder, rows, workers=workers)

    def word_forms(self, word: str) -> set[str]:
        """The normalized forms under which a logged word could match a value."""
        forms: set[str | None] = set()
        if "@" in word:
            forms.add(plain_key("email", word, self.region))
        if sum(ch.isdigit() for ch in word) >= 7:
            forms.update((plain_key("phone", word, self.region),
                          plain_key("id_number", word, self.region)))
        return {f for f in forms if f}


# ---- keys -------------------------------------------------------------------------------

def keygen(session: Session, *, key_file: Path | None = None) -> KeyInfo:
    """Write a new random key to `key_file` (else the session's), mode 0600, never overwriting."""
    path = key_file or session.key_file
    if path is None:
        raise UsageError("Name the new key file.", hint="keygen_path")
    key = generate_key()
    write_key_file(path, key)
    return KeyInfo(path, key_id(key))


def _with_key_file(session: Session, key_file: Path | None) -> Session:
    """The session, with the command's own key file if it names one (the global one stays)."""
    return session if key_file is None else replace(session, key_file=key_file, _key=None)


def _warn_if_shared(session: Session, path: Path) -> None:
    if not key_file_is_private(path):
        session.notify(f"warning: the key file {path} can be read by other users "
                       f"of this machine; make it private (chmod 600 {path}).")


def _session_key(session: Session, what: str) -> bytes:
    """The session's key, read once; KeyFileError saying how to give one."""
    if session.key_file is None:
        raise KeyFileError(f"{what} needs the key.", hint="key_file_keygen")
    key = session.key()  # warns when others can read the file
    assert key is not None
    return key


# ---- the protocol ------------------------------------------------------------------------

def _server_note(session: Session) -> None:
    """On a team store, say what no client can scrub (the server's WAL, replicas...)."""
    if session.on_server:
        from custdata.store.postgres import SERVER_RESIDUE

        session.notify(SERVER_RESIDUE)


class _JournalChanged(Exception):
    """Another command put the store back in WAL mode before this one took the lock."""


def _protected_write(store: Any, command: str, body: Callable[[Any], Any], *,
                     rollback_journal: bool) -> Any:
    """body(op) inside one write: lock first, then every fact read under it; compacted after.

    rollback_journal: run with a rollback journal (no old value survives the commit).
    Returns what body returns; the scrub is marked pending in the same transaction, so a
    kill before it runs leaves it to the next writing command.
    """
    for _ in range(5):
        journal = store.db.rollback_journal() if rollback_journal else nullcontext()
        try:
            with journal, store.write(command, role="admin") as op:
                if rollback_journal and not store.db.in_rollback_journal():
                    raise _JournalChanged()
                result = body(op)
                store.crypto.mark_scrub_pending()
            return result
        except _JournalChanged:
            continue
    raise StoreError("Other custdata commands keep opening the store; nothing was changed. "
                     "Try again when they end.", hint="wait")


def _rekey(session: Session, operation: str, plan: Callable[[Any, Any], Any],
           workers: int | None) -> Rekeyed:
    """Re-key the store from the protector of the state read under the lock to plan(store, old).

    plan raises _NothingToDo when that state needs no change (nothing is written).
    """
    recoding = Recoding(session.region)
    with exclusive_turn(session.db, session.wait), session.store(need_key=True) as store:
        store.db.secure_delete(True)
        store.db.cache_kib(CACHE_KIB)

        def body(op: Any) -> tuple[Any, Any, dict]:
            old = store.protector  # from the encryption state read under the lock
            new = plan(store, old)
            words = store.forget.log_words(recoding.word_forms)
            with session.progress(_DOING[operation], store.contacts.count()) as advance:
                return old, new, store.crypto.transcode(
                    op, old, new, operation=operation, recoding=recoding, log_words=words,
                    workers=workers, advance=advance)

        try:
            old, new, counts = _protected_write(store, session.command_line, body,
                                                rollback_journal=operation != "decrypt")
        except _NothingToDo:
            return Rekeyed(columns=sorted(store.protector.encrypted_columns), changed=False,
                           key_id=getattr(store.protector, "key_id", None))
        store.protector = new
        _server_note(session)
        return Rekeyed(counts, sorted(new.encrypted_columns), getattr(new, "key_id", None),
                       getattr(old, "key_id", None), left=store.scrub_left)


def encrypt(session: Session, *, columns: Iterable[str] | None = None,
            key_file: Path | None = None, workers: int | None = None) -> Rekeyed:
    """Encrypt `columns` (default: config crypto.columns), added to any already encrypted.

    `workers`: processes that seal a big store's contacts (None: every core; 1: here).
    """
    session = _with_key_file(session, key_file)
    key = _session_key(session, "encrypt")
    wanted = set(session.config.get("crypto", "columns") if columns is None else columns)
    check_encryptable(wanted)

    def plan(store: Any, old: Any) -> Any:
        state = store.crypto.state()
        if state is not None and wanted <= set(state.columns):
            raise _NothingToDo()
        return CryptoProtector(key, salt=state.salt if state else new_salt(),
                               columns=wanted | set(state.columns if state else ()))

    return _rekey(session, "encrypt", plan, workers)


def decrypt(session: Session, *, columns: Iterable[str] | None = None,
            key_file: Path | None = None, workers: int | None = None) -> Rekeyed:
    """Decrypt `columns` (all when None); `changed` is False on a store with none encrypted."""
    session = _with_key_file(session, key_file)
    key = _session_key(session, "decrypt")
    wanted = None if columns is None else set(columns)

    def plan(store: Any, old: Any) -> Any:
        if not isinstance(old, CryptoProtector):
            raise _NothingToDo()
        unknown = sorted((wanted or set()) - old.encrypted_columns)
        if unknown:
            raise UsageError(f"{', '.join(unknown)} is not encrypted; encrypted columns: "
                             f"{', '.join(sorted(old.encrypted_columns))}.")
        keep = set() if wanted is None else old.encrypted_columns - wanted
        return CryptoProtector(key, salt=old.salt, columns=keep) if keep else PlainProtector()

    return _rekey(session, "decrypt", plan, workers)


def rotate_key(session: Session, *, new_key_file: Path, key_file: Path | None = None,
               workers: int | None = None) -> Rekeyed:
    """Re-encrypt every sealed value and blind index under the key in `new_key_file`."""
    session = _with_key_file(session, key_file)
    _session_key(session, "rotate-key")
    new_key = read_key(new_key_file)
    _warn_if_shared(session, new_key_file)

    def plan(store: Any, old: Any) -> Any:
        if not isinstance(old, CryptoProtector):
            raise UsageError("This store has no encrypted columns; there is no key to rotate. "
                             "Run `custdata encrypt` first.")
        if key_id(new_key) == old.key_id:
            raise KeyFileError("The new key file holds the store's current key; make a new "
                               "one with `custdata keygen`.")
        return CryptoProtector(new_key, salt=new_salt(), columns=old.encrypted_columns)

    return _rekey(session, "rotate-key", plan, workers)


# ---- forget ----------------------------------------------------------------------------------

def forget(session: Session, contact: str | int, *,
           confirm: Callable[[int, dict], bool] | None = None) -> Forgotten:
    """Erase a person's personal data everywhere, records merged into them included.

    `contact`: an id or any identifier resolve_contact reads. confirm(contact id, person)
    -> False stops before anything is written (erased=False); person: who it is
    (api.people.who: name, company, phone_or_email; and external_id). Orders stay,
    anonymous.
    """
    from custdata.api.common import resolve_contact
    from custdata.api.people import who

    with exclusive_turn(session.db, session.wait), session.store(need_key=True) as store:
        cid = contact if isinstance(contact, int) else resolve_contact(
            store, contact, region=session.region)
        person = {**who(store, [cid]).get(cid, {}),
                  "external_id": store.contacts.external_ids([cid]).get(cid)}
        if confirm is not None and not confirm(cid, person):
            return Forgotten(cid, erased=False)
        store.db.secure_delete(True)

        def body(op: Any) -> dict:
            rows = store.forget.person(cid)  # read under the lock
            person = Person.of_rows(rows, session.region)
            words = store.forget.log_words(Recoding(session.region).word_forms)
            hits = set().union(*(words.get(w, set()) for w in person.words()))
            counts = store.forget.erase(op, cid, [r["id"] for r in rows[1:]],
                                        found_in=person.found_in, log_hits=hits)
            counts["suppressed"] = store.suppression.add(
                op.id, op.at, _identifiers(rows, session.region))
            op.counts["suppressed"] = counts["suppressed"]
            return counts

        counts = _protected_write(store, f"custdata forget id:{cid}", body,
                                  rollback_journal=True)
        _server_note(session)
        return Forgotten(cid, counts, left=store.scrub_left)


def _identifiers(rows: Iterable[dict], region: str) -> set[tuple[str, str]]:
    """(kind, match key) of every identifier of the person's records: what the
    suppression list keeps (hashed) so that an import does not bring them back."""
    found: set[tuple[str, str]] = set()
    for row in rows:
        if row.get("external_id"):
            found.add(("external_id", row["external_id"]))
        for kind in ("email", "phone", "id_number"):
            key = plain_key(kind, row.get(kind), region)
            if key:
                found.add((kind, key))
    return found


@dataclass(frozen=True)
class Erasure:
    """One `forget` on the suppression list: when, and how many identifiers it keeps."""

    at: str
    identifiers: int


def erasures(session: Session) -> list[Erasure]:
    """The suppression list as `forget --list` shows it: dates and counts, never values."""
    with session.store(read_only=True) as store:
        return [Erasure(r["at"], r["identifiers"]) for r in store.suppression.erasures()]


# ---- masking for export --mask -----------------------------------------------------------

def row_masker(session: Session, protector: Any) -> Callable[[str, dict], dict]:
    """mask(kind, row) -> the row with every sensitive value masked, encrypted or not.

    Sensitive: the config's crypto columns of contacts, their copies in the `extra` of
    contacts, orders and interactions, and customer references of orders and interactions. Values the store keeps sealed
    already come masked from a protector without the key; the others are masked here.
    For export --mask (138****8000), whether or not the store is encrypted.
    """
    from custdata.crypto import mask_value
    from custdata.store.extra import extra_field

    columns = frozenset(session.config.get("crypto", "columns"))
    plain = {table: frozenset(cols) - protector.sealed_columns(table) for table, cols in
             (("contacts", columns), ("orders", {"customer_ref"}),
              ("interactions", {"customer_ref"}))}

    def mask(kind: str, row: dict) -> dict:
        out = dict(row)
        for col in plain.get(kind, ()):
            if isinstance(out.get(col), str):
                out[col] = mask_value(col, out[col])
        extra = out.get("extra")
        if isinstance(extra, str):  # a stored row's JSON text
            out["extra"] = json.dumps(_masked_extra(json.loads(extra or "{}")),
                                      ensure_ascii=False, sort_keys=True)
        elif isinstance(extra, dict):  # an exported row's object
            out["extra"] = _masked_extra(extra)
        return out

    def _masked_extra(extra: Any) -> Any:
        if not isinstance(extra, dict):
            return extra
        return {k: mask_value(f, v) if (f := extra_field(k, plain["contacts"]))
                and isinstance(v, str) else v for k, v in extra.items()}

    return mask
