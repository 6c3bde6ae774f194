"""What several command groups share: naming one contact, reading a date or an age."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from custdata.errors import InvalidValue, NotFoundError, UsageError, clip
from custdata.outputs import store_paths
from custdata.normalize import email_key, id_number_key, normalize_date, phone_key

T = TypeVar("T")

_PREFIXES = ("id", "ext", "email", "phone", "id_number")
_AGE_UNITS = {"d": "days", "h": "hours", "w": "weeks"}


def parse_day(text: str, *, dayfirst: bool = False) -> date | None:
    """The date that `text` names (ISO, or any form `clean` reads), or None."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        pass
    try:
        return date.fromisoformat(normalize_date(text, dayfirst=dayfirst))
    except (InvalidValue, ValueError):
        return None


def since_timestamp(text: str, *, dayfirst: bool = False, now: datetime | None = None) -> str | None:
    """A date, or an age like 7d, 12h, 2w, as the UTC timestamp text the store compares; None
    when `text` is neither."""
    value = text.strip().lower()
    if len(value) >= 2 and value[-1] in _AGE_UNITS and value[:-1].isdigit():
        moment = (now or datetime.now(timezone.utc)) - timedelta(
            **{_AGE_UNITS[value[-1]]: int(value[:-1])})
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    day = parse_day(text, dayfirst=dayfirst)
    if day is None:
        return None
    local_midnight = datetime(day.year, day.month, day.day).astimezone()
    return local_midnight.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolve_contact(store: Any, text: str, *, region: str) -> int:
    """The id of the one contact that TEXT names: an id, external id, email or phone.

    Prefix with id:, ext:, email:, phone: or id_number: to say which. No match or several
    matches is a NotFoundError (exit 2) that lists the candidates.
    """
    kind, sep, value = text.partition(":")
    if not sep or kind not in _PREFIXES:
        kind, value = "any", text
    value = value.strip()
    probes: dict[str, Any] = {}
    if kind in ("id", "any") and value.isdigit():
        probes["contact_id"] = int(value)
    if kind in ("ext", "any"):
        probes["external_id"] = value
    if kind == "email" or (kind == "any" and "@" in value):
        probes["email_key"] = email_key(value)
    if kind == "phone" or (kind == "any" and "@" not in value and any(c.isdigit() for c in value)):
        probes["phone_key"] = phone_key(value, region)
    if kind == "id_number":
        probes["id_number_key"] = id_number_key(value)
    ids = store.contacts.find_ids(**probes) if probes else []
    if not ids:
        raise NotFoundError(f"No contact matches {text!r}; give an id, external id, email or phone.",
                            hint="find")
    if len(ids) > 1:
        listing = "; ".join(describe_contact(store, i) for i in ids[:20])
        raise NotFoundError(
            f"{len(ids)} contacts match {text!r}: {listing}. Name one with id:N.")
    return ids[0]


def describe_contact(store: Any, contact_id: int) -> str:
    """"id:7 C0007 Zhang Wei": who a contact is, in a few words."""
    row = store.contacts.get(contact_id) or {}
    parts = [f"id:{contact_id}"] + [str(row[k]) for k in ("external_id", "name") if row.get(k)]
    return " ".join(parts)


def protected_paths(session: Any, *inputs: Path) -> dict[Path, str]:
    """Paths no output of this session may replace: the store, its journals, the key file."""
    paths = store_paths(session.db) if isinstance(session.db, Path) else {}
    if session.key_file is not None:
        paths[session.key_file] = "the key file"
    paths.update({p: "an input of this command" for p in inputs})
    return paths


def counted(items: Iterable[T], advance: Callable[[int], None], every: int = 1000) -> Iterator[T]:
    """`items`, unchanged, calling advance(n) every `every` items and once at the end (the
    session's progress for work that streams rows)."""
    done = 0
    for item in items:
        yield item
        done += 1
        if done == every:
            advance(done)
            done = 0
    if done:
        advance(done)


def phone_region(text: str | None) -> str:
    """`text` as a phone region phonenumbers knows ("cn" -> "CN"); UsageError otherwise."""
    import phonenumbers

    value = (text or "").strip().upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise UsageError(
            f"{clip(value or text or '')!r} is not a phone region; use a two-letter country "
            "code such as CN, US or GB.", hint="region")
    return value
