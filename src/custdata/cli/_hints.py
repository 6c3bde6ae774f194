"""The option to name when an error says which value it needs (CustdataError.hint).

Errors raised below the CLI say what is wrong and what value would fix it; only here
does that value get the name of its command-line option.
"""

from __future__ import annotations

import re

from custdata.errors import ECHO_LIMIT, CustdataError, clip

_QUOTED = re.compile(r"'([^'\n]*)'|\"([^\"\n]*)\"")
_LONG_WORD = re.compile(r"[^\s'\",;:]{%d,}" % (ECHO_LIMIT + 1))
MESSAGE_LIMIT = 2000  # a whole message (lists of candidates included)

HINTS: dict[str, str] = {
    # ---- people19 (find, people shown as people, churn call list, export columns) ----
    "find": "To search by name, company or part of a phone or email: custdata find QUERY.",
    "limit": "Give --limit a whole number of at least 1.",
    "export_limit": "Give --limit a whole number, 0 or more.",
    "columns": "Name them with --columns A,B.",
    "sort": "Use --sort FIELD or --sort FIELD:desc.",
    "key_file": "Pass --key-file PATH or set CUSTDATA_KEY_FILE to the key file's path.",
    "key_file_or_mask": "Pass --key-file PATH or set CUSTDATA_KEY_FILE to the key file's "
                        "path (`export` can show masked values with --mask instead).",
    "wait": "Wait longer with --wait SECONDS.",
    # ---- slice sdata (init, import, export, show, history, log, backup, outputs) ----
    "on_conflict_fail": "--on-conflict fail is set.",
    "strict_rejects": "--strict is set; use --rejects FILE to see the rejected rows.",
    "where": "Use --where FIELD=VALUE with a field of the table.",
    "free_space": "Free some space and run the command again.",
    "db": "Name the store with --db PATH or CUSTDATA_DB.",
    "key_file_unusable": "Check --key-file / CUSTDATA_KEY_FILE, or make a key with "
                "`custdata keygen --key-file PATH`.",
    "as_of": "Choose another --as-of.",
    "currency": "Or report one currency with --currency {example}.",
    # squality slice (clean, validate, audit)
    "region": "Pass --region CC or set general.region in the config.",
    "audit_show": "Name the check with --show CHECK.",
    # ---- slice sanalytics (dedupe, unmerge, tag, report rfm/summary/churn) ----
    "map": "Use --map COLUMN=FIELD.",
    "encoding": "Pass the right --encoding (e.g. --encoding gb18030, cp1252 or utf-16).",
    "delimiter": "Give --delimiter one of , ; tab | or auto.",
    "merge_id": "`dedupe --merge` printed the merge ids, and `custdata history CONTACT` "
                "shows them.",
    "threshold": "Give --threshold a probability in (0, 1], or set dedupe.threshold.",
    "explain_merge": "Run dedupe --explain first, then dedupe --merge on its own.",
    "segment": "Choose --segment from that list (English or Chinese names, any case).",
    # -- slice ssecure (keygen, encrypt, decrypt, rotate-key, forget) --
    "keygen_path": "Name it with: custdata keygen --key-file PATH.",
    "key_file_keygen": "Pass --key-file PATH or set CUSTDATA_KEY_FILE to the key file's path "
                       "(make one with `custdata keygen --key-file PATH`).",
    # -- slice files (issue 18: real files in: amounts, encodings, headers, .xlsx) --
    "decimal": "Use --decimal auto, ',' or '.'.",
    "header_row": "Check --header-row.",
    "sheet": "Name one with --sheet NAME.",
    "sheet_csv": "--sheet applies to .xlsx workbooks only.",
    # -- slice ux19 (issue 19: progress, unmerge several, hints, global options) --
    "unmerge_what": "Give MERGE_ID... (printed by `dedupe --merge`) or --operation OP_ID "
                    "(the run's id in `custdata log`).",
    "merge_operation": "`custdata log` shows the operation id of each `dedupe --merge` run.",
    # -- slice pg20 (issue 20: the team store on PostgreSQL) --
    "pgpass": "libpq reads it from ~/.pgpass (host:port:dbname:user:password, chmod 600), "
              "PGPASSFILE or a service file.",
    "postgres_driver": "Install the driver with: pip install 'custdata[postgres]'.",
    # -- slice s18 (issue 18: notices of import name no flags below the CLI) --
    "decimal_mark": "Pass --decimal , or --decimal . to say which separator is the decimal one.",
    "map_person": "Map one with --map \"COLUMN=name\" (or email, phone; --map "
                  "\"First+Last=name\" joins two).",
    # -- slice files19 (issue 19: files never lost or exposed; cron never passes by mistake) --
    "force": "Pass --force to replace it.",
}


def with_hint(exc: CustdataError) -> str:
    """The error's message, followed by the option that supplies what it needs (if any)."""
    hint = HINTS.get(exc.hint or "")
    if hint is None:
        return shortened(str(exc))
    return f"{shortened(str(exc))} {hint.format(example=clip(exc.example or 'CODE'))}"


def shortened(message: str) -> str:
    """`message` with whatever it echoes kept short: each quoted value and each unbroken
    run of characters at most ECHO_LIMIT characters, the whole at most MESSAGE_LIMIT (an
    unknown header that is a 5 MB line, say, never floods the terminal)."""
    if len(message) <= ECHO_LIMIT:
        return message

    def quoted(m: re.Match) -> str:
        q = m.group(0)[0]
        return f"{q}{clip(m.group(1) if m.group(1) is not None else m.group(2))}{q}"

    message = _LONG_WORD.sub(lambda m: clip(m.group(0)), _QUOTED.sub(quoted, message))
    return clip(message, MESSAGE_LIMIT)


def with_advice(message: str) -> str:
    """A notice (custdata.api.session.Notice) followed by the advice its hint names."""
    advice = HINTS.get(getattr(message, "hint", None) or "")
    return f"{message} {advice}" if advice else str(message)
