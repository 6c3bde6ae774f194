"""Dedupe's memory, for api.dedupe: which model a run uses, and labels read from a file.

A stored model (`dedupe --model`) is reused while it still fits the store: fitted with
the same identifiers, on a number of contacts within STALE_SHARE of today's. Otherwise
the run fits afresh and says the stored one is stale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custdata.api.common import resolve_contact
from custdata.dedupe import Model, model_from_dict
from custdata.dedupe.fit import FORMAT as MODEL_FORMAT
from custdata.errors import CustdataError, InputFileError
from custdata.io import ReadOptions, open_binary_input, read_input

STALE_SHARE = 0.10  # a stored model is stale once the contact count moved by more than this
LABEL_WORDS = {"same": True, "different": False}
LABEL_COLUMNS = ("contact_a", "contact_b")


@dataclass(frozen=True)
class ModelChoice:
    """The model a run uses (None: fit one now) and what the store held.

    state: "stored" (the stored model is used), "stale" (one is stored but no longer
    fits: fitted afresh), "none" (nothing stored: fitted afresh). fitted_at and
    contacts: the stored model's fit time and contact count (None without one)."""

    model: Model | None
    state: str
    fitted_at: str | None = None
    contacts: int | None = None
    why: str = ""


def identifiers_of(config: Any, given: Sequence[str] | None) -> tuple[str, ...]:
    """The identifier columns: those given, else config dedupe.identifiers; trimmed, unique."""
    names = config.get("dedupe", "identifiers") if given is None else given
    out: list[str] = []
    for name in names:
        name = str(name).strip()
        if name and name not in out:
            out.append(name)
    return tuple(out)


def choose_model(stored: dict[str, Any] | None, contacts: int,
                 identifiers: Sequence[str]) -> ModelChoice:
    """The stored model when it still fits `contacts` and `identifiers`, else None and why."""
    if stored is None:
        return ModelChoice(None, "none")
    fitted_at, fitted_on = stored.get("fitted_at"), stored.get("contacts")
    try:
        model = model_from_dict(stored)
        fitted_on = int(fitted_on)
    except (ValueError, TypeError, KeyError):
        old = isinstance(stored.get("format"), int) and stored["format"] < MODEL_FORMAT
        why = ("it was fitted with an earlier version of the comparisons" if old
               else "the stored model cannot be read")
        return ModelChoice(None, "stale", why=why)
    if list(stored.get("identifiers") or []) != list(identifiers):
        why = (f"it was fitted with identifiers {', '.join(stored.get('identifiers') or []) or 'none'}"
               f", this run uses {', '.join(identifiers) or 'none'}")
        return ModelChoice(None, "stale", fitted_at, fitted_on, why)
    if abs(contacts - fitted_on) > STALE_SHARE * max(fitted_on, 1):
        why = f"it was fitted on {fitted_on} contacts, the store now holds {contacts}"
        return ModelChoice(None, "stale", fitted_at, fitted_on, why)
    return ModelChoice(model, "stored", fitted_at, fitted_on)


def read_labels(store: Any, path: Path, *, region: str) -> list[tuple[int, int, bool]]:
    """The decisions in a CSV or .xlsx file with columns contact_a, contact_b and a third
    (label, decision or same) holding same or different; contacts named as `show` names
    them (id, external id, email, phone). Raises InputFileError naming the first bad line."""
    stream = open_binary_input(str(path))
    with stream:
        table = read_input(stream, ReadOptions(), name=path.name)
        header = [h.strip().lower() for h in table.header]
        if not all(c in header for c in LABEL_COLUMNS) or len(header) < 3:
            raise InputFileError(
                f"{path.name} needs the columns contact_a, contact_b and a label column "
                f"(same or different); it has {', '.join(table.header) or 'none'}.")
        at = [header.index(c) for c in LABEL_COLUMNS]
        word = next((i for i, h in enumerate(header) if h in ("label", "decision", "same")),
                    next(i for i in range(len(header)) if i not in at))
        labels, problems = [], []
        for record in table.records:
            cells = [c.strip() for c in record.cells] + [""] * len(header)
            if not any(cells):
                continue
            try:
                labels.append(_label(store, cells[at[0]], cells[at[1]], cells[word], region))
            except CustdataError as exc:
                problems.append(f"line {record.line}: {str(exc).rstrip('.')}")
    if problems:
        more = f" ({len(problems) - 1} more lines like it)" if len(problems) > 1 else ""
        raise InputFileError(f"{path.name} {problems[0]}{more}; nothing was stored.")
    return labels


def _label(store: Any, a: str, b: str, word: str, region: str) -> tuple[int, int, bool]:
    same = LABEL_WORDS.get(word.lower())
    if same is None:
        raise InputFileError(f"the label {word!r} is neither same nor different")
    first, second = (resolve_contact(store, text, region=region) for text in (a, b))
    if first == second:
        raise InputFileError(f"{a} and {b} are the same contact")
    return first, second, same
