"""The people index behind `find`: one search text per contact, kept fresh by triggers.

Schema (migration 4): `find_index(contact_id, text)` holds each contact's search text
(made by the caller, see custdata.search); `find_dirty(contact_id)` lists contacts whose
text is missing or out of date. Triggers on `contacts` fill `find_dirty` on insert and on
any change of a searched column, and delete the old text at once, so a value changed,
encrypted or erased (`forget`) never lingers in the index. A bulk insert (`import`) may
pause the insert trigger and mark its new contacts in one statement instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from custdata.crypto import is_blind_index, is_token, token_mask
from custdata.store.component import Component

# The contact columns a search text is made from.
SEARCHED = ("name", "company", "email", "phone", "phone_key", "external_id")
INSERT_TRIGGER = "find_on_insert"  # marks each inserted contact stale (schema migration 8)

# One query word: (needle, score) pairs; the word matches when a needle is in the text,
# and scores the best matching needle. One alternative: words that must all match.
Needles = list[tuple[str, int]]
Alternative = list[Needles]


class SearchIndex(Component):
    """SQL of the people index: stale rows out, fresh texts in, ranked matches."""

    def may_save(self) -> bool:
        """Whether this login may keep search texts in the store: not on a read-only file,
        nor as a team store's viewer (find then indexes for its own run, `temporary`)."""
        return self.db.may_write("find_index")

    def stale_count(self) -> int:
        """How many contacts have no up-to-date search text."""
        return self.db.execute("SELECT count(*) FROM find_dirty").fetchone()[0]

    def stale_rows(self, *, batch: int = 20_000) -> Iterator[list[dict]]:
        """The contacts whose search text is stale, in batches, with the SEARCHED columns;
        a sealed value comes as its masked form (never opened: the index keeps no more
        of it than the mask the store already holds in clear)."""
        last = 0
        cols = ", ".join(f"c.{c}" for c in SEARCHED)
        while True:
            rows = self.db.execute(
                f"SELECT d.contact_id AS id, {cols} FROM find_dirty d "
                "JOIN contacts c ON c.id = d.contact_id WHERE d.contact_id > ? "
                "ORDER BY d.contact_id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            yield [_masked(dict(r)) for r in rows]
            last = rows[-1]["id"]

    def pause_insert_marks(self) -> list[str]:
        """For a bulk insert of contacts inside the open write: stop marking each new
        contact stale row by row (SQLite drops the insert trigger until the write ends).
        Returns what `resume_insert_marks` needs ([] when the marks go on per row)."""
        return self.db.pause_trigger(INSERT_TRIGGER)

    def resume_insert_marks(self, paused: list[str], first_id: int) -> None:
        """Mark stale, in one statement, every contact inserted since the pause (ids from
        `first_id`, the first free id when it began), and mark new contacts per row again."""
        if not paused:
            return
        self.db.execute("INSERT OR IGNORE INTO find_dirty SELECT id FROM contacts "
                        "WHERE id >= ?", (first_id,))
        for sql in paused:
            self.db.execute(sql)

    def save(self, texts: Iterable[tuple[int, str]], *, temporary: bool = False) -> None:
        """Store fresh search texts (contact id, text) and clear their stale marks.

        temporary: a store opened read-only keeps them in a TEMP table for this run.
        """
        if temporary:
            self.db.execute("CREATE TEMP TABLE IF NOT EXISTS find_fresh "
                            "(contact_id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
            self.db.executemany("INSERT OR REPLACE INTO temp.find_fresh (contact_id, text) "
                                "VALUES (?, ?)", texts)
            return
        pairs = list(texts)
        self.db.executemany("INSERT OR REPLACE INTO find_index (contact_id, text) "
                            "VALUES (?, ?)", pairs)
        self.db.executemany("DELETE FROM find_dirty WHERE contact_id = ?",
                            [(cid,) for cid, _ in pairs])

    def refresh(self, make_text: Callable[[dict], str], *, temporary: bool = False,
                advance: Callable[[int], None] = lambda n: None) -> int:
        """Make the stale search texts with `make_text(row)`; returns how many were made.

        Writes in one transaction (the write lock is taken first); temporary: see save.
        """
        if not temporary:
            self.db.begin_write()
        made = 0
        try:
            for rows in self.stale_rows():
                self.save([(r["id"], make_text(r)) for r in rows], temporary=temporary)
                made += len(rows)
                advance(len(rows))
            if not temporary:
                self.db.commit()
        except BaseException:
            if not temporary:
                self.db.rollback()
            raise
        return made

    def matches(self, alternatives: list[Alternative], *, limit: int,
                temporary: bool = False) -> list[tuple[int, int]]:
        """(contact id, rank) of the best `limit` matches, best first (ties: lower id).

        A contact matches an alternative when each of its words matches; its rank is the
        mean of the words' scores, and the best alternative counts.
        """
        source = "find_index"
        if temporary:
            source = ("(SELECT contact_id, text FROM find_index UNION ALL "
                      "SELECT contact_id, text FROM temp.find_fresh) AS texts")
        where, where_args, rank, rank_args = _match_sql(alternatives)
        sql = (f"SELECT contact_id, {rank} AS rank FROM {source} WHERE {where} "
               "ORDER BY rank DESC, contact_id LIMIT ?")
        rows = self.db.execute(sql, (*rank_args, *where_args, limit)).fetchall()
        return [(r[0], int(r[1])) for r in rows if r[1] > 0]


def _masked(row: dict) -> dict:
    for col in SEARCHED:
        if is_token(row.get(col)):
            row[col] = token_mask(row[col])
    if is_blind_index(row.get("phone_key")):
        row["phone_key"] = None  # a blind index says nothing a person could type
    return row


def _word_score(needles: Needles) -> tuple[str, list]:
    cases = " ".join("WHEN instr(text, ?) > 0 THEN ?" for _ in needles)
    args: list = []
    for needle, score in sorted(needles, key=lambda n: -n[1]):
        args += [needle, score]
    return f"(CASE {cases} ELSE 0 END)", args


def _match_sql(alternatives: list[Alternative]) -> tuple[str, list, str, list]:
    """SQL: a cheap filter (every word of some alternative is in the text) and the rank."""
    where_parts, where_args, ranks, rank_args = [], [], [], []
    for alt in alternatives:
        tests = []
        for needles in alt:
            spellings = sorted({n for n, _ in needles if not n.startswith(("|", " "))})
            tests.append("(" + " OR ".join("instr(text, ?) > 0" for _ in spellings) + ")")
            where_args += spellings
        where_parts.append("(" + " AND ".join(tests) + ")")
        scores = [_word_score(needles) for needles in alt]
        ranks.append("(" + " + ".join(s for s, _ in scores) + f") / {len(alt)}")
        for _, args in scores:
            rank_args += args
    # the best alternative: max over a VALUES list (both engines; no scalar max on a server)
    rank = ranks[0] if len(ranks) == 1 else (
        "(SELECT max(column1) FROM (VALUES " + ", ".join(f"({r})" for r in ranks)
        + ") AS ranks)")
    return " OR ".join(where_parts), where_args, rank, rank_args
