"""init, import and export: getting data into the store and out of it, from Python.

    from custdata.api import Session, data
    session = Session(db=Path("crm.db"))
    counts = data.import_records(session, "contacts", Path("leads.csv"))
    print(counts.summary())
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from custdata.api import loading
from custdata.api.common import counted, phone_region, protected_paths
from custdata.api.export_view import TABLE_DEFAULT, ExportView
from custdata.api.session import Notice, Session
from custdata.config import starter_toml
from custdata.errors import CheckFailed, UsageError
from custdata.ingest import (
    Record,
    amount_evidence,
    check_identifiable,
    describe_plan,
    header_matcher,
    mapped_columns,
    plan_columns,
    to_record,
    unmapped_people_fields,
)
from custdata.io import (
    CsvOut, ReadOptions, Table, csv_rows, open_binary_input, read_input, rewindable,
)
from custdata.models import FIELDS_BY_KIND, ImportCounts, Reject, Skipped
from custdata.numbers import checked_decimal
from custdata.outputs import (
    AtomicFile,
    check_target,
    open_output,
    stream_path,
    output_error,
)
from custdata.parallel import ReadAhead, bulk_gc, default_workers

KINDS = ("contacts", "orders", "interactions")
ON_CONFLICT = ("update", "skip", "fail")
READ_AHEAD_MIN_BYTES = 8 * 2**20  # ~40,000 contacts or ~130,000 orders
EXPORT_COLUMNS = {kind: ["id", *FIELDS_BY_KIND[kind], "extra"] for kind in KINDS}


# ---- init --------------------------------------------------------------------------

@dataclass
class InitResult:
    """What `init` did: the store (created or found) and the config (written or kept)."""

    store: Path | str
    created: bool
    config: Path
    config_written: bool


def init(session: Session, *, region: str = "CN") -> InitResult:
    """Create the store and a commented custdata.toml beside it (never overwritten)."""
    region = phone_region(region)
    existed = session.store_exists()
    with session.store():
        pass
    config_path = session.resolved_config_path()
    if config_path.exists():
        return InitResult(session.db, not existed, config_path, False)
    with open_output(config_path, protected_paths(session)) as out:
        out.text().write(starter_toml(region))
    return InitResult(session.db, not existed, config_path, True)




# ---- import ------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportResult(ImportCounts):
    """An import's counts, and the text encoding it read ("" for a workbook)."""

    encoding: str = ""
    encoding_guessed: bool = False  # chosen by how the text looks: may be wrong

    def encoding_note(self, advice: str = "") -> str:
        """"; encoding cp1252 (a guess: ADVICE)" for the summary line ("" for a workbook);
        the CLI's advice names the option that forces an encoding."""
        if not self.encoding:
            return ""
        note = f"; encoding {self.encoding}"
        if not self.encoding_guessed:
            return note
        return note + (f" (a guess: {advice})" if advice else " (a guess)")


class StrictRejects(CheckFailed):
    """`strict` and some rows were rejected: nothing was imported; `counts` says what was read."""

    def __init__(self, message: str, counts: ImportCounts, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.counts = counts


def import_records(session: Session, kind: str, file: str | Path | IO[bytes], *,
                   mapping: dict[str, str] | None = None, encoding: str = "auto",
                   delimiter: str = "auto", decimal: str = "auto",
                   header_row: int | None = None, sheet: str | None = None,
                   region: str | None = None, source: str | None = None,
                   on_conflict: str = "update", clean: bool = False, dry_run: bool = False,
                   rejects: Path | None = None, strict: bool = False) -> ImportResult:
    """Read a CSV or .xlsx (a path, "-" for stdin, or a binary stream) and upsert its rows
    in one transaction; returns the counts (read, inserted, updated, unchanged, rejected,
    skipped) and the encoding read.

    decimal: the amounts' decimal mark ("auto": decided per column from all its values,
    a first pass over an orders file; "," or "."). header_row: the physical row (from 1)
    of the header (default: the first row naming known fields). sheet: a workbook's sheet.

    mapping: source column -> field. region: phone region (default: config). source: set
    on imported contacts that have none. on_conflict: update, skip or fail. clean: run
    `clean` on the imported contacts in the same write. rejects: also write rejected rows
    (line, reason, raw) to this CSV. strict: any rejected row fails the import
    (`StrictRejects`, nothing written).
    """
    if kind not in KINDS or on_conflict not in ON_CONFLICT:
        raise UsageError(f"Import {kind!r} with on_conflict {on_conflict!r}: kinds are "
                         f"{', '.join(KINDS)}; on_conflict is one of {', '.join(ON_CONFLICT)}.")
    reading = ReadOptions(encoding=encoding, delimiter=delimiter, decimal=_decimal(decimal),
                          header_row=header_row, sheet=sheet)
    region = phone_region(region or session.region)
    mapping = mapping or {}
    name, given, owned = _input(file)
    stream = given
    inputs = [Path(name)] if owned else [p for p in (stream_path(given),) if p is not None]
    sink = _RejectsFile(rejects, protected_paths(session, *inputs)) if rejects else None
    try:
        with bulk_gc():  # a million rows: the cycle collector set for a bulk load
            lines = loading.lines_in(given)
            is_header = header_matcher(kind, mapping)
            mark = reading.decimal
            if kind == "orders" and mark is None:  # decided from all of the amounts: 1st pass
                stream = rewindable(given)
                mark = _amount_decimal(session, stream, reading, name, kind, mapping, is_header)
            table = read_input(stream, reading, name=name, is_header=is_header)
            plan = plan_columns(kind, table.header, mapping)
            check_identifiable(kind, plan, table.header)
            _report_plan(session, kind, table, plan, dry_run)
            records = _records(kind, table, plan, region, session.dayfirst, source, mark)
            # A big file or a pipe is read and parsed by a forked child while this process
            # writes (forked before the store is opened); the child hashes the bytes it read.
            ahead = _start_read_ahead(records, table) if _read_ahead(stream) else None
            try:
                counts = _store_records(session, kind, ahead or records, table.encoding, name,
                                        on_conflict=on_conflict, region=region, clean=clean,
                                        dry_run=dry_run, strict=strict, sink=sink,
                                        mapped=mapped_columns(table.header, plan),
                                        total=max(lines - table.header_line, 0)
                                        if lines is not None else None,
                                        sha256=(lambda: ahead.trailer) if ahead
                                        else (lambda: table.sha256))
            finally:
                if ahead:
                    ahead.close()
    finally:
        if sink:
            sink.discard()  # finished already unless the import failed
        if stream is not given:  # a temporary copy of a pipe
            stream.close()
        if owned:
            given.close()
    return ImportResult(**asdict(counts), encoding=table.encoding,
                        encoding_guessed=table.encoding_guessed)


def _decimal(value: str) -> str | None:
    try:
        return checked_decimal(value)
    except ValueError:
        raise UsageError(f"Decimal mark {value!r}: the choices are auto, ',' and '.'.",
                         hint="decimal") from None


def _amount_decimal(session: Session, stream: IO[bytes], reading: ReadOptions, name: str,
                    kind: str, mapping: dict[str, str], is_header: Any) -> str | None:
    """The amount column's decimal mark from all its values (a first pass over `stream`,
    which is rewound); notifies about the values that will stay unreadable."""
    first = read_input(stream, reading, name=name, is_header=is_header)
    rows = csv_rows(stream, first) if first.delimiter else \
        ((rec.line, rec.cells) for rec in first.records if not rec.error)  # a workbook
    found = amount_evidence(rows, plan_columns(kind, first.header, mapping))
    stream.seek(0)
    if found is None:
        return None
    if found.unreadable():
        hint = "decimal_mark" if found.ambiguous and found.decimal() is None else None
        session.notify(Notice(f"warning: {found.unreadable()} amount(s) cannot be read and "
                              f"are left out of reports: {found.explain()}.", hint))
    return found.decimal()


def _report_plan(session: Session, kind: str, table: Table, plan: list, dry_run: bool) -> None:
    """With dry_run, which column goes where; always, a warning when nothing is a person."""
    if dry_run:
        session.notify(f"columns (row {table.header_line}): "
                       + "; ".join(describe_plan(table.header, plan)))
    if unmapped_people_fields(kind, plan):
        session.notify(Notice("warning: no column maps to name, email or phone.",
                              "map_person"))


def _input(file: str | Path | IO[bytes]) -> tuple[str, IO[bytes], bool]:
    """(name, binary stream, whether we opened it and must close it)."""
    if isinstance(file, (str, Path)):
        text = str(file)
        return ("<stdin>" if text == "-" else text), open_binary_input(text), text != "-"
    return str(getattr(file, "name", "<stream>")), file, False


def _records(kind: str, table: Any, plan: Any, region: str, dayfirst: bool,
             source: str | None, decimal: str | None) -> Iterator[Record | Reject | Skipped]:
    for raw in table.records:
        rec = to_record(kind, raw, plan, region=region, dayfirst=dayfirst, decimal=decimal)
        if source and kind == "contacts" and isinstance(rec, Record) \
                and not (rec.values.get("source") or "").strip():
            rec.values["source"] = source
        yield rec


def _read_ahead(stream: Any) -> bool:
    """Whether to parse in a child process: two cores, and a big regular file or a pipe
    (whose length is unknown; a short one costs only the fork, a few milliseconds).

    Unlike the worker pools this ignores the load average: the child costs ~12 µs of
    pickling per row against the ~35 µs it takes off the writer, so even sharing busy
    cores the import is no slower, and the load average still counts the previous step
    of a nightly script for a minute after it ended.
    """
    if default_workers() < 2:
        return False
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (an in-memory stream)
        return False
    if stat.S_ISREG(info.st_mode):
        return info.st_size >= READ_AHEAD_MIN_BYTES
    return stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode)


def _start_read_ahead(records: Any, table: Any) -> ReadAhead | None:
    """A ReadAhead over `records` (hashing the bytes it reads), or None if it cannot fork."""
    try:
        return ReadAhead(records, trailer=lambda: table.sha256)
    except OSError:  # no fork here (a process limit, say): read in this process instead
        return None


def _store_records(session: Session, kind: str, records: Any, encoding: str, name: str, *,
                   on_conflict: str, region: str, clean: bool, dry_run: bool, strict: bool,
                   sink: "_RejectsFile | None", sha256: Callable[[], str],
                   mapped: frozenset[str] = frozenset(), total: int | None = None
                   ) -> ImportCounts:
    """Store `records` (decoded from `encoding`) in one write; `sha256()` is the input's
    hash once it is all read (the reading child's, when there is one); `total`: the rows
    expected (the progress bar's end), None when unknown."""
    dayfirst = session.dayfirst
    with session.store(need_key=True) as store, \
            session.progress(f"importing {kind}", total) as advance:
        with store.write(session.command_line, input_file=name, dry_run=dry_run) as op:
            counts, touched = loading.load(
                store, op, kind, records, input_file=name, on_conflict=on_conflict,
                region=region, dayfirst=dayfirst, on_reject=sink.add if sink else None,
                on_progress=advance, track_touched=clean, mapped=mapped,
                cleaned_as=_cleaned_form(region, dayfirst), clean=clean)
            op.sha256 = sha256()
            op.counts = {**{k: v for k, v in asdict(counts).items() if v is not None},
                         "encoding": encoding}
            if strict and counts.rejected:
                if sink:
                    sink.finish()
                raise StrictRejects(
                    f"{counts.rejected} row(s) rejected in a strict import: nothing was "
                    "imported." + (f" See {sink.target}." if sink else ""), counts,
                    hint=None if sink else "strict_rejects")
            if clean and kind == "contacts" and touched:
                from custdata.api.quality import clean_contacts

                clean_counts, _ = clean_contacts(
                    store, op, region=region, dayfirst=dayfirst, contact_ids=touched, dry_run=False,
                    collect=False)  # memory stays flat
                op.counts["cleaned"] = clean_counts
            if sink:
                sink.complete()  # a full disk shows here, before the commit
    if sink:
        sink.finish()
    return counts


def _cleaned_form(region: str, dayfirst: bool) -> Callable[[dict], dict]:
    """Incoming values as `clean` would store them (for comparing, never for writing):
    a raw value that cleans to the stored one is unchanged, with or without `--clean`."""
    from custdata.clean import clean_contact

    def cleaned(values: dict) -> dict:
        return {**values, **{k: v for k, v in clean_contact(values, region=region,
                                                              dayfirst=dayfirst).items()
                             if k in values}}
    return cleaned


class _RejectsFile(AtomicFile):
    """Rejected rows as CSV (line, reason, raw), written through the one output writer."""

    def __init__(self, path: Path, protected: dict[Path, str]) -> None:
        check_target(path, protected)
        super().__init__(path)
        self._writer = CsvOut(self.text())  # opened in a spreadsheet: neutralised
        self.add_row(["line", "reason", "raw"])

    def add(self, reject: Reject) -> None:
        self.add_row([reject.line, reject.reason, reject.raw])

    def add_row(self, cells: list[Any]) -> None:
        try:
            self._writer.row(cells)
        except OSError as exc:
            self.discard()
            raise output_error(exc, self.target) from exc


# ---- export ------------------------------------------------------------------------

def export_rows(session: Session, kind: str, *, where: dict[str, str] | None = None,
                changed_since: str | None = None, mask: bool = False,
                columns: str | Iterable[str] | None = None, sort: str | None = None,
                limit: int | None = None) -> Iterator[dict]:
    """The records of `kind` as exported (id first, the fields, then `extra` as an object).

    where: field -> value (email, phone and id_number match in any spelling; "" matches a
    missing value). changed_since: a UTC timestamp text (`api.common.since_timestamp`),
    contacts only. mask: masked values of encrypted columns instead of the key.
    columns: "a,b" or a list (only those, in that order); sort: "field" or "field:desc"
    (empty values last, then by id); limit: at most this many rows (see
    api.export_view). A generator: the store stays open while it is read.
    """
    if kind not in KINDS:
        raise UsageError(f"Export {kind!r}: choose one of {', '.join(KINDS)}.")
    if changed_since and kind != "contacts":
        raise UsageError("Only contacts can be filtered by the date they changed.")
    view = ExportView.of(kind, EXPORT_COLUMNS[kind], columns=columns, sort=sort, limit=limit)
    stored = _stored_where(kind, where or {})
    rows = _export(session, kind, stored, changed_since, mask, view)
    next(rows)  # opens the store and checks the filters now, before any row is read
    return rows


def _export(session: Session, kind: str, where: dict[str, str], since: str | None,
            mask: bool, view: ExportView) -> Iterator[Any]:
    """None once the store is open and the filters are read, then the rows."""
    from custdata.api.secure import row_masker

    with session.store(need_key=not mask, mask=mask, read_only=True) as store:
        filters = _filters(store, kind, where, session.region)
        # Masked means masked on any store: values kept in clear are masked here too.
        masked = row_masker(session, store.protector) if mask else None
        sealed = view.sort_column is not None and store.protector.seals(kind, view.sort_column)
        order = None if sealed else view.sort_column
        yield None
        total = None if since or any(filters.values()) else store.tables.count(kind)
        if total is not None and view.limit is not None:
            total = min(total, view.limit)
        with session.progress(f"exporting {kind}", total) as advance:
            stored = counted(store.tables.rows(kind, changed_since=since, order_by=order,
                                               descending=view.descending, limit=view.limit,
                                               **filters), advance)
            rows = (_export_row(kind, masked(kind, row) if masked else row) for row in stored)
            yield from view.shape(view.sorted_in_memory(rows) if sealed else rows,
                                  all_columns=EXPORT_COLUMNS[kind])


def _stored_where(kind: str, where: dict[str, str]) -> dict[str, str]:
    allowed = set(EXPORT_COLUMNS[kind]) - {"extra"}
    stored = {}
    for fld, value in where.items():
        name = fld.strip().lower()
        if name not in allowed:
            raise UsageError(f"{fld!r} is not a field of {kind}; use one of: "
                             f"{', '.join(sorted(allowed))}.", hint="where")
        stored[name if kind == "contacts" else
               {"id": "contact_id", "customer_id": "customer_ref"}.get(name, name)] = value
    return stored


_KEY_COLUMNS = {"email": "email_key", "phone": "phone_key", "id_number": "id_number_key"}


def _filters(store: Any, kind: str, where: dict[str, str], region: str) -> dict[str, Any]:
    """Where FIELD=VALUE as stored-column filters: keys in any spelling, sealed columns
    compared once opened, an empty VALUE for a missing field."""
    from custdata.normalize.keys import key_of as plain_key

    protector = store.protector
    equal: dict[str, str | None] = {}
    missing: list[str] = []
    opened: dict[str, str] = {}
    for column, value in where.items():
        if value == "":
            missing.append(column)
        elif kind != "contacts" and column in protector.sealed_columns(kind):
            opened[column] = value
        elif kind == "contacts" and column in _KEY_COLUMNS:
            equal[_KEY_COLUMNS[column]] = protector.index(column, plain_key(column, value, region))
        elif kind == "contacts" and column in protector.encrypted_columns:
            raise UsageError(f"{column} is encrypted and cannot be searched.", hint="where")
        else:
            equal[column] = value
    return {"equal": equal, "missing": tuple(missing), "opened_equal": opened}


def _export_row(kind: str, row: dict) -> dict:
    out = dict(row)
    out["extra"] = json.loads(row.get("extra") or "{}")
    if kind != "contacts":
        out["id"] = row["contact_id"]
        out["customer_id"] = row["customer_ref"]
    if kind == "orders" and row.get("amount_value") is not None:
        out["amount"] = row["amount_value"]  # a plain number (SPEC 4), not "¥1,234.50"
    return out


def write_workbook(kind: str, rows: Iterable[dict], out: IO[bytes] | None = None) -> int:
    """Write exported `rows` of `kind` as an .xlsx to `out` (default: stdout's bytes);
    returns the rows written. Built in a temporary file first: a ZIP needs seeking."""
    from custdata.xlsx import write_workbook as build

    if kind == "orders":  # the parsed day is a date a spreadsheet can sort and filter
        rows = ({**r, "order_date": r.get("day") or r.get("order_date")} for r in rows)
    target = out if out is not None else sys.stdout.buffer
    with tempfile.TemporaryFile() as tmp:
        written = build(rows, EXPORT_COLUMNS[kind], tmp, sheet=kind)
        tmp.seek(0)
        shutil.copyfileobj(tmp, target)
    target.flush()
    return written
