"""CSV in and out: encodings, BOMs, delimiters, raw lines for rejects. Takes file objects.

`read_table` streams: it holds one record (and a 64 KiB head for detection) in memory
at a time, whatever the file size, and hashes the bytes as they pass so the operation
log can name the input's SHA-256.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import shutil
import sys
import tempfile
import itertools
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from dataclasses import dataclass, field
from typing import IO, Any

from custdata.encodings import (  # noqa: F401 - detect_encoding, gb_likeness: re-exported
    _decode_line, detect_encoding, gb_likeness, guess_encoding,
)
from custdata.errors import InputFileError, clip

HEAD_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

_MAGIC = {  # a workbook (PK) never gets here through `read_input`
    b"PK\x03\x04": "a ZIP archive, not a CSV file",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office file (.xls); save it as CSV first",
    b"SQLite format 3\x00": "an SQLite database, not a CSV file",
    b"\x1f\x8b": "gzip-compressed; decompress it first (e.g. `gunzip -c FILE | custdata import ... -`)",
    b"%PDF": "a PDF document, not a CSV file",
    b"\x89PNG": "a PNG image, not a CSV file",
}

csv.field_size_limit(2**31 - 1)


@dataclass(frozen=True)
class RawRecord:
    """One CSV record: its first physical line, raw text, cells, and whether it decoded."""

    line: int
    raw: str
    cells: list[str]
    undecodable: bool = False
    error: str = ""


@dataclass
class Table:
    """A CSV file being read: header, detected encoding and delimiter, and its records."""

    header: list[str]
    encoding: str
    delimiter: str
    records: Iterator[RawRecord]
    _hasher: "_HashingSource" = field(repr=False)
    encoding_guessed: bool = False  # chosen by how the text looks: may be wrong
    header_line: int = 1  # physical line (row) of the header, counted from 1
    body_line: int = 2  # physical line after the header (a quoted cell may span lines)

    @property
    def sha256(self) -> str:
        """SHA-256 of every byte read so far (of the whole file once records are consumed)."""
        return self._hasher.hexdigest()

    @property
    def bytes_read(self) -> int:
        return self._hasher.count


class _HashingSource:
    """Yields a binary stream's chunks, keeping the first HEAD_BYTES for detection."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._sha = hashlib.sha256()
        self.count = 0
        self.head = self._read_at_least(HEAD_BYTES)

    def _read_at_least(self, size: int) -> bytes:
        parts, total = [], 0
        while total < size:
            data = self._stream.read(size - total)
            if not data:
                break
            parts.append(data)
            total += len(data)
        head = b"".join(parts)
        self._sha.update(head)
        self.count += len(head)
        return head

    def chunks(self) -> Iterator[bytes]:
        if self.head:
            yield self.head
        while True:
            data = self._stream.read(CHUNK_BYTES)
            if not data:
                return
            self._sha.update(data)
            self.count += len(data)
            yield data

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


HEADER_SCAN = 30  # records looked at for the header row (title lines above it)


@dataclass(frozen=True)
class ReadOptions:
    """How to read an input file: what `import` was told (auto = detect)."""

    encoding: str = "auto"
    delimiter: str = "auto"
    decimal: str | None = None
    header_row: int | None = None
    sheet: str | None = None


def read_input(stream: IO[bytes], options: ReadOptions, *, name: str = "input",
               is_header: Callable[[list[str]], bool] | None = None) -> Table:
    """A CSV or .xlsx stream as a Table (see `read_table`); a workbook from a pipe is
    first copied to a temporary file (a ZIP must be read from its end)."""
    if _peek(stream, 4) == b"PK\x03\x04":
        from custdata.xlsx import read_workbook

        return read_workbook(rewindable(stream), name=name, sheet=options.sheet,
                             header_row=options.header_row, is_header=is_header)
    if options.sheet is not None:
        raise InputFileError(f"A sheet was named, but {name} is not an .xlsx workbook.",
                             hint="sheet_csv")
    return read_table(stream, encoding=options.encoding, delimiter=options.delimiter,
                      name=name, header_row=options.header_row, is_header=is_header)


def _peek(stream: IO[bytes], size: int) -> bytes:
    """The first `size` bytes of `stream`, left unread."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        return peek(size)[:size]
    at = stream.tell()
    head = stream.read(size)
    stream.seek(at)
    return head


def rewindable(stream: IO[bytes]) -> IO[bytes]:
    """`stream` itself if it can seek back to its start, else a temporary file holding
    a copy of it (stdin, a pipe), at its start: memory stays flat."""
    try:
        if stream.seekable() and stream.tell() == 0:
            return stream
    except (OSError, ValueError):
        pass
    copy = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
    shutil.copyfileobj(stream, copy, CHUNK_BYTES)
    copy.seek(0)
    return copy


def read_table(
    stream: IO[bytes], *, encoding: str = "auto", delimiter: str = "auto", name: str = "input",
    header_row: int | None = None, is_header: Callable[[list[str]], bool] | None = None,
) -> Table:
    """Open a CSV byte stream: detect encoding and delimiter, find and decode the header.

    The header is physical row `header_row` (from 1) when given; else the first of the
    first HEADER_SCAN records that `is_header`, else the first non-blank one; rows above
    it (titles) are not records. Raises InputFileError if the file is not text or its
    header cannot be decoded. An empty file gives an empty header and no records.
    """
    source = _HashingSource(stream)
    head = source.head
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise InputFileError(f"{name} is {what}.")
    enc, guessed = (guess_encoding(head, name) if encoding == "auto"
                    else (_checked_codec(encoding), False))
    lines = _decoded_lines(source.chunks(), enc)
    peek = list(islice(lines, HEADER_SCAN))
    start = 1
    if peek and peek[0][0].lstrip("\ufeff").lower().startswith("sep=") \
            and len(peek[0][0].strip()) == 5:
        delimiter, peek, start = peek[0][0].strip()[4], peek[1:], 2
    if delimiter == "auto":
        at = header_row - start if header_row else None
        delim = _sniff_lines([t for t, _ in peek], at)
    else:
        delim = _checked_delimiter(delimiter)
    tap = _LineTap(itertools.chain(peek, lines), start=start)
    records = _records(csv.reader(tap, delimiter=delim, strict=False), tap)
    found = _find_header(records, header_row, is_header, name)
    if found is None:
        return Table([], enc, delim, iter(()), source, guessed)
    header_rec, rest = found
    if header_rec.undecodable:
        raise InputFileError(
            f"The header row of {name} cannot be decoded as {enc}.", hint="encoding"
        )
    if header_rec.error:
        raise InputFileError(f"The header row of {name} is not valid CSV: {header_rec.error}.")
    header = [h.lstrip("\ufeff") if i == 0 else h for i, h in enumerate(header_rec.cells)]
    return Table(header, enc, delim, rest, source, guessed, header_rec.line,
                 header_rec.line + header_rec.raw.count("\n") + 1)


def csv_rows(stream: IO[bytes], table: Table) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, cells) of each well-formed record after `table`'s header,
    reading the CSV `stream` again from its start: the cells and lines `table.records`
    gives, without building records (a fast first pass over a big file)."""
    stream.seek(0)
    chunks = iter(lambda: stream.read(CHUNK_BYTES), b"")
    lines = (text for text, _ in _decoded_lines(chunks, table.encoding))
    for _ in islice(lines, table.body_line - 1):  # the header and the lines above it
        pass
    reader = csv.reader(lines, delimiter=table.delimiter, strict=False)
    done = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:  # malformed: no cells to read
            done = reader.line_num
            continue
        line, done = table.body_line + done, reader.line_num
        if "'" in "".join(cells):
            cells = _unneutralised(cells)
        yield line, cells


def _unneutralised(cells: list[str]) -> list[str]:
    """The cells with each export-neutralised value given back as it was."""
    return [unneutralise(c) if c[:1] == "'" else c for c in cells]


def _sniff_lines(lines: list[str], at: int | None) -> str:
    """The delimiter of line `at` (0-based) if given, else of the first line that has one."""
    if at is not None:
        return sniff_delimiter(lines[at]) if 0 <= at < len(lines) else ","
    for text in lines:
        if any(d in text for d in DELIMITERS):
            return sniff_delimiter(text)
    return ","


def _find_header(records: Iterator[RawRecord], header_row: int | None,
                 is_header: Callable[[list[str]], bool] | None, name: str
                 ) -> tuple[RawRecord, Iterator[RawRecord]] | None:
    """(header record, the records after it), or None for a file without one."""
    if header_row is not None:
        for rec in records:
            if rec.line == header_row:
                return rec, records
            if rec.line > header_row:
                break
        raise InputFileError(f"Row {header_row} of {name} does not start a row of the "
                             "file (past its end, or inside a quoted cell).", hint="header_row")
    scanned = list(islice(records, HEADER_SCAN))
    filled = [i for i, rec in enumerate(scanned) if rec.cells and not _blank(rec.cells)]
    if not filled:
        return None
    first = filled[0]
    if is_header is not None:
        first = next((i for i in filled if not scanned[i].error and is_header(
            [c.lstrip("\ufeff") for c in scanned[i].cells])), first)
    return scanned[first], itertools.chain(scanned[first + 1:], records)


def _blank(cells: list[str]) -> bool:
    return all(not c.strip() for c in cells)


def sniff_delimiter(header_line: str) -> str:
    """The candidate delimiter occurring most often outside quotes in the header line."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first on ties: "," wins
    return best if counts[best] else ","


def _checked_codec(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise InputFileError(f"Unknown encoding {name!r}; try utf-8, gb18030 or utf-16.") from exc


def _checked_delimiter(value: str) -> str:
    aliases = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = aliases.get(value.lower(), value)
    if len(value) != 1:
        raise InputFileError(f"The delimiter must be one character or 'auto', not {clip(value)!r}.",
                             hint="delimiter")
    return value


def _decoded_lines(chunks: Iterable[bytes], enc: str) -> Iterator[tuple[str, bool]]:
    """(text, undecodable) per physical line, keeping line endings."""
    if codecs.lookup(enc).name.startswith("utf-16"):
        yield from _text_lines(chunks, enc)
        return
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield _decode_line(line + b"\n", enc)
    if pending:
        yield _decode_line(pending, enc)


def _text_lines(chunks: Iterable[bytes], enc: str) -> Iterator[tuple[str, bool]]:
    decoder = codecs.getincrementaldecoder(enc)(errors="replace")
    pending = ""
    for chunk in chunks:
        pending += decoder.decode(chunk)
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n", "\ufffd" in line
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending, "\ufffd" in pending


class _LineTap:
    """Feeds lines to csv.reader and remembers which physical lines made each record."""

    def __init__(self, lines: Iterator[tuple[str, bool]], start: int) -> None:
        self._lines = lines
        self.next_line = start
        self.buffer: list[str] = []
        self.bad = False

    def __iter__(self) -> "_LineTap":
        return self

    def __next__(self) -> str:
        text, bad = next(self._lines)
        self.buffer.append(text)
        self.bad |= bad
        return text

    def take(self) -> tuple[int, str, bool]:
        """(first line number, raw text, undecodable) of the lines consumed since last take."""
        line, raw, bad = self.next_line, "".join(self.buffer), self.bad
        self.next_line += len(self.buffer)
        self.buffer, self.bad = [], False
        return line, raw, bad


def _records(reader: Any, tap: _LineTap) -> Iterator[RawRecord]:
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line, raw, bad = tap.take()
            yield RawRecord(line, raw, [], bad, error=f"malformed CSV: {exc}")
            continue
        line, raw, bad = tap.take()
        if "'" in raw:  # a neutralised cell starts with a quote (rare: one C search a row)
            cells = _unneutralised(cells)
        if not cells or (len(cells) == 1 and cells[0] == "" and not raw.strip("\r\n")):
            cells = []  # a blank line: a record the import skips and counts
        yield RawRecord(line, raw.rstrip("\r\n"), cells, bad)


# ---- output ----------------------------------------------------------------------------

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _runs_as_formula(value: str) -> bool:
    """Whether `neutralise` quotes `value`: it starts (after any quotes of its own) with
    = + - @ tab or CR, and is not a plain number ("-12.5", "+3" stay numbers)."""
    return value.lstrip("'").startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value)


def neutralise(value: str) -> str:
    """Prefix `'` to a cell a spreadsheet would run as a formula (OWASP's CSV injection
    rule); every other cell is left as it is. A cell that already starts with quotes
    before such a character gets one more, so `unneutralise` gives back exactly `value`."""
    return "'" + value if _runs_as_formula(value) else value


def unneutralise(cell: str) -> str:
    """The value `neutralise` was given: drops exactly the one quote it adds, nothing else
    (import of an exported CSV stores what was exported, not the protective quote)."""
    return cell[1:] if cell.startswith("'") and _runs_as_formula(cell[1:]) else cell


class CsvOut:
    """The one CSV writer (RFC 4180, CRLF): every CSV custdata writes goes through it, and
    every cell is neutralised unless `neutral` is off (`export --raw`)."""

    def __init__(self, stream: IO[str], *, neutral: bool = True) -> None:
        self._writer = csv.writer(stream, lineterminator="\r\n")
        self.neutral = neutral

    def row(self, cells: Iterable[Any]) -> None:
        """Write one record: values as `csv_cell` prints them, neutralised."""
        texts = [c if isinstance(c, str) else csv_cell(c) for c in cells]
        self._writer.writerow([neutralise(t) for t in texts] if self.neutral else texts)


def csv_cell(value: Any) -> str:
    """Plain text of a value in CSV: numbers without separators, dicts/lists as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _plain_float(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def json_value(value: Any) -> Any:
    if isinstance(value, float):
        return float(_plain_float(value)) if value == value else None
    return value


def _plain_float(value: float) -> str:
    if value != value:
        return ""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value)) if abs(value) >= 1 or value == 0 else repr(value)
    return repr(round(value, 10))


def write_csv(rows: Iterable[dict], columns: list[str], stream: IO[str], *,
              neutral: bool = True) -> int:
    """Write an RFC 4180 CSV (CRLF, header first, cells neutralised unless `neutral` is
    off) and return the number of records."""
    out = CsvOut(stream, neutral=neutral)
    out.row(columns)
    count = 0
    for row in rows:
        out.row([csv_cell(row.get(c)) for c in columns])
        count += 1
    return count


def write_json(rows: Iterable[dict], columns: list[str], stream: IO[str], *, lines: bool) -> int:
    """Write one JSON array (streamed) or one JSON object per line."""
    count = 0
    if not lines:
        stream.write("[")
    for row in rows:
        obj = {c: json_value(row.get(c)) for c in columns}
        text = json.dumps(obj, ensure_ascii=False)
        if lines:
            stream.write(text + "\n")
        else:
            stream.write(("\n" if count == 0 else ",\n") + text)
        count += 1
    if not lines:
        stream.write("\n]\n" if count else "]\n")
    return count


def open_binary_input(path: str) -> IO[bytes]:
    """The bytes of FILE, or of stdin for `-`. Raises InputFileError with the fix."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError as exc:
        raise InputFileError(f"No such file: {path}. Check the path, or use - for stdin.") from exc
    except IsADirectoryError as exc:
        raise InputFileError(f"{path} is a directory; give a CSV file.") from exc
    except OSError as exc:
        raise InputFileError(f"Cannot read {path}: {exc.strerror}.") from exc


def text_stdout() -> IO[str]:
    """stdout as UTF-8 text whatever the locale, without translating newlines."""
    return io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=True)
