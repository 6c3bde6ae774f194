"""Contact rows -> list[Issue]: bad data is a result, not an exception.

Every problem has a stable code (ISSUE_CODES documents each one; scripts and `audit`
depend on them), a message that does not repeat the value, and a suggestion when one is
safe to offer. Suggestions are never applied by custdata.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from custdata.errors import InvalidValue, UsageError
from custdata.normalize import (
    normalize_consent, normalize_country, normalize_date, normalize_email, normalize_id_number,
    normalize_text, phone_canonical, phone_verdict, suggest_email, upgrade_id_number,
)
from custdata.parallel import map_chunks

ISSUE_CODES: dict[str, str] = {
    "required.missing": "a required value is empty: name, or both email and phone",
    "email.syntax": "email-validator rejects the address (offline syntax and domain rules)",
    "email.typo_domain": "the address is valid but its domain looks like a typo of a popular one",
    "email.undeliverable": "with --check-dns only: the domain has no mail server in DNS",
    "phone.invalid": "phonenumbers cannot parse it or says it is not a valid number",
    "phone.no_region": "not valid at the default region, but valid as an international number",
    "id_number.length": "a Chinese resident ID must have 18 characters",
    "id_number.format": "a Chinese resident ID is 17 digits and a check digit 0-9 or X",
    "id_number.checksum": "the check digit of the resident ID does not match",
    "id_number.birth_date": "the birth date inside the resident ID is not a real date",
    "id_number.region": "the birth-place code of the resident ID is unknown for its birth year",
    "date.unparseable": "a date (birth_date, created_at, updated_at) in no recognised form",
    "country.unknown": "a country that is neither an ISO code nor a known English/Chinese name",
    "consent.invalid": "consent is not yes, no or unknown (or a common synonym of those)",
}

DATE_FIELDS = ("birth_date", "created_at", "updated_at")
CHECKED_FIELDS = ("name", "email", "phone", "id_number", *DATE_FIELDS, "country", "consent")


@dataclass(frozen=True)
class Issue:
    """One problem with one value of one contact."""

    contact_id: int | None
    field: str
    value: str
    code: str
    message: str
    suggestion: str = ""

    def as_row(self) -> dict[str, object]:
        """The printed row: contact, field, value, code, message, suggestion."""
        return {
            "contact": self.contact_id, "field": self.field, "value": self.value,
            "code": self.code, "message": self.message, "suggestion": self.suggestion,
        }


ISSUE_COLUMNS = ("contact", "field", "value", "code", "message", "suggestion")


def _blank(value: object) -> bool:
    return value is None or not str(value).strip()


def email_issues(cid: int | None, raw: str) -> list[Issue]:
    """email.syntax or email.typo_domain problems of one non-empty address."""
    try:
        normalized = normalize_email(raw)
    except InvalidValue as exc:
        return [Issue(cid, "email", raw, exc.code, exc.reason, repair_email(raw))]
    fixed = suggest_email(normalized)
    if fixed:
        return [Issue(cid, "email", raw, "email.typo_domain",
                      "the domain looks like a typo of a popular mail domain", fixed)]
    return []


def repair_email(raw: str) -> str:
    """A valid address a human most likely meant, or "" (display names, commas, spaces)."""
    text = normalize_text(raw)
    candidates = []
    if "<" in text and text.endswith(">"):
        candidates.append(text.rsplit("<", 1)[1][:-1])
    candidates.append(text.replace(" ", "").replace(",", ".").replace("。", ".").strip("."))
    for candidate in candidates:
        try:
            return normalize_email(candidate)
        except InvalidValue:
            continue
    return ""


def phone_issues(cid: int | None, raw: str, region: str) -> list[Issue]:
    """phone.invalid or phone.no_region problems of one non-empty phone."""
    e164, code, reason = phone_verdict(raw, region)
    if e164 is not None:
        return []
    canonical = phone_canonical(raw)
    if canonical and not canonical.startswith(("+", "0")):
        intl = phone_verdict("+" + canonical, region)[0]
        if intl is not None:
            return [Issue(cid, "phone", raw, "phone.no_region",
                          "not valid at the default region; add + and the country code", intl)]
    if code == "phone.no_region":
        reason = "no default region: write the number with + and the country code"
    return [Issue(cid, "phone", raw, code, reason, "")]


def id_number_issues(cid: int | None, raw: str) -> list[Issue]:
    try:
        normalize_id_number(raw)
    except InvalidValue as exc:
        suggestion = (upgrade_id_number(raw) or "") if exc.code == "id_number.length" else ""
        return [Issue(cid, "id_number", raw, exc.code, exc.reason, suggestion)]
    return []


def _value_issues(cid: int | None, field: str, raw: str, region: str, dayfirst: bool) -> list[Issue]:
    if field == "email":
        return email_issues(cid, raw)
    if field == "phone":
        return phone_issues(cid, raw, region)
    if field == "id_number":
        return id_number_issues(cid, raw)
    try:
        if field in DATE_FIELDS:
            normalize_date(raw, dayfirst=dayfirst)
        elif field == "country":
            normalize_country(raw)
        elif field == "consent":
            normalize_consent(raw)
    except InvalidValue as exc:
        return [Issue(cid, field, raw, exc.code, exc.reason, "")]
    return []


def row_issues(
    row: Mapping[str, object], *, region: str = "CN", dayfirst: bool = False,
    fields: Sequence[str] | None = None, check_dns: bool = False,
) -> list[Issue]:
    """Every problem of one contact row (a dict with "id" and field values)."""
    cid = row.get("id")
    cid = int(cid) if cid is not None else None
    wanted = CHECKED_FIELDS if not fields else [f for f in CHECKED_FIELDS if f in fields]
    issues: list[Issue] = []
    if "name" in wanted and _blank(row.get("name")):
        issues.append(Issue(cid, "name", "", "required.missing", "the name is empty"))
    if (("email" in wanted or "phone" in wanted)
            and _blank(row.get("email")) and _blank(row.get("phone"))):
        field = "email" if "email" in wanted else "phone"
        issues.append(Issue(cid, field, "", "required.missing",
                            "no email and no phone: the contact cannot be reached"))
    for field in wanted:
        value = row.get(field)
        if field != "name" and not _blank(value):
            issues.extend(_value_issues(cid, field, str(value), region, dayfirst))
    if check_dns and "email" in wanted and not _blank(row.get("email")):
        issues.extend(dns_issues(cid, str(row.get("email"))))
    return issues


def dns_issues(cid: int | None, raw: str) -> list[Issue]:
    """email.undeliverable when the (valid) address's domain has no mail server in DNS."""
    try:
        domain = normalize_email(raw).rpartition("@")[2]
    except InvalidValue:
        return []  # already reported as email.syntax
    if domain_is_deliverable(domain):
        return []
    return [Issue(cid, "email", raw, "email.undeliverable",
                  "the domain has no mail server (DNS MX/A lookup failed)", "")]


def _chunk_issues(
    rows: list[dict[str, object]], *, region: str, dayfirst: bool,
    fields: tuple[str, ...] | None, check_dns: bool,
) -> list[list[Issue]]:
    return [
        row_issues(r, region=region, dayfirst=dayfirst, fields=fields, check_dns=check_dns)
        for r in rows
    ]


@functools.lru_cache(maxsize=4096)
def domain_is_deliverable(domain: str) -> bool:
    """True when DNS names a mail server (MX, else A/AAAA) for `domain`. Needs the network."""
    try:
        validate_email("postmaster@" + domain, check_deliverability=True)
    except EmailNotValidError:
        return False
    return True


def find_issues(
    rows: Iterable[Mapping[str, object]], *, region: str = "CN", dayfirst: bool = False,
    fields: Sequence[str] | None = None, check_dns: bool = False,
) -> list[Issue]:
    """Every problem in `rows`, in row order, then field order (see ISSUE_CODES).

    Empty email and phone are missing, not invalid. Large inputs (20,000 rows and more)
    are checked on every CPU core.
    """
    unknown = set(fields or ()) - set(CHECKED_FIELDS)
    if unknown:
        raise UsageError(
            f"Cannot validate field(s) {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(CHECKED_FIELDS)}."
        )
    wanted = tuple(fields) if fields else None
    keep = ("id", *CHECKED_FIELDS)
    slim = ({k: row.get(k) for k in keep} for row in rows)
    work = functools.partial(
        _chunk_issues, region=region, dayfirst=dayfirst, fields=wanted, check_dns=check_dns
    )
    return [issue for found in map_chunks(work, slim) for issue in found]


# ------------------------------------------------- one field's values at a time (audit)

# An ISO date-time: normalize_date reads its first ten characters and never the time.
_ISO_DATE_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})[ T][\x20-\x7e]*")


def verdict_key(field: str, raw: object) -> object:
    """A value `validate` judges exactly like `raw` in `field`, shared by many raw values.

    "2024-01-05 10:00:00" in a date field -> "2024-01-05" (the time is never judged);
    any other value is its own key.
    """
    return _date_key(raw) if field in DATE_FIELDS else raw


def _date_key(raw: object) -> object:
    match = _ISO_DATE_TIME.fullmatch(raw) if isinstance(raw, str) else None
    return raw if match is None else match.group(1)


def value_is_invalid(field: str, raw: object, *, region: str = "CN",
                     dayfirst: bool = False) -> bool:
    """True when `validate` reports a problem with `raw` in `field`; an empty value is not one.

    Agrees with `row_issues(..., fields=[field])` less "required.missing".
    """
    return not _blank(raw) and bool(_value_issues(None, field, str(raw), region, dayfirst))


def count_invalid(field: str, values: Iterable[object], *, region: str = "CN",
                  dayfirst: bool = False) -> int:
    """How many of `values` (one field's values, e.g. one per contact) are invalid.

    Each distinct verdict_key is judged once (value_is_invalid), on every idle core when
    there are many; only the invalid ones come back from the workers.
    """
    # Count by verdict_key; the fields it leaves alone are spared a call per value.
    holders = Counter(map(_date_key, values) if field in DATE_FIELDS else values)
    work = functools.partial(_invalid_values, field=field, region=region, dayfirst=dayfirst)
    return sum(holders[value] for value in map_chunks(work, holders))


def _invalid_values(values: list[object], *, field: str, region: str,
                    dayfirst: bool) -> list[object]:
    return [v for v in values if value_is_invalid(field, v, region=region, dayfirst=dayfirst)]
