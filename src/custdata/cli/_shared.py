"""What every command shares: global state, the store opener, formats, consoles, renderers."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, Progress, ProgressColumn, Task, TaskProgressColumn,
                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table
from rich.text import Text

from custdata.cli._hints import shortened
from custdata.errors import CustdataError, DiskFull, OutputFileError, UsageError
from custdata.io import text_stdout, write_csv, write_json
from custdata.api import common
from custdata.api.session import Session, looks_like_key

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)

REDACTED_OPTIONS = ("--key-file", "--new-key-file")
STEPS_AT_MOST = 10  # a progress total this small counts steps of work, not rows


@dataclass
class State:
    """How this process talks to its terminal, and the options it was started with.

    Only the CLI reads it (the root callback fills it; say/progress/emit use `quiet`);
    every command gets what it needs to run from the `Session` in `ctx.obj`.
    """

    db: Path | str = Path("custdata.db")
    config_path: Path | None = None
    key_file: Path | None = None
    wait: float = 30.0
    quiet: bool = False
    debug: bool = False
    argv: list[str] = field(default_factory=list)
    session: Session = field(default_factory=Session)

    @property
    def command_line(self) -> str:
        """The whole command line for the operation log, secrets removed: key file paths,
        anything that looks like key material, and passwords in URLs."""
        words, hide = ["custdata"], False
        for arg in self.argv:
            if hide:
                words.append("***")
                hide = False
                continue
            name = arg.split("=", 1)[0]
            if name in REDACTED_OPTIONS:
                if "=" in arg:
                    words.append(f"{name}=***")
                else:
                    words.append(arg)
                    hide = True
                continue
            words.append(_without_secrets(arg))
        return " ".join(shlex.quote(w) for w in words)

    def resolved_key_file(self) -> Path | None:
        """--key-file > env CUSTDATA_KEY_FILE (both name a file; the key is never a value)."""
        if self.key_file is not None:
            return self.key_file
        env = os.environ.get("CUSTDATA_KEY_FILE")
        return Path(env) if env else None


state = State()

_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)[^@/?#\s]*@")


def _without_secrets(word: str) -> str:
    """`word` with a URL's password replaced by ***, or *** when it is key material (as a
    whole, or as the value of --option=VALUE)."""
    name, sep, value = word.partition("=")
    if looks_like_key(word) or (sep and name.startswith("-") and looks_like_key(value)):
        return f"{name}=***" if sep and name.startswith("-") else "***"
    return _URL_PASSWORD.sub(r"\1***@", word)


def ask(question: str) -> bool:
    """A yes/no question on stderr (default no). Ctrl-C is an interruption (exit 130, the
    store untouched), not a refusal; the end of input answers no."""
    try:
        return typer.confirm(question, default=False, err=True)
    except typer.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        return False


def say(message: str) -> None:
    """A message for the person at the terminal (stderr), unless --quiet."""
    if not state.quiet:
        err.print(shortened(message), highlight=False, markup=False, soft_wrap=True)


def pause_at(point: str) -> None:
    """A test's synchronisation point (Session.pause_at). With CUSTDATA_SYNC_DIR set and
    `point` one of CUSTDATA_SYNC_AT (comma-separated, e.g. "write:locked"), the first time
    the command reaches it: create DIR/POINT.reached (":" written "-") and wait until
    DIR/POINT.go exists, at most 120 s. Otherwise return at once."""
    folder = os.environ.get("CUSTDATA_SYNC_DIR")
    wanted = {p.strip() for p in os.environ.get("CUSTDATA_SYNC_AT", "").split(",")}
    if not folder or point not in wanted or point in _PAUSED:
        return
    import time

    _PAUSED.add(point)
    name = point.replace(":", "-")
    (Path(folder) / f"{name}.reached").touch()
    go, deadline = Path(folder) / f"{name}.go", time.monotonic() + 120
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


_PAUSED: set[str] = set()  # the points this process has paused at (each pauses once)


# ---- formats -----------------------------------------------------------------------

class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"


FormatOpt = Annotated[
    Format | None,
    typer.Option("--format", "-f", help="table, csv, json or jsonl (default: table on a "
                 "terminal, csv in a pipe).", case_sensitive=False),
]


def resolve_format(fmt: Format | None) -> Format:
    if fmt is not None:
        return fmt
    return Format.table if sys.stdout.isatty() else Format.csv


def emit(rows: Iterable[dict], fmt: Format | None, columns: list[str], *, neutral: bool = True,
         title: str | None = None, labels: dict[str, str] | None = None,
         no_wrap: Iterable[str] = ()) -> int:
    """Print records to stdout in the chosen format; returns how many were printed.

    csv/json/jsonl stream and keep numbers plain; `table` formats them for people.
    CSV cells that a spreadsheet would run as formulas are neutralised unless `neutral`
    is off (export --raw); `no_wrap`: table columns kept on one line (short values: ids,
    phones, amounts) so long text wraps instead.
    """
    fmt = resolve_format(fmt)
    if fmt is Format.table:
        return _emit_table(rows, columns, title=title, labels=labels or {},
                           no_wrap=frozenset(no_wrap))
    stream = text_stdout()
    try:
        try:
            if fmt is Format.csv:
                return write_csv(rows, columns, stream, neutral=neutral)
            return write_json(rows, columns, stream, lines=fmt is Format.jsonl)
        finally:
            stream.flush()
            stream.detach()
    except BrokenPipeError:
        raise
    except OSError as exc:  # stdout is a file on a full disk, say: one line, no traceback
        raise _stdout_error(exc) from exc


def _stdout_error(exc: OSError) -> CustdataError:
    import errno

    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG):
        return DiskFull("Cannot write the output: the disk is full.", hint="free_space")
    return OutputFileError(f"Cannot write the output: {exc.strerror or exc}.")


def emit_document(doc: dict[str, Any]) -> None:
    """One JSON object on stdout, indented, UTF-8 whatever the locale (`--format json` of a
    report that is one document rather than rows)."""
    stream = text_stdout()
    try:
        stream.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    finally:
        stream.flush()
        stream.detach()


def _emit_table(rows: Iterable[dict], columns: list[str], *, title: str | None,
                labels: dict[str, str], no_wrap: frozenset[str] = frozenset()) -> int:
    """A rich table; columns empty in every row are left out so wide records stay readable."""
    rows = list(rows)
    shown = [c for c in columns if c == columns[0] or any(r.get(c) not in (None, "", {}, [])
                                                         for r in rows)]
    table = Table(title=title, show_lines=False, header_style="bold")
    for col in shown:
        table.add_column(labels.get(col, col), overflow="fold", no_wrap=col in no_wrap)
    for row in rows:
        table.add_row(*(escape(human(row.get(c))) for c in shown))
    if rows or title:
        # In a pipe or a file, a table keeps its natural width instead of wrapping at 80.
        console = out if out.is_terminal else Console(highlight=False, width=10_000)
        console.print(table)
    return len(rows)


PAGE_ROWS = 50  # rows per table page when the terminal's height is unknown
CELL_WIDTH = (6, 28)  # a paged table's column widths: at least, at most (rich fits them)


def emit_pages(rows: Iterable[dict], columns: list[str], *, title: str | None = None,
               dropped: list[str] | None = None) -> int:
    """A table printed page by page as the rows arrive (flat memory, no blank screen):
    one header per page of about a screenful, columns as wide as their widest cell (at
    most CELL_WIDTH[1]; longer cells end with an ellipsis). At a terminal, columns that do
    not fit its width are left out and named in `dropped`. Returns the rows printed."""
    # In a pipe or a file there is no screen to fit: cells are capped, lines are not.
    console = out if out.is_terminal else Console(highlight=False, width=10_000)
    page_rows = max(10, console.height - 6) if out.is_terminal else PAGE_ROWS
    widths: dict[str, int] = {}
    page: list[dict] = []
    count = 0

    def flush() -> None:
        nonlocal widths, count
        # the first page decides the columns; later ones may widen them, never narrow
        fitted = _fit(page, list(widths) or columns, console.width,
                      None if widths else dropped)
        widths = {c: max(w, widths.get(c, 0)) for c, w in fitted.items()}
        _print_page(console, page, widths, title if count == 0 else None)
        count += len(page)
        page.clear()

    for row in rows:
        page.append(row)
        if len(page) == page_rows:
            flush()
    if page or (count == 0 and title):
        flush()
    return count


def _fit(page: list[dict], columns: list[str], room: int, dropped: list[str] | None
         ) -> dict[str, int]:
    """Column -> width: its widest cell on this page (capped), as many columns as fit."""
    from rich.cells import cell_len

    widths: dict[str, int] = {}
    used = 1
    for n, col in enumerate(columns):
        widest = max([cell_len(col)] + [cell_len(_cell(r.get(col))) for r in page])
        width = max(min(widest, CELL_WIDTH[1]), min(cell_len(col), CELL_WIDTH[0]))
        if used + width + 3 > room and widths:
            if dropped is not None:
                dropped.extend(columns[n:])
            break
        widths[col] = width
        used += width + 3
    return widths


def _cell(value: Any) -> str:
    return human(value).replace("\n", " ").replace("\r", " ")


def _print_page(console: Console, page: list[dict], widths: dict[str, int],
                title: str | None) -> None:
    table = Table(title=title, header_style="bold")
    for col, width in widths.items():
        table.add_column(col, width=width, no_wrap=True, overflow="ellipsis")
    for row in page:
        table.add_row(*(escape(_cell(row.get(c))) for c in widths))
    console.print(table)


def human(value: Any) -> str:
    """A value as a person reads it in a table: 1,234.5, 0.82, yes/no, '' for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return ""
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)


class _CountRate(ProgressColumn):
    """"1,234/50,000  8,210/s": the count, the total when known, and the average rate
    (of rows: work counted in a few steps shows "2/3" alone)."""

    def render(self, task: Task) -> Text:
        done = f"{task.completed:,.0f}"
        if task.total is not None:
            done += f"/{task.total:,.0f}"
        elapsed = task.elapsed or 0.0
        rows = task.total is None or task.total > STEPS_AT_MOST
        rate = f"  {task.completed / elapsed:,.0f}/s" if rows and elapsed > 0 \
            and task.completed else ""
        return Text(done + rate)


def progress_bar() -> Progress:
    """The bar every long command shows: what, bar, count/total, rate, percent, time left."""
    return Progress(TextColumn("{task.description}"), BarColumn(), _CountRate(),
                    TaskProgressColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=err, transient=True)


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Any]:
    """A rich progress bar (total and rate) on stderr when it is a terminal and not --quiet
    (never in a pipe or under cron); else advance() does nothing."""
    if state.quiet or not sys.stderr.isatty():
        yield lambda n: None
        return
    bar = progress_bar()
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


# ---- dates -------------------------------------------------------------------------

def parse_as_of(value: str | None, option: str = "--as-of") -> date:
    """--as-of DATE (ISO, or any form `clean` reads); today without it."""
    if value is None:
        return state.session.today
    day = common.parse_day(value, dayfirst=state.session.dayfirst)
    if day is None:
        raise UsageError(f"{option} {value!r} is not a date; use YYYY-MM-DD.")
    return day


def parse_since(value: str) -> str:
    """--changed-since / --since: a date, or an age like 7d, 12h, 2w -> UTC timestamp text."""
    since = common.since_timestamp(value, dayfirst=state.session.dayfirst)
    if since is None:
        raise UsageError(f"--changed-since {value!r} is not a date; use YYYY-MM-DD or an age "
                         "like 7d, 12h or 2w.")
    return since
