"""normalize_text, shared by every normalizer (its own module so none import in a circle)."""

from __future__ import annotations

import unicodedata


def normalize_text(raw: str) -> str:
    """NFKC, whitespace runs collapsed to one space, trimmed: "　Ｊｏｈｎ  Doe " -> "John Doe"."""
    if not raw.isascii() and not unicodedata.is_normalized("NFKC", raw):
        raw = unicodedata.normalize("NFKC", raw)
    if raw.isprintable() and "  " not in raw and raw[:1] != " " and raw[-1:] != " ":
        return raw  # the common case: nothing to collapse (isprintable: no tab, newline, ...)
    return " ".join(raw.split())
