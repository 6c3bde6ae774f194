"""Pure crypto core: key files, sealing, blind indexes, masking."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custdata.crypto import (
    INDEX_PREFIX, KEY_BYTES, CryptoProtector, decode_key, encode_key, generate_key, is_token,
    key_file_is_private, key_id, mask_address, mask_date, mask_email, mask_id_number, mask_phone,
    mask_value, new_salt, read_key_file, token_key_id, write_key_file,
)
from custdata.errors import ExitCode, KeyFileError, TamperedValue

COLUMNS = ("email", "phone", "id_number", "address", "birth_date")
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
SALT = "00112233445566778899aabbccddeeff"


@pytest.fixture
def protector() -> CryptoProtector:
    return CryptoProtector(KEY, salt=SALT, columns=COLUMNS)


# ---------------------------------------------------------------- key files

def test_keygen_file_is_0600_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    key = generate_key()
    write_key_file(path, key)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert key_file_is_private(path)
    assert read_key_file(path) == key
    assert len(key) == KEY_BYTES


def test_keygen_mode_is_0600_even_with_a_loose_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_key_file(tmp_path / "k.key", generate_key())
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "k.key").st_mode) == 0o600


def test_keygen_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    path.write_text("precious")
    with pytest.raises(KeyFileError, match="already exists"):
        write_key_file(path, generate_key())
    assert path.read_text() == "precious"


def test_generated_keys_differ() -> None:
    assert generate_key() != generate_key()
    assert new_salt() != new_salt()


@pytest.mark.parametrize("content", [b"", b"hello", b"custdata-key-v1:AAAA", b"x" * 31])
def test_garbage_key_file_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(content)
    with pytest.raises(KeyFileError, match="does not hold a custdata key") as info:
        read_key_file(path)
    assert info.value.exit_code == ExitCode.USAGE


def test_raw_32_byte_key_file_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "raw.key").write_bytes(KEY)
    assert read_key_file(tmp_path / "raw.key") == KEY


def test_missing_key_file_says_how_to_make_one(tmp_path: Path) -> None:
    # The core says a key file is needed; the CLI names --key-file and keygen (test_error_hints).
    with pytest.raises(KeyFileError, match="does not exist") as info:
        read_key_file(tmp_path / "nope.key")
    assert info.value.hint == "key_file_unusable"


def test_key_file_text_does_not_contain_key_id() -> None:
    assert key_id(KEY) not in encode_key(KEY)
    assert decode_key(encode_key(KEY).encode()) == KEY


def test_key_id_is_stable_and_distinguishes_keys() -> None:
    assert key_id(KEY) == key_id(bytes(KEY))
    assert key_id(KEY) != key_id(OTHER_KEY)
    assert len(key_id(KEY)) == 16
    assert KEY.hex()[:16] not in key_id(KEY)


# ---------------------------------------------------------------- sealing

@settings(max_examples=200, deadline=None)
@given(value=st.text(st.characters(exclude_categories=()), min_size=1),
       row=st.integers(min_value=0, max_value=2**62),
       where=st.sampled_from([("contacts", c) for c in COLUMNS] + [("history", "email"),
                             ("rejects", "raw"), ("orders", "customer_ref"),
                             ("interactions", "customer_ref")]))
def test_unseal_undoes_seal(value: str, row: int, where: tuple[str, str]) -> None:
    protector = CryptoProtector(KEY, salt=SALT, columns=COLUMNS)
    token = protector.seal(*where, row, value)
    assert is_token(token)
    assert protector.unseal(*where, row, token) == value


@pytest.mark.parametrize("table, column", [
    ("contacts", "name"), ("history", "name"), ("interactions", "note"), ("orders", "amount"),
])
def test_columns_not_encrypted_are_stored_as_they_are(table: str, column: str) -> None:
    protector = CryptoProtector(KEY, salt=SALT, columns=COLUMNS)
    assert not protector.seals(table, column)
    assert protector.seal(table, column, 1, "张三") == "张三"


def test_seal_is_randomised(protector: CryptoProtector) -> None:
    a = protector.seal("contacts", "email", 1, "zhang@qq.com")
    b = protector.seal("contacts", "email", 1, "zhang@qq.com")
    assert a != b
    assert "zhang@qq.com" not in a
    assert token_key_id(a) == key_id(KEY)


@pytest.mark.parametrize("value", [None, ""])
def test_empty_values_are_left_alone(protector: CryptoProtector, value: str | None) -> None:
    assert protector.seal("contacts", "email", 1, value) == value
    assert protector.unseal("contacts", "email", 1, value) == value


def test_plaintext_passes_through_unseal(protector: CryptoProtector) -> None:
    assert protector.unseal("contacts", "email", 1, "zhang@qq.com") == "zhang@qq.com"


def test_a_value_that_looks_like_a_token_is_still_sealed(protector: CryptoProtector) -> None:
    token = protector.seal("contacts", "email", 1, "a@b.cn")
    double = protector.seal("contacts", "email", 1, token)
    assert double != token
    assert protector.unseal("contacts", "email", 1, double) == token


@pytest.mark.parametrize("where", [
    ("contacts", "email", 2),       # another row
    ("contacts", "phone", 1),       # another column
    ("history", "email", 1),        # another table
])
def test_moved_ciphertext_fails(protector: CryptoProtector, where: tuple) -> None:
    token = protector.seal("contacts", "email", 1, "zhang@qq.com")
    with pytest.raises(TamperedValue, match="fails authentication") as info:
        protector.unseal(*where, token)
    assert info.value.exit_code == ExitCode.STORE


def test_ciphertext_swapped_between_rows_fails(protector: CryptoProtector) -> None:
    a = protector.seal("contacts", "phone", 1, "13800138000")
    b = protector.seal("contacts", "phone", 2, "13900139000")
    with pytest.raises(TamperedValue):
        protector.unseal("contacts", "phone", 1, b)
    with pytest.raises(TamperedValue):
        protector.unseal("contacts", "phone", 2, a)


def test_edited_mask_fails(protector: CryptoProtector) -> None:
    token = protector.seal("contacts", "email", 1, "zhang@qq.com")
    forged = token.rsplit(":", 1)[0] + ":x***@evil.com"
    with pytest.raises(TamperedValue):
        protector.unseal("contacts", "email", 1, forged)


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1],                                 # mask cut
    lambda t: t.replace(t.split(":")[2], "AAAA"),     # body too short
    lambda t: "cd1:" + t.split(":")[1],               # fields missing
])
def test_malformed_tokens_fail(protector: CryptoProtector, mangle) -> None:
    token = protector.seal("contacts", "email", 1, "zhang@qq.com")
    with pytest.raises(TamperedValue):
        protector.unseal("contacts", "email", 1, mangle(token))


def test_wrong_key_fails_clearly() -> None:
    token = CryptoProtector(KEY, salt=SALT, columns=COLUMNS).seal("contacts", "email", 1, "a@b.cn")
    other = CryptoProtector(OTHER_KEY, salt=SALT, columns=COLUMNS)
    with pytest.raises(KeyFileError, match="key id") as info:
        other.unseal("contacts", "email", 1, token)
    assert info.value.exit_code == ExitCode.USAGE


def test_expected_key_id_is_checked_up_front() -> None:
    with pytest.raises(KeyFileError, match="does not hold this store's key"):
        CryptoProtector(OTHER_KEY, salt=SALT, columns=COLUMNS, expected_key_id=key_id(KEY))
    ok = CryptoProtector(KEY, salt=SALT, columns=COLUMNS, expected_key_id=key_id(KEY))
    assert ok.key_id == key_id(KEY)


def test_masking_mode_shows_masks_and_refuses_writes(protector: CryptoProtector) -> None:
    token = protector.seal("contacts", "phone", 7, "13800138000")
    keyless = CryptoProtector(None, salt=SALT, columns=COLUMNS, expected_key_id=key_id(KEY))
    assert keyless.unseal("contacts", "phone", 7, token) == "138****8000"
    assert keyless.encrypted_columns == frozenset(COLUMNS)
    with pytest.raises(KeyFileError, match="needs the key") as info:
        keyless.seal("contacts", "phone", 7, "13800138000")
    assert info.value.hint == "key_file"
    with pytest.raises(KeyFileError, match="needs the key") as info:
        keyless.index("phone", "+8613800138000")
    assert info.value.hint == "key_file"


# ---------------------------------------------------------------- blind index

def test_blind_index_is_deterministic_and_keyed(protector: CryptoProtector) -> None:
    a = protector.index("email", "zhang@qq.com")
    assert a == protector.index("email", "zhang@qq.com")
    assert a.startswith(INDEX_PREFIX) and "zhang" not in a
    assert a != protector.index("email", "wang@qq.com")
    assert a != protector.index("phone", "zhang@qq.com")                 # per-kind sub-keys
    assert a == protector.index("email_key", "zhang@qq.com")
    other_key = CryptoProtector(OTHER_KEY, salt=SALT, columns=COLUMNS)
    other_salt = CryptoProtector(KEY, salt=new_salt(), columns=COLUMNS)
    assert a != other_key.index("email", "zhang@qq.com")
    assert a != other_salt.index("email", "zhang@qq.com")


def test_blind_index_only_for_encrypted_columns() -> None:
    protector = CryptoProtector(KEY, salt=SALT, columns=("email",))
    assert protector.index("phone", "+8613800138000") == "+8613800138000"
    assert protector.index("email", None) is None


@given(st.text(min_size=1), st.text(min_size=1))
def test_blind_index_equal_iff_keys_equal(a: str, b: str) -> None:
    protector = CryptoProtector(KEY, salt=SALT, columns=COLUMNS)
    assert (protector.index("email", a) == protector.index("email", b)) == (a == b)


# ---------------------------------------------------------------- masking

@pytest.mark.parametrize("raw, masked", [
    ("13800138000", "138****8000"),
    ("+8613800138000", "+86138****8000"),
    ("138 0013 8000", "138 **** 8000"),
    ("+1 415-555-2671", "+1 415-***-2671"),
    ("010-12345678", "010-****5678"),
    ("12345678", "****5678"),
    ("12345", "*****"),
    ("N/A", "N/A"),
    ("+86 755 71164096 x8582", "+86 755 ****4096 x8582"),
    ("13800138000 ext. 12", "138****8000 ext. 12"),
    ("١٣٨٠٠١٣٨٠٠٠", "١٣٨****٨٠٠٠"),
    ("+²³", "+²³"),
])
def test_mask_phone(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


@pytest.mark.parametrize("raw, masked", [
    ("zhang@qq.com", "z***@qq.com"),
    ("z@qq.com", "***@qq.com"),
    ("Wei.Zhang@Example.COM", "W***@Example.COM"),
    ('"a@b"@c.cn', '"***@c.cn'),
    ("not-an-email", "n***"),
    ("chen.hu＠lianhe.com.cn", "c***@lianhe.com.cn"),
])
def test_mask_email(raw: str, masked: str) -> None:
    assert mask_email(raw) == masked


@pytest.mark.parametrize("raw, masked", [
    ("110101199003074578", "110***********4578"),
    ("11010119900307457X", "110***********457X"),
    ("G1234567", "********"),
])
def test_mask_id_number(raw: str, masked: str) -> None:
    assert mask_id_number(raw) == masked


@pytest.mark.parametrize("raw, masked", [
    ("北京市海淀区中关村大街27号", "北京市海淀区****"),
    ("12 Main St", "** Ma****"),
    ("x", "****"),
])
def test_mask_address(raw: str, masked: str) -> None:
    assert mask_address(raw) == masked


@pytest.mark.parametrize("raw, masked", [
    ("1990-03-07", "1990-**-**"),
    ("1990年3月7日", "1990年*月*日"),
    ("07/03/1990", "**/**/****"),
])
def test_mask_date(raw: str, masked: str) -> None:
    assert mask_date(raw) == masked


@pytest.mark.parametrize("column, raw, masked", [
    ("email", "zhang@qq.com", "z***@qq.com"),
    ("email.old", "zhang@qq.com", "z***@qq.com"),
    ("name", "张三丰", "张***"),
    ("raw", "x", "*"),
    ("customer_ref", "13800138000", "138****8000"),
    ("customer_ref", "wang@163.com", "w***@163.com"),
    ("customer_ref", "C-0001", "C***"),
    ("email", None, None),
    ("phone", "", ""),
])
def test_mask_value_dispatches_on_column(column: str, raw, masked) -> None:
    assert mask_value(column, raw) == masked


@given(st.sampled_from(COLUMNS), st.text(alphabet="0123456789", min_size=11, max_size=18))
def test_masks_never_show_a_long_value_whole(column: str, value: str) -> None:
    assert mask_value(column, value) != value


def _reference_mask_phone(value: str) -> str:
    """mask_phone as first written (one character at a time): the faster one must agree."""
    from custdata.crypto.masks import _COUNTRY_CODES, _EXTENSION

    ext = _EXTENSION.search(value)
    number, tail = (value[:ext.start()], value[ext.start():]) if ext else (value, "")
    digits = [i for i, ch in enumerate(number) if ch.isdecimal()]
    skip = 0
    if number.lstrip().startswith("+"):
        lead = "".join(number[i] for i in digits[:3])
        skip = next((n for n in (1, 2, 3) if int(lead[:n] or 0) in _COUNTRY_CODES), 0)
    national = digits[skip:]
    n = len(national)
    hidden = national[3:-4] if n >= 10 else national[:-4] if n >= 6 else national
    chars = list(number)
    for i in hidden:
        chars[i] = "*"
    return "".join(chars) + tail


PHONE_LIKE = st.one_of(
    st.from_regex(r"\+?[0-9]{0,20}", fullmatch=True),                        # fast path
    st.from_regex(r"(tel:)?\(?\+?[0-9]{1,4}\)?([ .\-]?[0-9]{1,5}){0,5}"
                  r"( ?(x|ext\.?|#|转|分机) ?[0-9]{1,4})?", fullmatch=True),
    st.text(st.sampled_from("+0123456789 -()x#٣٨１５ab"), max_size=25),
    st.text(max_size=25))


@given(PHONE_LIKE)
def test_mask_phone_masks_like_its_first_version(value: str) -> None:
    assert mask_phone(value) == _reference_mask_phone(value)


# ---------------------------------------------------------------- per-column functions

@settings(max_examples=50, deadline=None)
@given(value=st.one_of(st.none(), st.text(max_size=30)), row=st.integers(0, 2**40),
       column=st.sampled_from(COLUMNS + ("name", "email.old")))
def test_column_functions_agree_with_seal_unseal_and_index(value, row: int, column: str) -> None:
    protector = CryptoProtector(KEY, salt=SALT, columns=COLUMNS)
    token = protector.sealer("contacts", column)(row, value)
    assert protector.unseal("contacts", column, row, token) == value
    assert protector.unsealer("contacts", column)(row, protector.seal("contacts", column, row,
                                                                      value)) == value
    assert protector.indexer("email")(value) == protector.index("email", value)


def test_keyless_column_functions_refuse_values_but_pass_empties() -> None:
    keyless = CryptoProtector(None, salt=SALT, columns=COLUMNS, expected_key_id=key_id(KEY))
    assert keyless.sealer("contacts", "email")(1, "") == ""
    assert keyless.indexer("phone")(None) is None
    with pytest.raises(KeyFileError, match="needs the key") as info:
        keyless.sealer("contacts", "email")(1, "a@b.cn")
    assert info.value.hint == "key_file"
    with pytest.raises(KeyFileError, match="needs the key") as info:
        keyless.indexer("phone")("+8613800138000")
    assert info.value.hint == "key_file"


def test_a_forked_process_never_reuses_its_parents_nonces(protector: CryptoProtector) -> None:
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork here")
    protector._nonce()  # the pool is filled: 4095 nonces left that the child could copy
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next nonce and leave at once
        os.write(writer, protector._nonce())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(reader, 64)
    os.close(reader)
    os.close(writer)
    assert len(child) == 12 and child != protector._nonce()


# ---------------------------------------------------------------- stored forms stay stable

# Sealed and indexed by custdata before sealing became per-column functions: stores
# written then must still open, and equal keys must still give equal blind indexes.
EARLIER = [
    ("contacts", "phone", 42, "+86 138 0013 8000",
     "cd1:55970d5911226359:Cy6N6Yr--L-7S-nhg0IhJL302cqn2_shXmomPyditsmwGBzp10SV45l1_W19:"
     "+86 138 **** 8000"),
    ("history", "email", 7, "zhang@qq.com",
     "cd1:55970d5911226359:fX6nZBJ-U7oSIRa2Ci80xEkbmA01anh16GuWcu33BX-jR6apHy5mFA:z***@qq.com"),
]


@pytest.mark.parametrize("table, column, row, plain, token", EARLIER)
def test_tokens_sealed_earlier_still_open(table, column, row, plain, token) -> None:
    protector = CryptoProtector(KEY, salt=SALT, columns=("email", "phone"))
    assert protector.unseal(table, column, row, token) == plain
    assert protector.seal(table, column, row, plain).rsplit(":", 1)[1] == token.rsplit(":", 1)[1]


def test_blind_indexes_are_what_they_were() -> None:
    protector = CryptoProtector(KEY, salt=SALT, columns=("email", "phone"))
    assert protector.index("phone", "+8613800138000") == "bi1:_8XAyIB1Dlh3CTtsYHCcTA"
