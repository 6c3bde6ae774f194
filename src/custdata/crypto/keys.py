"""Keys: generation, key files, the public key id and derived sub-keys. Pure core: no
database, no environment, no clock. The key arrives as bytes read from a key file whose
path the caller names; only `key_id` (a one-way fingerprint) ever shows it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from custdata.errors import KeyFileError

KEY_BYTES = 32
SALT_BYTES = 16
_KEY_FILE_HEADER = "custdata-key-v1:"


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
    raise KeyFileError(f"{source} does not hold a custdata key.", hint="key_file_unusable")


def holds_key_text(path: Path) -> bool:
    """True when the file at `path` is a key file in custdata's text format (an output
    must never replace one: the data sealed with it would be lost)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_KEY_FILE_HEADER) + 8)
    except OSError:
        return False
    return head.lstrip().startswith(_KEY_FILE_HEADER.encode())


def write_key_file(path: Path, key: bytes) -> None:
    """Create `path` holding `key`, mode 0600; never overwrites an existing file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(
            f"{path} already exists; a key file is never overwritten. "
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
        raise KeyFileError(f"Key file {path} does not exist.", hint="key_file_unusable") from exc
    except OSError as exc:
        raise KeyFileError(f"Cannot read key file {path}: {exc.strerror}.") from exc
    return decode_key(data, source=f"Key file {path}")


def key_file_is_private(path: Path) -> bool:
    """True when no one but the owner can read or write the key file."""
    return not (os.stat(path).st_mode & 0o077)


def derive_key(master: bytes, purpose: str, salt: bytes | None = None) -> bytes:
    """A 256-bit sub-key of `master` for one purpose (HKDF-SHA256)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=salt,
        info=b"custdata/v1/" + purpose.encode("utf-8"),
    ).derive(master)
