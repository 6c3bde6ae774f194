"""`custdata report html`: the report a sales manager opens, as one self-contained file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from custdata.cli._shared import parse_as_of, say
from custdata.cli.segments import AsOfOpt, Lang, Scheme, report_app


def register(app: typer.Typer) -> None:
    """Add `report html` to the `report` group that cli/segments.py owns."""
    report_app.command("html")(report_html)


def report_html(
    ctx: typer.Context,
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
    from custdata.api import report_html as api

    written = api.report_html(ctx.obj, output=output, as_of=parse_as_of(as_of) if as_of else None,
                              lang=lang.value, scheme=scheme.value, top=top, no_pii=no_pii)
    say(f"wrote {written.path} ({written.size / 1024:,.0f} KB) as of {written.as_of}")
