"""The agreement levels a field comparison gives (the keys of a model's m/u table)."""

from __future__ import annotations

EXACT, ALIAS, CLOSE, PARTIAL, DIFFERENT = "exact", "alias", "close", "partial", "different"
SHARED = "shared"  # names with one word in common
STREET = "street"  # addresses on the same street with another house number
