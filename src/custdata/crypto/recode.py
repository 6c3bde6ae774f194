"""Contact rows re-sealed from one protector's form to another's: the core of re-keying.

`encrypt`, `decrypt` and `rotate-key` re-write every contact's sealed columns and
match keys. This is their pure part: contact rows in, UPDATE parameters out (tokens,
blind indexes, plain values). A big store is spread over the CPU cores with
custdata.parallel. The workers are forked from this process and find the protectors,
keys included, in the memory they inherit: keys never travel through a pipe or a file.
Each worker draws its own nonces (crypto.protector drops a forked copy's nonce pool)
and ends when this process ends, even by kill -9. Where processes cannot be forked,
everything runs in this process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from typing import Any

from custdata.crypto.protector import Protector
from custdata.normalize.keys import key_function
from custdata.parallel import CHUNK_SIZE, PARALLEL_THRESHOLD, default_workers, map_chunks

PARALLEL_ROWS = PARALLEL_THRESHOLD  # under this many rows a process pool costs more than it saves
CHUNK_ROWS = CHUNK_SIZE

Updates = list[list[Any]]


class ContactRecoder:
    """Re-keys contact rows from `old`'s stored form to `new`'s.

    Rows are tuples of the columns `reads` names: id, the value columns, the match-key
    columns. Each result is a list of the new stored values of `writes`, then the id.
    """

    def __init__(self, old: Protector, new: Protector, *, columns: list[str],
                 kinds: list[tuple[str, str]], region: str,
                 log_words: dict[str, set[str]] | None = None) -> None:
        values = list(dict.fromkeys(columns + [kind for kind, _ in kinds]))
        keys = [key_column for _, key_column in kinds]
        self.reads = ["id", *values, *keys]
        self.writes = [*columns, *keys]
        self._unseal = [old.unsealer("contacts", c) for c in values]
        self._seal = [(values.index(c), new.sealer("contacts", c)) for c in columns]
        # A match key stored as a blind index cannot be read back: normalize the plaintext.
        self._index = [(values.index(kind), 1 + len(values) + i,
                        key_function(kind, region) if kind in old.encrypted_columns else None,
                        new.indexer(kind)) for i, (kind, _) in enumerate(kinds)]
        self._words = log_words or {}

    def recode(self, rows: Iterable[tuple]) -> tuple[Updates, set[str]]:
        """UPDATE parameters for `rows`, and the logged words their plaintext holds.

        The words are those of `log_words` (words of logged command lines, by value or
        normalized key) equal to a value or key of these rows: the log must be redacted.
        """
        unseal, seal, index, words = self._unseal, self._seal, self._index, self._words
        updates: Updates = []
        hits: set[str] = set()
        for row in rows:
            rid = row[0]
            plain = [fn(rid, value) for fn, value in zip(unseal, row[1:])]
            out = [fn(rid, plain[i]) for i, fn in seal]
            for i, stored_key, normalize, to_index in index:
                normal = normalize(plain[i]) if normalize else row[stored_key]
                out.append(to_index(normal))
                if words and normal in words:
                    hits.update(words[normal])
            if words:
                for value in plain:
                    if value in words:
                        hits.update(words[value])
            out.append(rid)
            updates.append(out)
        return updates, hits

    def recode_mapping(self, row: dict[str, Any]) -> dict[str, Any]:
        """The new stored values (`writes`) of one contact held as a dict (a merge record's)."""
        updates, _ = self.recode([tuple(row[c] for c in self.reads)])
        return dict(zip(self.writes, updates[0]))


# The recoder of the running recode_rows: forked workers inherit it with their memory.
_ACTIVE: ContactRecoder | None = None


def recode_rows(recoder: ContactRecoder, rows: Iterable[tuple], *,
                workers: int | None = None) -> Iterator[tuple[Updates, set[str]]]:
    """recoder.recode over `rows`, one (updates, words) pair per chunk, in order.

    From PARALLEL_ROWS rows on, chunks are recoded on `workers` processes (None: one
    per core, even on a busy machine: a re-key holds the store's write lock until it
    ends); workers=1 keeps them in this process.
    """
    global _ACTIVE
    if "fork" not in multiprocessing.get_all_start_methods():
        workers = 1  # a spawned worker could only be sent the keys
    elif workers is None:
        workers = default_workers()
    if _ACTIVE is not None:
        raise RuntimeError("recode_rows is already running in this process")
    _ACTIVE = recoder
    try:
        yield from map_chunks(_recode_chunk, rows, workers=workers, threshold=PARALLEL_ROWS,
                              chunk_size=CHUNK_ROWS)  # workers exit with a killed parent
    finally:
        _ACTIVE = None


def _recode_chunk(rows: list[tuple]) -> list[tuple[Updates, set[str]]]:
    """A chunk's result as one item, so that the parent gets it back whole."""
    # Only recode_rows runs this, with _ACTIVE set: here, or in a worker forked meanwhile
    # (where fork is unavailable, recode_rows keeps everything in this process).
    assert _ACTIVE is not None, "a recode worker started without its recoder"
    return [_ACTIVE.recode(rows)]
