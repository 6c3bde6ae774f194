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
import re
import stat
from collections.abc import Iterable
from pathlib import Path

import phonenumbers
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from custdata.errors import KeyFileError, StoreError

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


# ---------------------------------------------------------------- masking

_COUNTRY_CODES = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
_STAR = str.maketrans({d: "*" for d in "0123456789０１２３４５６７８９"})


_EXTENSION_HINTS = frozenset("xXtTn#=转机")
_EXTENSION = re.compile(r"(?i)\s*(?:x|ext\.?|extension|#|;\s*ext=|转|分机)\s*\d+\s*$")


def mask_phone(value: str) -> str:
    """Middle digits hidden, separators and extension kept: "13800138000" -> "138****8000"."""
    ext = None if _EXTENSION_HINTS.isdisjoint(value) else _EXTENSION.search(value)
    number, tail = (value[:ext.start()], value[ext.start():]) if ext else (value, "")
    digits = [i for i, ch in enumerate(number) if ch.isdecimal()]
    skip = 0
    if number.lstrip().startswith("+"):
        lead = "".join(number[i] for i in digits[:3])
        skip = next((n for n in (1, 2, 3) if int(lead[:n] or 0) in _COUNTRY_CODES), 0)
    national = digits[skip:]
    n = len(national)
    if n >= 10:
        hidden = national[3:-4]
    elif n >= 6:
        hidden = national[:-4]
    else:
        hidden = national
    chars = list(number)
    for i in hidden:
        chars[i] = "*"
    return "".join(chars) + tail


def mask_email(value: str) -> str:
    """First letter of the mailbox, then stars, domain kept: "zhang@qq.com" -> "z***@qq.com"."""
    local, at, domain = value.replace("\uff20", "@").rpartition("@")  # full-width ＠ too
    if not at:
        return mask_text(value)
    return (local[:1] if len(local) > 1 else "") + "***@" + domain


def mask_id_number(value: str) -> str:
    """First 3 and last 4 characters kept: "110101199003074578" -> "110***********4578"."""
    text = value.strip()
    if len(text) < 10:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


def mask_address(value: str) -> str:
    """The first half (at most 6 characters, digits hidden), then "****"."""
    keep = min(6, len(value) // 2)
    return value[:keep].translate(_STAR) + "****"


_YEAR_FIRST = re.compile(r"\s*\d{4}(?=\D)")


def mask_date(value: str) -> str:
    """Year kept, month and day hidden: "1990-03-07" -> "1990-**-**"."""
    match = _YEAR_FIRST.match(value)
    head = match.end() if match else 0
    return value[:head] + value[head:].translate(_STAR)


def mask_text(value: str) -> str:
    """First character, then "***": "张三丰" -> "张***"."""
    return (value[:1] + "***") if len(value) > 1 else "*" * len(value)


_DIGIT = re.compile(r"\d")


def mask_reference(value: str) -> str:
    """A customer reference masked by what it looks like: email, phone, or other text."""
    if "@" in value:
        return mask_email(value)
    if len(_DIGIT.findall(value)) >= 7:
        return mask_phone(value)
    return mask_text(value)


_MASKS = {
    "customer_ref": mask_reference,
    "email": mask_email,
    "phone": mask_phone,
    "id_number": mask_id_number,
    "address": mask_address,
    "birth_date": mask_date,
}


def mask_value(column: str, value: str | None) -> str | None:
    """The masked form of `value` for `column` (history's "email.old" masks as email)."""
    if value is None or value == "":
        return value
    base = column.split(".")[0]
    return _MASKS.get(base, mask_text)(value)


# ---------------------------------------------------------------- the protector

_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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
        self._index_keys: dict[str, bytes] = {}
        self._nonce_pool, self._nonce_at = b"", 0
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
        if not value or (table, column) not in self._sealed:
            return value
        if self._aead is None:
            raise KeyFileError(f"Cannot write: {_NEED_KEY}.")
        mask = _MASKS.get(column, mask_text)(value) if "." not in column else \
            mask_value(column, value)
        nonce = self._nonce()
        aad = self._aad(table, column, row_id, self.key_id, mask)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8", "surrogatepass"), aad)
        return f"{TOKEN_PREFIX}{self.key_id}:{_b64(nonce + sealed)}:{mask}"

    def unseal(self, table: str, column: str, row_id: int | str, stored: str | None) -> str | None:
        """The plaintext of `stored` (its masked form in masking mode); plaintext passes."""
        if not is_token(stored):
            return stored
        parts = stored.split(":", 3)  # type: ignore[union-attr]
        if len(parts) != 4:
            raise TamperedValue(f"A sealed value in {table}.{column} (row {row_id}) is malformed; "
                                "restore a backup.")
        _, kid, body, mask = parts
        if self._aead is None:
            return mask
        if kid != self.key_id:
            raise KeyFileError(
                f"A value in {table}.{column} was sealed with key id {kid}, not with the given "
                f"key ({self.key_id}); pass the right key file."
            )
        try:
            blob = _unb64(body)
            plain = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:],
                                       self._aad(table, column, row_id, kid, mask))
        except (InvalidTag, ValueError, binascii.Error) as exc:
            raise TamperedValue(
                f"The sealed value in {table}.{column} (row {row_id}) fails authentication: "
                "it was moved, edited or corrupted. Restore a backup."
            ) from exc
        return plain.decode("utf-8", "surrogatepass")

    def index(self, kind: str, normalized_key: str | None) -> str | None:
        """Stored match key: HMAC blind index when that column is encrypted, else the key."""
        base = kind.removesuffix("_key")
        if not normalized_key or base not in self.encrypted_columns:
            return normalized_key
        sub = self._index_keys.get(base)
        if sub is None:
            if self._master is None:
                raise KeyFileError(f"Cannot look up by {base}: {_NEED_KEY}.")
            sub = derive_key(self._master, f"blind-index/{base}", self._salt)
            self._index_keys[base] = sub
        digest = hmac.digest(sub, normalized_key.encode("utf-8", "surrogatepass"), "sha256")
        return INDEX_PREFIX + _b64(digest[:16])

    # -- helpers ------------------------------------------------------------
    def _nonce(self) -> bytes:
        """A fresh random 96-bit nonce (read from the OS in blocks: one syscall per 4096)."""
        if self._nonce_at >= len(self._nonce_pool):
            self._nonce_pool, self._nonce_at = os.urandom(NONCE_BYTES * 4096), 0
        self._nonce_at += NONCE_BYTES
        return self._nonce_pool[self._nonce_at - NONCE_BYTES:self._nonce_at]

    @staticmethod
    def _aad(table: str, column: str, row_id: int | str, kid: str | None, mask: str) -> bytes:
        return f"cd1\x00{kid}\x00{table}\x00{column}\x00{row_id}\x00{mask}".encode(
            "utf-8", "surrogatepass")


def is_blind_index(value: object) -> bool:
    """True when `value` is a blind index rather than a plain match key."""
    return isinstance(value, str) and value.startswith(INDEX_PREFIX)
