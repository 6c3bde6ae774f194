"""`custdata report html`: the report a sales manager opens, as one self-contained file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from custdata.cli._shared import open_store, parse_as_of, say, state
from custdata.cli.segments import AsOfOpt, Lang, Scheme, report_app
from custdata.errors import InputFileError


def register(app: typer.Typer) -> None:
    """Add `report html` to the `report` group that cli/segments.py owns."""
    report_app.command("html")(report_html)


def report_html(
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="FILE", help="Write the page here (replaced atomically; "
        "readable by you alone).", show_default=False)],
    as_of: AsOfOpt = None,
    lang: Annotated[Lang, typer.Option(
        "--lang", help="Page in English (en) or Chinese (zh).", case_sensitive=False)] = Lang.en,
    scheme: Annotated[Scheme, typer.Option(
        "--scheme", help="RFM segments: standard (11 named) or cn8 (Chinese eight classes).",
        case_sensitive=False)] = Scheme.standard,
    top: Annotated[int, typer.Option(
        "--top", min=1, max=500, help="Customers on the call list.")] = 20,
    no_pii: Annotated[bool, typer.Option(
        "--no-pii", help="Leave out every personal value, masked ones too (a page that "
        "can be mailed to anyone).")] = False,
) -> None:
    """One HTML file with charts: customer base, RFM segments, churn risk and the call
    list, data quality and duplicates, each with a one-line takeaway.

    It opens offline in any browser (no network request), on a laptop or a phone, and
    prints. Personal values are masked; with the key of an encrypted store the call
    list shows phone numbers in clear; --no-pii leaves them all out. The audit is
    scored as `audit` scores it but not recorded. Exit 0 when the file is written.
    """
    from custdata.htmlreport import render_html
    from custdata.htmlreport.gather import gather

    day = parse_as_of(as_of)
    key_file = state.resolved_key_file()
    with open_store() as store:
        key_available = store.crypto_state() is not None and key_file is not None
        data = gather(store, state.config, as_of=day, scheme=scheme.value, top=top,
                      key_available=key_available, no_pii=no_pii, key_file=key_file,
                      lang=lang.value)
    page = render_html(data, lang=lang.value)
    write_atomically(output, page)
    say(f"wrote {output} ({len(page.encode('utf-8')) / 1024:,.0f} KB) as of {data.as_of}")


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to a private temp file beside `path`, then rename it over `path`.

    A reader (or a mailer in cron) sees the old file or the new one, never half of one;
    the temp file is removed when anything fails.
    """
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputFileError(f"Cannot write {path}: {exc.strerror} ({folder}).") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise InputFileError(f"Cannot write {path}: {exc.strerror}.") from exc
        raise
