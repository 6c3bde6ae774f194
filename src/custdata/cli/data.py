"""init, import and export: getting data into the store and out of it."""

from __future__ import annotations

import csv
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from custdata.cli._shared import (
    Format, emit, err, open_store, parse_since, progress, say, state,
)
from custdata.config import starter_toml
from custdata.errors import CheckFailed, InputFileError, UsageError
from custdata.ingest import (
    amount_evidence, check_identifiable, describe_plan, header_matcher, mapped_columns,
    plan_columns, to_record, unmapped_people_fields,
)
from custdata.io import ReadOptions, open_binary_input, read_input, rewindable
from custdata.numbers import checked_decimal
from custdata.models import FIELDS_BY_KIND, Reject
from custdata.parallel import ReadAhead, default_workers

import_app = typer.Typer(help="Import contacts, orders or interactions from CSV or .xlsx (FILE or - for stdin).",
                         no_args_is_help=True)
export_app = typer.Typer(help="Export contacts, orders or interactions (streams; any size).",
                         no_args_is_help=True)

KINDS = ("contacts", "orders", "interactions")
READ_AHEAD_MIN_BYTES = 8 * 2**20  # ~40,000 contacts or ~130,000 orders


class OnConflict(str, Enum):
    update = "update"
    skip = "skip"
    fail = "fail"


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
    for kind in KINDS:
        import_app.command(kind, help=f"Import {kind} from a CSV or .xlsx FILE (- for stdin).")(
            _import_command(kind))
        export_app.command(kind, help=f"Export {kind}.")(_export_command(kind))


# ---- init --------------------------------------------------------------------------

def init(
    region: Annotated[str, typer.Option("--region", help="Default phone region written to "
                                        "the config (ISO 3166-1 alpha-2).")] = "CN",
) -> None:
    """Create the store and a commented custdata.toml beside it (never overwritten)."""
    region = region.upper()
    if len(region) != 2 or not region.isalpha():
        raise UsageError(f"--region {region!r} is not a two-letter country code such as CN or US.")
    existed = state.db.exists()
    with open_store():
        pass
    say(f"{'Store already exists' if existed else 'Created store'}: {state.db}")
    config_path = state.resolved_config_path()
    if config_path.exists():
        say(f"Config already exists (left as it is): {config_path}")
        return
    tmp = config_path.with_name(f".{config_path.name}.tmp")
    tmp.write_text(starter_toml(region), encoding="utf-8")
    os.replace(tmp, config_path)
    say(f"Wrote config: {config_path} (default phone region {region})")


# ---- import ------------------------------------------------------------------------

def _import_command(kind: str) -> Any:
    def command(
        file: Annotated[str, typer.Argument(help="CSV or .xlsx file, or - for stdin.")],
        map_: Annotated[list[str] | None, typer.Option(
            "--map", help="SRC=FIELD: read column SRC as FIELD (repeatable).")] = None,
        encoding: Annotated[str, typer.Option(
            "--encoding", help="auto, or a codec such as utf-8, gb18030, utf-16.")] = "auto",
        delimiter: Annotated[str, typer.Option(
            "--delimiter", help="auto, or one of , ; tab |.")] = "auto",
        region: Annotated[str | None, typer.Option(
            "--region", help="Phone region for numbers without +country (default: config).",
            show_default=False)] = None,
        source: Annotated[str | None, typer.Option(
            "--source", help="Set `source` on imported contacts that have none.",
            show_default=False)] = None,
        on_conflict: Annotated[OnConflict, typer.Option(
            "--on-conflict", help="What to do with a row that matches a stored record: "
            "update it, skip it, or fail the import.")] = OnConflict.update,
        clean: Annotated[bool, typer.Option(
            "--clean", help="Run `clean` on the imported contacts in the same transaction.")] = False,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="Count what would happen; write nothing.")] = False,
        rejects: Annotated[Path | None, typer.Option(
            "--rejects", help="Also write rejected rows (line, reason, raw) to this CSV.",
            show_default=False)] = None,
        strict: Annotated[bool, typer.Option(
            "--strict", help="Any rejected row fails the whole import (exit 1, nothing written).")] = False,
        decimal: Annotated[str, typer.Option(
            "--decimal", help="Decimal separator of amounts: auto (decided per column from "
            "all its values), ',' or '.'.")] = "auto",
        header_row: Annotated[int | None, typer.Option(
            "--header-row", min=1, help="Row number of the header (from 1, as Excel numbers "
            "rows); default: the first row naming known fields.", show_default=False)] = None,
        sheet: Annotated[str | None, typer.Option(
            "--sheet", help="Sheet of an .xlsx workbook (default: the first).",
            show_default=False)] = None,
    ) -> None:
        reading = ReadOptions(encoding=encoding, delimiter=delimiter, decimal=_decimal(decimal),
                              header_row=header_row, sheet=sheet)
        run_import(kind, file, mapping=_parse_map(map_ or []), reading=reading,
                   region=region, source=source,
                   on_conflict=on_conflict.value, clean=clean, dry_run=dry_run,
                   rejects_path=rejects, strict=strict)

    command.__doc__ = f"Import {kind} from a CSV or .xlsx FILE (- for stdin)."
    return command


def _parse_map(items: list[str]) -> dict[str, str]:
    mapping = {}
    for item in items:
        src, sep, fld = item.partition("=")
        if not sep or not src.strip() or not fld.strip():
            raise UsageError(f"--map {item!r} should look like SRC=FIELD, e.g. --map 手机=phone.")
        mapping[src.strip()] = fld.strip().lower()
    return mapping


def _decimal(value: str) -> str | None:
    try:
        return checked_decimal(value)
    except ValueError:
        raise UsageError(f"--decimal {value!r}: use auto, ',' or '.'.") from None


def run_import(kind: str, file: str, *, mapping: dict[str, str], reading: ReadOptions,
               region: str | None, source: str | None, on_conflict: str, clean: bool,
               dry_run: bool, rejects_path: Path | None, strict: bool) -> None:
    """Read FILE and upsert its rows in one transaction; print the summary line."""
    region = (region or state.config.get("general", "region")).upper()
    dayfirst = state.config.get("general", "dayfirst")
    name = "<stdin>" if file == "-" else file
    stream = open_binary_input(file)
    is_header = header_matcher(kind, mapping)
    try:
        decimal = reading.decimal
        if kind == "orders" and decimal is None:  # decided from all of the amounts: 1st pass
            stream = rewindable(stream)
            decimal = _amount_decimal(stream, reading, name, kind, mapping, is_header)
        table = read_input(stream, reading, name=name, is_header=is_header)
        plan = plan_columns(kind, table.header, mapping)
        check_identifiable(kind, plan, table.header)
        _report_plan(kind, table, plan, dry_run)

        def records():
            for raw in table.records:
                rec = to_record(kind, raw, plan, region=region, dayfirst=dayfirst,
                                decimal=decimal)
                if source and kind == "contacts" and not isinstance(rec, Reject) \
                        and not (rec.values.get("source") or "").strip():
                    rec.values["source"] = source
                yield rec

        # A big file or a pipe is read and parsed by a forked child while this process
        # writes (forked before the store is opened); the child hashes the bytes it read.
        ahead = _start_read_ahead(records(), table) if _read_ahead(stream) else None
        sink = _RejectsFile(rejects_path) if rejects_path else None
        try:
            counts = _store_records(kind, ahead or records(), table.encoding, name,
                                    on_conflict=on_conflict, region=region, dayfirst=dayfirst,
                                    clean=clean, dry_run=dry_run, strict=strict, sink=sink,
                                    mapped=mapped_columns(table.header, plan),
                                    sha256=(lambda: ahead.trailer) if ahead
                                    else (lambda: table.sha256))
        finally:
            if ahead:
                ahead.close()
            if sink:
                sink.finish()
    finally:
        if stream is not None and stream is not sys.stdin.buffer:
            stream.close()
    # The summary line is the contract's, printed even with --quiet: scripts parse it.
    err.print(("dry run: " if dry_run else "") + counts.summary() + _encoding_note(table),
              markup=False, highlight=False, soft_wrap=True)


def _encoding_note(table: Any) -> str:
    if not table.encoding:  # a workbook: no text encoding
        return ""
    note = f"; encoding {table.encoding}"
    return note + " (a guess: pass --encoding NAME if the text looks wrong)" \
        if table.encoding_guessed else note


def _amount_decimal(stream: Any, reading: ReadOptions, name: str, kind: str,
                    mapping: dict[str, str], is_header: Any) -> str | None:
    """The amount column's decimal mark from all its values (a first pass over `stream`,
    which is rewound); warns about the values that will stay unreadable."""
    first = read_input(stream, reading, name=name, is_header=is_header)
    found = amount_evidence(first.records, plan_columns(kind, first.header, mapping))
    stream.seek(0)
    if found is None:
        return None
    if found.unreadable():
        hint = " Pass --decimal , or --decimal . to say which separator is the decimal one." \
            if found.ambiguous and found.decimal() is None else ""
        err.print(f"warning: {found.unreadable()} amount(s) cannot be read and are left out of "
                  f"reports: {found.explain()}.{hint}", markup=False, highlight=False,
                  soft_wrap=True)
    return found.decimal()


def _report_plan(kind: str, table: Any, plan: list, dry_run: bool) -> None:
    """With --dry-run, which column goes where; always, a warning when nothing is a person."""
    if dry_run:
        err.print("columns (row " + str(table.header_line) + "): " + "; ".join(
            describe_plan(table.header, plan)), markup=False, highlight=False, soft_wrap=True)
    if unmapped_people_fields(kind, plan):
        err.print("warning: no column maps to name, email or phone; map one with --map "
                  "\"COLUMN=name\" (or email, phone; --map \"First+Last=name\" joins two).",
                  markup=False, highlight=False, soft_wrap=True)


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


def _store_records(kind: str, records: Any, encoding: str, name: str, *, on_conflict: str,
                   region: str, dayfirst: bool, clean: bool, dry_run: bool, strict: bool,
                   sink: "_RejectsFile | None", sha256: Callable[[], str],
                   mapped: frozenset[str] = frozenset()) -> Any:
    """Store `records` (decoded from `encoding`) in one write; `sha256()` is the input's
    hash once it is all read (the reading child's, when there is one)."""
    with open_store(need_key=True) as store, progress(f"importing {kind}", None) as advance:
        with store.write(state.command_line, input_file=name, dry_run=dry_run) as op:
            counts, touched = store.import_records(
                op, kind, records, input_file=name, on_conflict=on_conflict, region=region,
                dayfirst=dayfirst, on_reject=sink.add if sink else None, on_progress=advance,
                compare_as=_cleaned_form(region, dayfirst) if clean else None,
                track_touched=clean, mapped=mapped)
            op.sha256 = sha256()
            op.counts = asdict(counts)
            op.counts["encoding"] = encoding
            if strict and counts.rejected:
                err.print(counts.summary(), markup=False, highlight=False, soft_wrap=True)
                raise CheckFailed(
                    f"{counts.rejected} row(s) rejected and --strict is set: nothing was imported."
                    + (f" See {sink.path}." if sink else " Use --rejects FILE to see them."))
            if clean and kind == "contacts" and touched:
                clean_counts, _ = store.clean_contacts(op, region=region, dayfirst=dayfirst,
                                                       contact_ids=touched, dry_run=False,
                                                       collect=False)  # memory stays flat
                op.counts["cleaned"] = clean_counts
    return counts


def _cleaned_form(region: str, dayfirst: bool) -> Any:
    """Incoming values as `clean` would store them (for comparing, never for writing)."""
    from custdata.cleaning import clean_contact

    def cleaned(values: dict) -> dict:
        return {**values, **{k: v for k, v in clean_contact(values, region=region,
                                                              dayfirst=dayfirst).items()
                             if k in values}}
    return cleaned


class _RejectsFile:
    """Rejected rows as CSV (line, reason, raw), written to a temp file and renamed at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            self._fh = open(self.tmp, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise InputFileError(f"Cannot write --rejects {path}: {exc.strerror}.") from exc
        self._writer = csv.writer(self._fh, lineterminator="\r\n")
        self._writer.writerow(["line", "reason", "raw"])

    def add(self, reject: Reject) -> None:
        self._writer.writerow([reject.line, reject.reason, reject.raw])

    def finish(self) -> None:
        if self._fh.closed:
            return
        self._fh.close()
        os.replace(self.tmp, self.path)


# ---- export ------------------------------------------------------------------------

EXPORT_COLUMNS = {
    "contacts": ["id", *FIELDS_BY_KIND["contacts"], "extra"],
    "orders": ["id", *FIELDS_BY_KIND["orders"], "extra"],
    "interactions": ["id", *FIELDS_BY_KIND["interactions"], "extra"],
}


def _export_command(kind: str) -> Any:
    def command(
        where: Annotated[list[str] | None, typer.Option(
            "--where", help="FIELD=VALUE: only records whose FIELD equals VALUE (repeatable; "
            "email, phone and id_number match in any spelling).")] = None,
        changed_since: Annotated[str | None, typer.Option(
            "--changed-since", help="Contacts changed since DATE or an age like 7d.",
            show_default=False)] = None,
        mask: Annotated[bool, typer.Option(
            "--mask", help="Mask encrypted columns (138****8000) instead of decrypting.")] = False,
        raw: Annotated[bool, typer.Option(
            "--raw", help="Do not neutralise CSV cells that start with = + - @ tab or CR.")] = False,
        fmt: Annotated[ExportFormat | None, typer.Option(
            "--format", "-f", case_sensitive=False, help="table, csv, json, jsonl or xlsx "
            "(a workbook on stdout: redirect it to a file; default: table on a terminal, "
            "csv in a pipe).")] = None,
    ) -> None:
        run_export(kind, _parse_where(kind, where or []), changed_since=changed_since,
                   mask=mask, raw=raw, fmt=fmt)

    command.__doc__ = f"Export {kind} (id first, then the fields, then extra)."
    return command


def _parse_where(kind: str, items: list[str]) -> dict[str, str]:
    allowed = set(EXPORT_COLUMNS[kind]) - {"extra"}
    where = {}
    for item in items:
        fld, sep, value = item.partition("=")
        fld = fld.strip().lower()
        if not sep or fld not in allowed:
            raise UsageError(f"--where {item!r}: use FIELD=VALUE with a field of {kind}: "
                             f"{', '.join(sorted(allowed))}.")
        where[_stored_column(kind, fld)] = value
    return where


def _stored_column(kind: str, fld: str) -> str:
    if kind == "contacts":
        return fld
    return {"id": "contact_id", "customer_id": "customer_ref"}.get(fld, fld)


class ExportFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    xlsx = "xlsx"


def run_export(kind: str, where: dict[str, str], *, changed_since: str | None, mask: bool,
               raw: bool, fmt: Any) -> None:
    since = parse_since(changed_since) if changed_since else None
    if since and kind != "contacts":
        raise UsageError("--changed-since applies to contacts only.")
    if fmt is ExportFormat.xlsx and _stdout_is_terminal():
        raise UsageError("--format xlsx writes a workbook: redirect it to a file "
                         "(custdata export contacts -f xlsx > contacts.xlsx).")
    columns = EXPORT_COLUMNS[kind]
    with open_store(need_key=not mask, mask=mask) as store:
        rows = (_export_row(kind, r) for r in store.iter_table(kind, where=where,
                                                                changed_since=since))
        if fmt is ExportFormat.xlsx:
            _write_workbook(kind, rows, columns)
        else:
            emit(rows, Format(fmt.value) if fmt else None, columns, neutral=not raw)


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _write_workbook(kind: str, rows: Any, columns: list[str]) -> None:
    """The rows as an .xlsx on stdout (built in a temporary file: a ZIP needs seeking)."""
    import shutil
    import tempfile

    from custdata.xlsx import write_workbook

    if kind == "orders":  # the parsed day is a date a spreadsheet can sort and filter
        rows = ({**r, "order_date": r.get("day") or r.get("order_date")} for r in rows)
    with tempfile.TemporaryFile() as tmp:
        write_workbook(rows, columns, tmp, sheet=kind)
        tmp.seek(0)
        shutil.copyfileobj(tmp, sys.stdout.buffer)
        sys.stdout.buffer.flush()


def _export_row(kind: str, row: dict) -> dict:
    import json

    out = dict(row)
    out["extra"] = json.loads(row.get("extra") or "{}")
    if kind != "contacts":
        out["id"] = row["contact_id"]
        out["customer_id"] = row["customer_ref"]
    if kind == "orders" and row.get("amount_value") is not None:
        out["amount"] = row["amount_value"]  # a plain number (SPEC 4), not "¥1,234.50"
    return out
