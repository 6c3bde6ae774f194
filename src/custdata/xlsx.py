""".xlsx in and out with openpyxl: a sheet read as a Table of text cells, streamed
(read-only mode), and rows written as a workbook (write-only mode). Takes file objects.

Cells become the text a CSV export of the sheet would hold, so one set of rules reads
both: numbers plainly ("1234.5", a phone 13800138000 without ".0"), dates as ISO
("2024-01-05", "2024-01-05 13:45:00").
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time, timezone
from typing import IO, Any

from custdata.errors import InputFileError
from custdata.io import RawRecord, Table, _find_header, _plain_float

_AMBIGUOUS_FLOAT = re.compile(r"-?[0-9]{1,3}\.[0-9]{3}")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
DATE_FIELDS = frozenset({"birth_date", "order_date", "at", "created_at", "updated_at"})


class _FileHash:
    """SHA-256 and size of a seekable file, taken up front (a workbook is read whole)."""

    def __init__(self, stream: IO[bytes]) -> None:
        sha, self.count = hashlib.sha256(), 0
        while chunk := stream.read(1 << 20):
            sha.update(chunk)
            self.count += len(chunk)
        stream.seek(0)
        self._digest = sha.hexdigest()

    def hexdigest(self) -> str:
        return self._digest


def read_workbook(stream: IO[bytes], *, name: str = "input", sheet: str | None = None,
                  header_row: int | None = None,
                  is_header: Callable[[list[str]], bool] | None = None) -> Table:
    """The first sheet (or `sheet`) of an .xlsx in a seekable stream, as a Table whose
    records are its rows after the header (found as `io.read_table` finds it)."""
    import openpyxl  # a second or so to import: only for workbooks

    hasher = _FileHash(stream)
    try:
        book = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError,
            openpyxl.utils.exceptions.InvalidFileException) as exc:
        raise InputFileError(f"{name} is a ZIP archive but not a readable .xlsx workbook "
                             f"({type(exc).__name__}).") from exc
    if sheet is not None and sheet not in book.sheetnames:
        book.close()
        raise InputFileError(f"{name} has no sheet {sheet!r}; its sheets are: "
                             f"{', '.join(book.sheetnames)}.", hint="sheet")
    ws = book[sheet] if sheet is not None else book.worksheets[0]
    found = _find_header(_rows(book, ws), header_row, is_header, name)
    if found is None:
        book.close()
        return Table([], "", "", iter(()), hasher)  # type: ignore[arg-type]
    header, rest = found
    cells = list(header.cells)
    while cells and not cells[-1].strip():
        cells.pop()  # columns past the last heading: the sheet's width, not data
    return Table(cells, "", "", _fit(rest, len(cells)), hasher, False,  # type: ignore[arg-type]
                 header.line)


def _fit(records: Iterator[RawRecord], width: int) -> Iterator[RawRecord]:
    """Rows cut or padded to the header's width when only empty cells differ."""
    for rec in records:
        cells = rec.cells
        if len(cells) > width and not any(c.strip() for c in cells[width:]):
            cells = cells[:width]
        elif len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        yield RawRecord(rec.line, _raw(cells), cells) if cells is not rec.cells else rec


def _rows(book: Any, ws: Any) -> Iterator[RawRecord]:
    """Each physical row (empty ones too, as Excel numbers them) as a RawRecord."""
    try:
        for line, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [cell_text(v) for v in values]
            yield RawRecord(line, _raw(cells), cells)
    finally:
        book.close()


def _raw(cells: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue()


def cell_text(value: Any) -> str:
    """A cell as text: "" for empty, numbers plain, dates ISO, booleans TRUE/FALSE.

    A float with exactly three decimals ("1.234") gets a fourth zero: as text it would
    read as a thousands group, but a number cell is never ambiguous.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = _plain_float(value)
        return text + "0" if _AMBIGUOUS_FLOAT.fullmatch(text) else text
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else \
            value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


# ---- out ---------------------------------------------------------------------------------

def write_workbook(rows: Iterable[dict], columns: list[str], stream: IO[bytes], *,
                   sheet: str = "export") -> int:
    """Write `rows` as an .xlsx (bold, frozen header; numbers and dates typed); returns
    how many rows were written. Text that Excel would run as a formula stays text."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet[:31])
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    head = []
    for column in columns:
        cell = WriteOnlyCell(ws, value=column)
        cell.font = bold
        head.append(cell)
    ws.append(head)
    count = 0
    for row in rows:
        ws.append([_out_cell(ws, WriteOnlyCell, c, row.get(c)) for c in columns])
        count += 1
    book.save(stream)
    return count


def _out_cell(ws: Any, cell_type: Any, column: str, value: Any) -> Any:
    if isinstance(value, (dict, list)):
        import json

        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if not isinstance(value, str):
        return value
    if column in DATE_FIELDS:
        typed = _as_date(value)
        if typed is not None:
            return typed
    value = _ILLEGAL.sub("\ufffd", value)  # control characters cannot be stored in xlsx
    if value.startswith("="):
        cell = cell_type(ws, value=value)
        cell.data_type = "s"  # text, never a formula
        return cell
    return value


def _as_date(text: str) -> date | datetime | None:
    """An ISO date or timestamp as a date/datetime (timestamps in UTC, as Excel has no
    time zones); None for any other text, which is then kept as it is."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(timezone.utc).replace(tzinfo=None)
    return stamp
