"""find, and who a contact is: people as people read them, from Python.

    from custdata.api import Session, people
    found = people.find(Session(db=Path("crm.db")), "wangwei")
    for row in found.rows: print(row["name"], row["phone"])

Ranking (custdata.search.RANKS): a query word scores by where it is found: a whole
name 100, whole pinyin/email/phone/external id 95, whole company 90, start of a name 80,
of its pinyin 75, of an email 70, of a company 65, start of any word or email domain 55, initials 50,
start of a phone 45, end of a field (a phone's last digits) 50, anywhere else 30. Several
words: the mean of their scores (each must match); the query read as one phrase counts
too. Ties: the lower contact id first.

On an encrypted store the index holds sealed values only as their masks, so without
the key a phone is found by the digits its mask shows (first 3, last 4) and an email by
its first letter and domain; name, pinyin, company and external id as usual. With the key
a whole email or phone is also found exactly, through the blind index.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from custdata import search
from custdata.api.session import Session
from custdata.errors import KeyFileError, UsageError
from custdata.normalize import email_key, phone_key

FIND_COLUMNS = ["id", "name", "company", "phone", "email", "city", "owner", "external_id",
                "score"]
WHO_COLUMNS = ["name", "company", "phone_or_email"]  # who() fields shown beside contact ids


@dataclass
class Found:
    """What `find` returns: `rows` (FIND_COLUMNS), best first; `more`: matches left out
    by the limit; `indexed`: search texts (re)made by this run."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False
    indexed: int = 0


def find(session: Session, query: str, *, limit: int = 50) -> Found:
    """Contacts matching `query` (name in characters or pinyin, company, part of a phone
    or email, external id), ranked as this module says. Values in clear with the key,
    masked without it. A blank query is a UsageError."""
    terms = search.query_terms(query)
    if not terms:
        raise UsageError("The query is empty; give a name, company, phone or email to find.")
    if limit < 1:
        raise UsageError(f"The limit must be at least 1 (got {limit}).", hint="limit")
    with session.store(read_only=True) as store:
        indexed = _refresh(session, store)
        temporary = not store.search.may_save()
        ranked = store.search.matches(_alternatives(terms), limit=limit + 1, temporary=temporary)
        exact = _exact(store, query, session.region)
        ranks = {cid: 100 for cid in exact}
        for cid, rank in ranked:
            ranks.setdefault(cid, rank)
        order = sorted(ranks, key=lambda c: (-ranks[c], c))
        shown = order[:limit]
        people = {r["id"]: r for r in store.contacts.by_ids(shown)}
    rows = [_found_row(people[c], ranks[c]) for c in shown if c in people]
    return Found(rows, more=len(order) > limit, indexed=indexed)


def _refresh(session: Session, store: Any) -> int:
    """Make the missing search texts: kept in the store, or for this run only where this
    login may not write the index (a read-only file; a viewer of a team store)."""
    stale = store.search.stale_count()
    if not stale:
        return 0
    with session.progress("indexing people for find", stale) as advance:
        return store.search.refresh(search.search_text, temporary=not store.search.may_save(),
                                    advance=advance)


def _alternatives(terms: list[search.Term]) -> list[list[list[tuple[str, int]]]]:
    """The store's needles: one alternative per reading of the query (as a phrase; as
    words that must all match)."""
    needles = [_needles(t) for t in terms]
    if len(terms) == 1:
        return [needles]
    return [[needles[0]], needles[1:]]


def _needles(term: search.Term) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for spelling in term.spellings:
        out += [(search.pattern(kind, tag, spelling), score) for kind, tag, score in search.RANKS]
        out += [(" " + spelling, search.WORD_START), ("@" + spelling, search.WORD_START),
                (spelling + search.SEP, search.FIELD_END), (spelling, search.ANYWHERE)]
    return out


def _exact(store: Any, query: str, region: str) -> list[int]:
    """Contacts whose whole email or phone is `query`, through the match keys (the blind
    index of an encrypted store); [] without the key there."""
    text = query.strip()
    probes = {"email_key": email_key(text)} if "@" in text else {"phone_key": phone_key(text, region)}
    if not any(probes.values()):
        return []
    try:
        return store.contacts.find_ids(**probes)
    except KeyFileError:
        return []


def _found_row(row: dict, rank: int) -> dict[str, Any]:
    out = {c: row.get(c) for c in FIND_COLUMNS if c != "score"}
    out["score"] = rank
    return out


def who(store: Any, contact_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Contact id -> {name, company, phone_or_email} (WHO_COLUMNS): who each one is, for
    lists of people.

    phone_or_email: the phone, else the email, in clear with the key and masked without
    it (as the store's protector opens them). Ids no longer in the store are left out.
    """
    out: dict[int, dict[str, Any]] = {}
    for row in store.contacts.by_ids(contact_ids):
        out[row["id"]] = {"name": row.get("name") or "", "company": row.get("company") or "",
                          "phone_or_email": row.get("phone") or row.get("email") or ""}
    return out


def who_pairs(store: Any, rows: list[dict], a: str = "contact_a", b: str = "contact_b"
              ) -> list[dict]:
    """Rows naming two contacts (`a`, `b`), each followed by who it is: name_a, company_a,
    phone_or_email_a, then the same for b (see `who`)."""
    known = who(store, {r[k] for r in rows for k in (a, b)})
    out = []
    for row in rows:
        extra = {f"{c}_{side}": known.get(row[key], {}).get(c, "")
                 for side, key in (("a", a), ("b", b)) for c in WHO_COLUMNS}
        out.append({**row, **extra})
    return out
