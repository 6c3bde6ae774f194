"""Which text encoding a file's bytes are in: BOMs, UTF-8, GB18030, Western code pages.

Pure: takes the first bytes of a file and says which codec to read it with, and whether
that is a guess (`guess_encoding`).
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

from custdata.errors import InputFileError

# A GB18030 multi-byte character: a lead byte and a trail byte, or four bytes.
_GB_CHAR = re.compile(rb"[\x81-\xfe](?:[\x30-\x39][\x81-\xfe][\x30-\x39]|[\x40-\x7e\x80-\xfe])")


def detect_encoding(head: bytes, name: str = "input") -> str:
    """Codec name for the bytes at the start of a file (see `guess_encoding`)."""
    return guess_encoding(head, name)[0]


def guess_encoding(head: bytes, name: str = "input") -> tuple[str, bool]:
    """(codec name, whether it is a guess) for the bytes at the start of a file.

    BOMs first, then UTF-8, then GB18030, judged line by line, so that a few lines with
    stray bytes (which become "undecodable" rejects) do not turn the whole file into
    another code page, and a character cut by the end of `head` does not count against
    it. UTF-8 wins if every line decodes, or most of the non-ASCII ones. GB18030 also
    decodes much Western text ("Bühler" is "B黨ler"), so it wins only if it decodes most
    lines and the text looks Chinese (`gb_likeness`); text that looks Western is a
    Western code page (cp1252). Only other text goes to charset_normalizer. The guess
    flag is False for a BOM, UTF-8 and clearly Chinese GB18030.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", False
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", False
    if len(head) >= 4 and head[1::2].count(0) > len(head) // 4 and head[0::2].count(0) == 0:
        return "utf-16-le", False
    if len(head) >= 4 and head[0::2].count(0) > len(head) // 4 and head[1::2].count(0) == 0:
        return "utf-16-be", False
    if _looks_binary(head):
        raise InputFileError(f"{name} is not a text file; custdata imports CSV text.")
    *lines, last = head.split(b"\n")
    votes = {enc: _line_votes(lines, last, enc) for enc in ("utf-8", "gb18030")}
    if votes["utf-8"][1] == 0:
        return "utf-8", False
    enc, (decoded, bad) = max(votes.items(), key=lambda item: item[1][0])  # utf-8 on ties
    if enc == "utf-8" and decoded > bad:
        return enc, False
    likeness, chars = gb_likeness(head)  # GB18030 decodes it, or most of it: is it Chinese?
    if (bad == 0 or decoded > bad) and likeness >= 0.5:
        return "gb18030", chars < 5 or likeness < 0.8
    if likeness < 0.2:  # accented letters between ASCII ones: a Western code page
        return _western(head), True
    best = charset_normalizer.from_bytes(head).best()
    if best is None:
        raise InputFileError(
            f"Cannot tell the encoding of {name}.", hint="encoding"
        )
    return best.encoding, True


def gb_likeness(data: bytes) -> tuple[float, int]:
    """(share of GB18030 two-byte characters in the common GB2312 block, their count).

    Chinese text is almost all GB2312 (both bytes 0xA1-0xFE: 1.0); Western text read as
    GB18030 pairs an accented letter with the next ASCII letter ("ü" + "h"), outside it
    (near 0.0).
    """
    pairs = _GB_CHAR.findall(data)
    total = len(pairs)
    common = sum(1 for p in pairs if p[0] >= 0xA1 and p[1] >= 0xA1)
    return (common / total if total else 1.0), total


def _western(head: bytes) -> str:
    """cp1252 (Windows' Western code page) if it decodes `head`, else latin-1."""
    try:
        head.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def _line_votes(lines: list[bytes], last: bytes, enc: str) -> tuple[int, int]:
    """(non-ASCII lines that decode as `enc`, lines that do not) among `lines` and the
    unterminated `last`, which may end in a character cut short: that is not held
    against it."""
    decoded = bad = 0
    for line in lines:
        if line.isascii():
            continue
        if _decode_line(line, enc)[1]:
            bad += 1
        else:
            decoded += 1
    if not last.isascii():
        try:
            codecs.getincrementaldecoder(enc)().decode(last, final=False)
            decoded += 1
        except UnicodeDecodeError:
            bad += 1
    return decoded, bad


def _looks_binary(head: bytes) -> bool:
    """Many NULs or control bytes in a sizeable head: not text (one odd cell is still data)."""
    if len(head) < 256:
        return False
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    return head.count(0) > len(head) // 20 or controls > len(head) // 3


def _decode_line(line: bytes, enc: str) -> tuple[str, bool]:
    try:
        return line.decode(enc), False
    except UnicodeDecodeError:
        return line.decode(enc, errors="backslashreplace"), True
