"""`custdata dedupe --review`: decide the uncertain pairs at the terminal, one at a time.

Each pair is shown side by side (one row per field: both values, the agreement level and
its bits) and the answer is stored at once, so quitting or an interrupt keeps every
decision made so far. Without a terminal this is a usage error (exit 2).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from rich.markup import escape
from rich.table import Table

from custdata.api import dedupe as api
from custdata.api.session import Session
from custdata.cli._shared import human, out, say
from custdata.errors import UsageError

SHOWN_FIELDS = ("id", "external_id", "name", "email", "phone", "company", "address", "city",
                "province", "postal_code", "birth_date", "id_number")
ANSWERS = {"s": "same", "same": "same", "d": "different", "different": "different",
           "k": "skip", "skip": "skip", "": "skip", "q": "quit", "quit": "quit"}
NO_TERMINAL = ("--review asks about each pair at a terminal and this run has none; label "
               "pairs in a CSV (contact_a, contact_b, same|different) and load it with "
               "--labels FILE.")


def run_review(session: Session, threshold: float | None,
               identifiers: Sequence[str] | None) -> None:
    """Ask about each uncertain pair, storing each decision as it is made."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(NO_TERMINAL)
    pairs = api.review_queue(session, threshold=threshold, identifiers=identifiers)
    if not pairs:
        say("no uncertain pairs to review: every candidate pair is clearly the same "
            "customer, clearly not, or already decided.")
        return
    counts = {"same": 0, "different": 0, "skip": 0}
    for number, pair in enumerate(pairs, 1):
        out.print(_pair_table(pair, number, len(pairs)))
        answer = _ask()
        if answer == "quit":
            break
        counts[answer] += 1
        if answer != "skip":
            api.label(session, [(pair.a["id"], pair.b["id"], answer == "same")])
    say(f"stored {counts['same']} same and {counts['different']} different, skipped "
        f"{counts['skip']}; later runs (and --merge) follow these decisions.")


def _pair_table(pair: api.ReviewPair, number: int, total: int) -> Table:
    """Both records side by side, with each compared field's level and bits."""
    evidence = {name: (level, bits) for name, level, bits in pair.contributions}
    table = Table(title=f"pair {number} of {total}: match probability "
                        f"{pair.probability:.3f} ({pair.bits:+.1f} bits)", header_style="bold")
    for column in ("field", "A", "B", "level", "bits"):
        table.add_column(column, overflow="fold")
    for name in SHOWN_FIELDS:
        a, b = pair.a.get(name), pair.b.get(name)
        if a in (None, "") and b in (None, "") and name not in evidence:
            continue
        level, bits = evidence.get(name, ("", None))
        table.add_row(name, escape(human(a)), escape(human(b)), level,
                      "" if bits is None else f"{bits:+.2f}")
    for name, (level, bits) in evidence.items():
        if name not in SHOWN_FIELDS:
            table.add_row(name, "", "", level, f"{bits:+.2f}")
    return table


def _ask() -> str:
    """same, different, skip or quit (end of input: quit)."""
    while True:
        try:
            text = typer.prompt("same, different, skip or quit? [s/d/k/q]", default="k",
                                show_default=False)
        except (typer.Abort, EOFError):
            return "quit"
        answer = ANSWERS.get(text.strip().lower())
        if answer is not None:
            return answer
        out.print("answer s (same), d (different), k (skip) or q (quit).")
