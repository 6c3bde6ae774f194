"""Consent answers in common spellings -> "yes", "no" or "unknown", or InvalidValue."""

from __future__ import annotations

from custdata.errors import InvalidValue
from custdata.normalize.text import normalize_text

CONSENT_VALUES: dict[str, str] = {
    **dict.fromkeys(("yes", "y", "true", "1", "是", "同意", "有", "opt-in", "opt in"), "yes"),
    **dict.fromkeys(("no", "n", "false", "0", "否", "不同意", "无", "opt-out", "opt out"), "no"),
    **dict.fromkeys(("unknown", "未知", "?"), "unknown"),
}


def normalize_consent(raw: str) -> str:
    """yes / no / unknown from common spellings ("Y", "true", "是", "同意", "opt-out")."""
    value = CONSENT_VALUES.get(normalize_text(raw).lower())
    if value is None:
        raise InvalidValue("consent", raw, "must be yes, no or unknown", "consent.invalid")
    return value
