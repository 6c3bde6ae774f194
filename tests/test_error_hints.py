"""Errors below the CLI name no flags: they say what value they need (`needs`), and the
CLI's one error handler adds the option that supplies it (custdata.cli._hints)."""

from __future__ import annotations

import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest

from custdata.churn import backtest
from custdata.cli._hints import with_hint
from custdata.crypto import CryptoProtector, key_id, read_key_file
from custdata.errors import CustdataError, InsufficientHistory, KeyFileError, UsageError
from custdata.segments import report_currency

KEY = bytes(range(32))


def _keyless() -> CryptoProtector:
    return CryptoProtector(None, salt="00" * 16, columns=("email", "phone"),
                           expected_key_id=key_id(KEY))


def _raised(call) -> CustdataError:
    with pytest.raises(CustdataError) as info:
        call()
    return info.value


def _backtest_nobody() -> None:
    """A backtest where nobody reordered: it cannot tell good scores from bad."""
    scores = [SimpleNamespace(contact_id=i, risk=0.5, days_since_order=10 * i)
              for i in range(1, 5)]
    backtest(scores, set(), horizon_days=90, model=None)  # type: ignore[arg-type]


CASES = [  # (what raises, its class, what it needs, what the CLI adds)
    (lambda: _keyless().seal("contacts", "phone", 1, "13800138000"), KeyFileError, "key_file",
     "Pass --key-file PATH or set CUSTDATA_KEY_FILE"),
    (lambda: _keyless().index("email", "a@b.cn"), KeyFileError, "key_file", "--key-file"),
    (lambda: report_currency(["CNY", "USD"]), UsageError, "currency",
     "report one currency with --currency CNY"),
    (_backtest_nobody, InsufficientHistory, "as_of", "Choose another --as-of."),
]


@pytest.mark.parametrize(("call", "cls", "wanted", "hint"), CASES)
def test_core_errors_say_what_they_need_and_the_cli_names_the_option(
        call, cls: type, wanted: str, hint: str) -> None:
    exc = _raised(call)
    assert type(exc) is cls and exc.hint == wanted
    assert "--" not in str(exc) and "CUSTDATA_" not in str(exc)
    assert with_hint(exc).startswith(str(exc)) and hint in with_hint(exc)


@pytest.mark.parametrize("content", [None, b"not a key"])
def test_key_file_errors_need_a_key_file(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "k.key"
    if content is not None:
        path.write_bytes(content)
    exc = _raised(lambda: read_key_file(path))
    assert isinstance(exc, KeyFileError) and exc.hint == "key_file_unusable"
    assert "--" not in str(exc)
    assert "--key-file" in with_hint(exc) and "custdata keygen" in with_hint(exc)


def test_an_error_without_needs_is_printed_as_it_is() -> None:
    exc = UsageError("Cannot validate field(s) shoe_size.")
    assert exc.hint is None and with_hint(exc) == str(exc)


def test_needs_survives_a_worker_pipe() -> None:
    exc = pickle.loads(pickle.dumps(UsageError("two currencies", hint="currency", example="CNY")))
    assert (str(exc), exc.hint, exc.example) == ("two currencies", "currency", "CNY")
