"""Encryption at rest: key files, AES-256-GCM tokens, keyed blind indexes, masking.

Pure core: no database, no environment, no clock. The key arrives as bytes read
from a key file whose path the caller names; it never leaves this module except
through `key_id` (a one-way fingerprint).

A sealed value is a text token::

    cd1:<key id>:<base64url(nonce || ciphertext+tag)>:<masked form>

AES-256-GCM with a random 96-bit nonce per value; the associated data binds the
format version, key id, table, column, row id and the masked form, so a token
copied to another row or column, or whose mask was edited, fails to decrypt.
The masked form (``138****8000``) travels in clear on purpose: it is what commands
show when they run without the key.

Blind indexes are HMAC-SHA256 of a normalized match key under a sub-key derived
with HKDF from the master key and the store's random salt, one sub-key per kind
(email, phone, id_number): equal keys give equal indexes, and nothing else can be
learned from them without the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from custdata.errors import KeyFileError, StoreError
from custdata.masks import mask_for
from custdata.masks import (  # noqa: F401 - re-exported: custdata.crypto is where callers look
    COLUMN_MASKS, mask_address, mask_date, mask_email, mask_id_number, mask_phone, mask_text,
    mask_value,
)

KEY_BYTES = 32
SALT_BYTES = 16
NONCE_BYTES = 12
TOKEN_PREFIX = "cd1:"
INDEX_PREFIX = "bi1:"
_KEY_FILE_HEADER = "custdata-key-v1:"
# Columns sealed in every encrypted store, whichever contact columns are encrypted.
ALWAYS_SEALED = frozenset({
    ("rejects", "raw"), ("orders", "customer_ref"), ("interactions", "customer_ref"),
})
_NEED_KEY = (
    "this store's sensitive columns are encrypted and this needs the key: "
    "pass --key-file PATH or set CUSTDATA_KEY_FILE to the key file's path"
)


class TamperedValue(StoreError):
    """A sealed value that fails authentication: moved, edited or corrupted (exit 3)."""


# ---------------------------------------------------------------- key files

def generate_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


def new_salt() -> str:
    """A fresh random salt for a store's blind indexes, as hex."""
    return os.urandom(SALT_BYTES).hex()


def key_id(key: bytes) -> str:
    """A public 16-hex-digit fingerprint of `key` (HMAC of a constant; the key stays secret)."""
    return hmac.new(key, b"custdata/v1/key-id", hashlib.sha256).hexdigest()[:16]


def encode_key(key: bytes) -> str:
    """The key file's text: one line, a header and the key in base64url."""
    return _KEY_FILE_HEADER + base64.urlsafe_b64encode(key).decode("ascii") + "\n"


def decode_key(data: bytes, *, source: str = "the key file") -> bytes:
    """The 32-byte key held in a key file's bytes (our text format, or 32 raw bytes)."""
    text = data.strip()
    if text.startswith(_KEY_FILE_HEADER.encode()):
        try:
            key = base64.urlsafe_b64decode(text[len(_KEY_FILE_HEADER):])
        except (binascii.Error, ValueError):
            key = b""
        if len(key) == KEY_BYTES:
            return key
    elif len(data) == KEY_BYTES:
        return data
    raise KeyFileError(
        f"{source} does not hold a custdata key; make one with `custdata keygen --key-file PATH`."
    )


def write_key_file(path: Path, key: bytes) -> None:
    """Create `path` holding `key`, mode 0600; never overwrites an existing file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(
            f"{path} already exists; keygen never overwrites a key file. "
            "Choose another path (losing a key makes its data unreadable)."
        ) from exc
    except OSError as exc:
        raise KeyFileError(f"Cannot create key file {path}: {exc.strerror}.") from exc
    try:
        os.fchmod(fd, 0o600)  # the umask may have narrowed it; make it exactly 0600
        os.write(fd, encode_key(key).encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_key_file(path: Path) -> bytes:
    """The key in the file at `path`, or KeyFileError saying what is wrong."""
    try:
        if stat.S_ISDIR(os.stat(path).st_mode):
            raise KeyFileError(f"Key file {path} is a directory; name the key file itself.")
        with open(path, "rb") as handle:
            data = handle.read(4096)
    except FileNotFoundError as exc:
        raise KeyFileError(
            f"Key file {path} does not exist; check --key-file / CUSTDATA_KEY_FILE "
            "or make a key with `custdata keygen --key-file PATH`."
        ) from exc
    except OSError as exc:
        raise KeyFileError(f"Cannot read key file {path}: {exc.strerror}.") from exc
    return decode_key(data, source=f"Key file {path}")


def key_file_is_private(path: Path) -> bool:
    """True when no one but the owner can read or write the key file."""
    return not (os.stat(path).st_mode & 0o077)


# ---------------------------------------------------------------- sub-keys

def derive_key(master: bytes, purpose: str, salt: bytes | None = None) -> bytes:
    """A 256-bit sub-key of `master` for one purpose (HKDF-SHA256)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt,
        info=b"custdata/v1/" + purpose.encode("utf-8"),
    ).derive(master)


# ---------------------------------------------------------------- the protector

_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _unb64(text: str) -> bytes:
    """base64.urlsafe_b64decode of unpadded text, without its Python-level wrappers."""
    padded = (text + "=" * (-len(text) % 4)).encode("ascii")  # non-ASCII: a ValueError
    return binascii.a2b_base64(padded.translate(_FROM_URLSAFE))


def is_token(stored: object) -> bool:
    """True when `stored` is a sealed value (whatever key sealed it)."""
    return isinstance(stored, str) and stored.startswith(TOKEN_PREFIX)


def token_key_id(stored: str) -> str:
    """The key id written in a sealed value."""
    return stored.split(":", 2)[1]


def token_mask(stored: str) -> str:
    """The masked form carried in clear by a sealed value."""
    parts = stored.split(":", 3)
    if len(parts) != 4:
        raise TamperedValue("A sealed value in the store is malformed; restore a backup.")
    return parts[3]


class CryptoProtector:
    """The store's protector for an encrypted store.

    With `key`: seal encrypts, unseal decrypts, index returns HMAC blind indexes.
    Without it (masking mode): unseal returns the masked form, and seal / index raise
    KeyFileError, so nothing can be written or looked up by value without the key.
    """

    def __init__(
        self, key: bytes | None, *, salt: str, columns: Iterable[str],
        expected_key_id: str | None = None,
    ) -> None:
        self.encrypted_columns: frozenset[str] = frozenset(columns)
        self.salt = salt
        self.has_key = key is not None
        self.key_id = key_id(key) if key is not None else expected_key_id
        if key is not None and expected_key_id is not None and self.key_id != expected_key_id:
            raise KeyFileError(
                "The key file does not hold this store's key "
                f"(store key id {expected_key_id}, file key id {self.key_id}); "
                "nothing was changed. Pass the key the store was encrypted with."
            )
        self._aead = AESGCM(derive_key(key, "aes-256-gcm")) if key is not None else None
        self._master = key
        self._salt = bytes.fromhex(salt) if key is not None else b""
        self._functions: dict[tuple[str, ...], Callable] = {}
        self._nonce_pool, self._nonce_at = b"", 0
        _PROTECTORS.add(self)
        self._sealed = ALWAYS_SEALED | {(t, c) for t in ("contacts", "history")
                                        for c in self.encrypted_columns}

    # -- seam -------------------------------------------------------------
    def seals(self, table: str, column: str) -> bool:
        """True when values of `table`.`column` are stored sealed in this store.

        Contacts' encrypted columns and their history; and, because they may hold an
        email or phone as typed, every reject's raw text and every order's and
        interaction's customer reference.
        """
        return (table, column) in self._sealed

    def sealed_columns(self, table: str) -> frozenset[str]:
        """The columns of `table` whose values this store keeps sealed."""
        if table == "contacts":
            return self.encrypted_columns
        return frozenset(c for t, c in ALWAYS_SEALED if t == table)

    def seal(self, table: str, column: str, row_id: int | str, value: str | None) -> str | None:
        """The token stored for `value` at (table, column, row_id).

        None, "" and values of columns this store does not seal (see `seals`) stay as
        they are.
        """
        return self.sealer(table, column)(row_id, value)

    def unseal(self, table: str, column: str, row_id: int | str, stored: str | None) -> str | None:
        """The plaintext of `stored` (its masked form in masking mode); plaintext passes."""
        return self.unsealer(table, column)(row_id, stored)

    def index(self, kind: str, normalized_key: str | None) -> str | None:
        """Stored match key: HMAC blind index when that column is encrypted, else the key."""
        return self.indexer(kind)(normalized_key)

    # -- the same, one column at a time: for a million rows, the per-column work once --
    def sealer(self, table: str, column: str) -> Callable[[int | str, str | None], str | None]:
        """seal(table, column, row_id, value) as a function of (row_id, value)."""
        return self._cached(("seal", table, column), self._make_sealer)

    def unsealer(self, table: str, column: str) -> Callable[[int | str, str | None], str | None]:
        """unseal(table, column, row_id, stored) as a function of (row_id, stored)."""
        return self._cached(("unseal", table, column), self._make_unsealer)

    def indexer(self, kind: str) -> Callable[[str | None], str | None]:
        """index(kind, normalized_key) as a function of the key."""
        return self._cached(("index", kind), self._make_indexer)

    def _cached(self, what: tuple[str, ...], make: Callable[..., Callable]) -> Callable:
        fn = self._functions.get(what)
        if fn is None:
            fn = self._functions[what] = make(*what[1:])
        return fn

    def _make_sealer(self, table: str, column: str) -> Callable:
        if (table, column) not in self._sealed:
            return _as_is
        aead = self._aead
        if aead is None:
            return _refuse(f"Cannot write: {_NEED_KEY}.")
        mask = mask_for(column)  # history's "email.old" as email
        nonce, encrypt = self._nonce, aead.encrypt
        head, aad_head = f"{TOKEN_PREFIX}{self.key_id}:", _aad_head(table, column, self.key_id)

        def seal(row_id: int | str, value: str | None) -> str | None:
            if not value:
                return value
            masked = mask(value)
            iv = nonce()
            sealed = encrypt(iv, value.encode("utf-8", "surrogatepass"),
                             f"{aad_head}{row_id}\x00{masked}".encode("utf-8", "surrogatepass"))
            return f"{head}{_b64(iv + sealed)}:{masked}"
        return seal

    def _make_unsealer(self, table: str, column: str) -> Callable:
        aead, own_id = self._aead, self.key_id
        decrypt, aad_head = (aead.decrypt if aead else None), _aad_head(table, column, own_id)

        def unseal(row_id: int | str, stored: str | None) -> str | None:
            if not is_token(stored):
                return stored
            parts = stored.split(":", 3)
            if len(parts) != 4:
                raise TamperedValue(f"A sealed value in {table}.{column} (row {row_id}) is "
                                    "malformed; restore a backup.")
            _, kid, body, mask = parts
            if decrypt is None:
                return mask
            if kid != own_id:
                raise KeyFileError(
                    f"A value in {table}.{column} was sealed with key id {kid}, not with the "
                    f"given key ({own_id}); pass the right key file.")
            try:
                blob = _unb64(body)
                plain = decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:],
                                f"{aad_head}{row_id}\x00{mask}".encode("utf-8", "surrogatepass"))
            except (InvalidTag, ValueError, binascii.Error) as exc:
                raise TamperedValue(
                    f"The sealed value in {table}.{column} (row {row_id}) fails authentication: "
                    "it was moved, edited or corrupted. Restore a backup."
                ) from exc
            return plain.decode("utf-8", "surrogatepass")
        return unseal

    def _make_indexer(self, kind: str) -> Callable:
        base = kind.removesuffix("_key")
        if base not in self.encrypted_columns:
            return _keep
        if self._master is None:
            return _refuse(f"Cannot look up by {base}: {_NEED_KEY}.")
        keyed = hmac.new(derive_key(self._master, f"blind-index/{base}", self._salt),
                         digestmod=hashlib.sha256)

        def index(normalized_key: str | None) -> str | None:
            if not normalized_key:
                return normalized_key
            mac = keyed.copy()  # the keyed state is computed once: half the cost of a digest
            mac.update(normalized_key.encode("utf-8", "surrogatepass"))
            return INDEX_PREFIX + _b64(mac.digest()[:16])
        return index

    # -- nonces -----------------------------------------------------------------
    def _nonce(self) -> bytes:
        """A fresh random 96-bit nonce (read from the OS in blocks: one syscall per 4096)."""
        if self._nonce_at >= len(self._nonce_pool):
            self._nonce_pool, self._nonce_at = os.urandom(NONCE_BYTES * 4096), 0
        self._nonce_at += NONCE_BYTES
        return self._nonce_pool[self._nonce_at - NONCE_BYTES:self._nonce_at]

    def _drop_nonces(self) -> None:
        self._nonce_pool, self._nonce_at = b"", 0


def _aad_head(table: str, column: str, kid: str | None) -> str:
    """The associated data of a value up to its row id (then row id, NUL, mask follow)."""
    return f"cd1\x00{kid}\x00{table}\x00{column}\x00"


# The sealer / unsealer and the indexer of a column stored as it is (also PlainProtector's).
def _as_is(row_id: int | str, value: str | None) -> str | None:
    return value


def _keep(key: str | None) -> str | None:
    return key


def _refuse(message: str) -> Callable:
    """A sealer / indexer without the key: empty values pass, any other is refused."""
    def refuse(*args: object) -> object:
        if args[-1]:
            raise KeyFileError(message)
        return args[-1]
    return refuse


# A forked process must never reuse nonces its parent drew but did not use yet (GCM with
# a repeated nonce leaks plaintext): the child drops every protector's nonce pool.
_PROTECTORS: "weakref.WeakSet[CryptoProtector]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for protector in list(_PROTECTORS):
        protector._drop_nonces()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def is_blind_index(value: object) -> bool:
    """True when `value` is a blind index rather than a plain match key."""
    return isinstance(value, str) and value.startswith(INDEX_PREFIX)
