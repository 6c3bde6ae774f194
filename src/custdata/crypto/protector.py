"""The store's protectors: how values and match keys are stored, sealed or as they are.

`Protector` is the protocol the store talks to; `PlainProtector` stores everything as
it is; `CryptoProtector` seals with AES-256-GCM tokens and keyed blind indexes. Pure
core: no database, no environment, no clock.

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

import binascii
import hashlib
import hmac
import os
import weakref
from collections.abc import Callable, Iterable
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custdata.crypto.keys import derive_key, key_id
from custdata.crypto.masks import mask_for
from custdata.errors import KeyFileError, TamperedValue

NONCE_BYTES = 12
TOKEN_PREFIX = "cd1:"
INDEX_PREFIX = "bi1:"
# Columns sealed in every encrypted store, whichever contact columns are encrypted.
ALWAYS_SEALED = frozenset({
    ("rejects", "raw"), ("orders", "customer_ref"), ("interactions", "customer_ref"),
})
_NEED_KEY = "this store's sensitive columns are encrypted and this needs the key"


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


Sealer = Callable[[int | str, str | None], str | None]  # (row id, value) -> stored
Indexer = Callable[[str | None], str | None]  # normalized match key -> stored key


class Protector(Protocol):
    """How the store writes and reads sensitive values and match keys.

    `seal` / `unseal` turn a value of (table, column, row id) into its stored form and
    back; `index` turns a normalized match key of a kind ("email", "phone",
    "id_number") into the stored key. `sealer` / `unsealer` / `indexer` are the same
    for one column or kind, fetched once for a million rows.
    """

    encrypted_columns: frozenset[str]  # contact columns stored sealed
    key_id: str | None  # fingerprint of the store's key; None for a plain store

    def seals(self, table: str, column: str) -> bool: ...
    def sealed_columns(self, table: str) -> frozenset[str]: ...
    def seal(self, table: str, column: str, row_id: int | str, value: str | None
             ) -> str | None: ...
    def unseal(self, table: str, column: str, row_id: int | str, stored: str | None
               ) -> str | None: ...
    def index(self, kind: str, normalized_key: str | None) -> str | None: ...
    def sealer(self, table: str, column: str) -> Sealer: ...
    def unsealer(self, table: str, column: str) -> Sealer: ...
    def indexer(self, kind: str) -> Indexer: ...


class PlainProtector:
    """The protector of an unencrypted store: values and keys are stored as they are."""

    encrypted_columns: frozenset[str] = frozenset()
    key_id: str | None = None

    def seals(self, table: str, column: str) -> bool:
        """False: nothing is sealed."""
        return False

    def sealed_columns(self, table: str) -> frozenset[str]:
        """The empty set: no column of any table is sealed."""
        return frozenset()

    def seal(self, table: str, column: str, row_id: int | str, value: str | None) -> str | None:
        return value

    def unseal(self, table: str, column: str, row_id: int | str, stored: str | None) -> str | None:
        return stored

    def index(self, kind: str, normalized_key: str | None) -> str | None:
        return normalized_key

    def sealer(self, table: str, column: str) -> Sealer:
        return _as_is

    def unsealer(self, table: str, column: str) -> Sealer:
        return _as_is

    def indexer(self, kind: str) -> Indexer:
        return _keep


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
            raise KeyFileError(message, hint="key_file")
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

