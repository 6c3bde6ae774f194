"""Encryption at rest: key files, AES-256-GCM tokens, keyed blind indexes, masking.

Pure core: no database, no environment, no clock. keys: generation, key files, key id,
derived sub-keys; protector: the `Protector` protocol the store talks to, with
`PlainProtector` and `CryptoProtector`; masks: what is shown without the key; recode:
contact rows re-sealed from one protector's form to another's.

The token and blind-index formats are described in crypto.protector.
"""

from __future__ import annotations

from custdata.crypto.keys import (
    KEY_BYTES, SALT_BYTES, decode_key, derive_key, encode_key, generate_key, key_file_is_private,
    key_id, new_salt, read_key_file, write_key_file,
)
from custdata.crypto.masks import (
    COLUMN_MASKS, mask_address, mask_date, mask_email, mask_id_number, mask_phone, mask_text,
    mask_value,
)
from custdata.crypto.protector import (
    ALWAYS_SEALED, INDEX_PREFIX, NONCE_BYTES, TOKEN_PREFIX, CryptoProtector, PlainProtector,
    Protector, is_blind_index, is_token, token_key_id, token_mask,
)

__all__ = [
    "ALWAYS_SEALED", "COLUMN_MASKS", "INDEX_PREFIX", "KEY_BYTES", "NONCE_BYTES", "SALT_BYTES",
    "TOKEN_PREFIX", "CryptoProtector", "PlainProtector", "Protector", "decode_key",
    "derive_key", "encode_key", "generate_key", "is_blind_index", "is_token",
    "key_file_is_private", "key_id", "mask_address", "mask_date", "mask_email",
    "mask_id_number", "mask_phone", "mask_text", "mask_value", "new_salt", "read_key_file",
    "token_key_id", "token_mask", "write_key_file",
]
