"""Each benchmark owns one section of RESULTS.md between `<!-- BEGIN topic -->` and
`<!-- END topic -->`; these helpers rewrite that section and leave the others alone."""

from __future__ import annotations

import os
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def markers(topic: str) -> tuple[str, str]:
    return f"<!-- BEGIN {topic} -->", f"<!-- END {topic} -->"


def write_section(topic: str, text: str) -> None:
    """Replace (or append) the `topic` section of RESULTS.md, atomically."""
    begin, end = markers(topic)
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    block = f"{begin}\n{text.rstrip()}\n{end}"
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    tmp = RESULTS.with_suffix(f".md.tmp-{topic}")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, RESULTS)


def kept_scales(topic: str, done: set[str]) -> list[str]:
    """Subsections (### scale: ...) of the section for scales not re-measured in this run."""
    begin, end = markers(topic)
    if not RESULTS.exists():
        return []
    old = RESULTS.read_text(encoding="utf-8")
    if begin not in old or end not in old:
        return []
    body = old[old.index(begin) + len(begin):old.index(end)]
    parts = body.split("\n### ")[1:]
    return ["### " + p.rstrip() for p in parts if p.split(":", 1)[0].strip() not in done]
