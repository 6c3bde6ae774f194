"""Speed of `custdata find` on a store of generated contacts (benchmarks/datagen.py).

    .venv/bin/python benchmarks/bench_find.py --db STORE [--repeat 5] [--write]
    .venv/bin/python benchmarks/bench_find.py --db NEW.db --load contacts.csv [...]

STORE: a store holding datagen contacts (`custdata import contacts contacts.csv`), such
as benchmarks/shared_store.py builds. `--load CSV` makes NEW.db instead by inserting
the CSV's rows with SQL, values as `import` stores them (as read) but without match keys
(a quick 1M-contact store on a busy machine; `find` reads the same columns). Times, in
this one process and run:

- building the people index (the first `find` after an import makes every contact's
  search text: NFKC, case folding, pinyin), wall seconds and contacts per second;
- `api.people.find` for typical queries taken from the store itself (a Chinese name, its
  pinyin, a company fragment, a phone's last 4 digits, an email fragment, a miss):
  median and min-max of --repeat runs, the index warm;
- the reference in the same run: a plain SQL LIKE scan of the contacts table for the
  same text over name, company, email and phone (no pinyin, no width or case folding
  beyond ASCII, no ranking), all matches fetched; the ratio find / reference;
- one `custdata find` end to end in a subprocess (start-up included).

`--write` replaces the find section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from _common import cpu_model  # noqa: E402
from _results import write_section  # noqa: E402

from custdata.api import Session, people  # noqa: E402
from custdata.search import pinyin_syllables  # noqa: E402

REFERENCE_SQL = ("SELECT id, name, company, email, phone FROM contacts WHERE name LIKE ?1 "
                 "OR company LIKE ?1 OR email LIKE ?1 OR phone LIKE ?1")


def queries(db: Path) -> list[tuple[str, str]]:
    """(what, query) pairs drawn from the store: a real name, company, phone, email."""
    with sqlite3.connect(db) as conn:
        count = conn.execute("SELECT max(id) FROM contacts").fetchone()[0]
        row = conn.execute(
            "SELECT name, company, phone, email FROM contacts WHERE id >= ? AND name GLOB "
            "'[一-龥]*' AND company != '' AND phone != '' AND email LIKE '%@%' LIMIT 1",
            (count // 2,)).fetchone()
    name, company, phone, email = row
    digits = "".join(c for c in phone if c.isdigit())
    return [("Chinese name", name), ("its pinyin", "".join(pinyin_syllables(name))),
            ("company fragment", company[2:6]), ("phone, last 4 digits", digits[-4:]),
            ("email fragment", email.split("@")[0][:6]), ("no match", "zzqxj")]


def timed(fn, repeat: int) -> tuple[float, float, float, int, float]:
    """Median, min and max wall seconds of `repeat` calls, what the last call returned,
    and the median CPU seconds of this process (less disturbed by other jobs)."""
    runs, cpu, result = [], [], 0
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        runs.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(runs), min(runs), max(runs), result, statistics.median(cpu)


def load(db: Path, csv_path: Path) -> None:
    """A store with the CSV's contacts inserted by SQL (values as read, no match keys)."""
    import csv

    from custdata.store import open_store

    open_store(db).close()  # the schema, triggers included
    fields = ("external_id", "name", "company", "email", "phone", "city", "owner")
    with open(csv_path, newline="", encoding="utf-8") as fh, sqlite3.connect(db) as conn:
        rows = ((*(r.get(f) or None for f in fields), "2026-01-01T00:00:00Z")
                for r in csv.DictReader(fh))
        conn.executemany(f"INSERT INTO contacts ({', '.join(fields)}, changed_at) "
                         f"VALUES ({', '.join('?' * (len(fields) + 1))})", rows)


def build_index(db: Path) -> tuple[float, int]:
    """Drop the index and make it again through find; (seconds, contacts indexed)."""
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM find_index")
        conn.execute("INSERT OR IGNORE INTO find_dirty SELECT id FROM contacts")
    start, cpu = time.perf_counter(), time.process_time()
    found = people.find(Session(db=db), "warm-up", limit=1)
    return time.perf_counter() - start, found.indexed, time.process_time() - cpu


def run(db: Path, repeat: int) -> tuple[list[str], dict]:
    session = Session(db=db)
    build_s, indexed, build_cpu = build_index(db)
    lines = []
    conn = sqlite3.connect(db)
    for what, query in queries(db):
        ours = timed(lambda: len(people.find(session, query, limit=50).rows), repeat)
        ref = timed(lambda: len(conn.execute(REFERENCE_SQL, (f"%{query}%",)).fetchall()),
                    repeat)
        lines.append(f"| {what} | `{query}` | {ours[0]:.3f} ({ours[1]:.3f}–{ours[2]:.3f}) | "
                     f"{ours[4]:.3f} | {ours[3]} | {ref[0]:.3f} ({ref[1]:.3f}–{ref[2]:.3f}) | "
                     f"{ref[4]:.3f} | {ref[3]:,} | {ours[0] / ref[0]:.2f} | "
                     f"{ours[4] / max(ref[4], 1e-9):.2f} |")
        print(lines[-1], file=sys.stderr)
    conn.close()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "custdata", "--db", str(db), "find",
                    queries(db)[1][1], "--format", "csv"], check=True, capture_output=True)
    cli_s = time.perf_counter() - start
    size = {"db_mib": db.stat().st_size / 2**20}
    with sqlite3.connect(db) as c:
        size["contacts"] = c.execute("SELECT count(*) FROM contacts").fetchone()[0]
        size["index_mib"] = c.execute(
            "SELECT sum(pgsize) FROM dbstat WHERE name IN ('find_index', 'find_dirty')"
        ).fetchone()[0] / 2**20 if _has_dbstat(c) else float("nan")
    return lines, {"build_s": build_s, "build_cpu": build_cpu, "indexed": indexed,
                   "cli_s": cli_s, **size}


def _has_dbstat(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1 FROM dbstat LIMIT 1")
        return True
    except sqlite3.Error:
        return False


def report(lines: list[str], facts: dict, repeat: int, db: Path, loaded: str = "") -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        "## People search (`find`)",
        "",
        f"Run {now} on `{platform.system()} {platform.release()} {platform.machine()}` "
        f"({cpu_model()}), 2 CPUs shared with other jobs (timings are noisy), Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}. Command: "
        f"`python benchmarks/bench_find.py --db STORE --repeat {repeat}{loaded}`; STORE: "
        f"{facts['contacts']:,} contacts of `benchmarks/datagen.py --contacts 1000000` "
        + ("inserted by SQL as import stores them, without match keys"
           if loaded else "imported with `custdata import contacts`")
        + f" ({facts['db_mib']:,.0f} MiB).",
        "",
        f"Building the people index (first `find` after the import): {facts['indexed']:,} "
        f"contacts in {facts['build_s']:.1f} s wall, {facts['build_cpu']:.1f} s CPU "
        f"({facts['indexed'] / facts['build_cpu']:,.0f} contacts per CPU second, pypinyin's "
        f"dictionary load included); the index takes {facts['index_mib']:,.0f} MiB. Later imports, cleans "
        "and merges mark only the contacts they change.",
        "",
        "Median (min–max) wall seconds and median CPU seconds of the query, index warm. Reference: a plain SQL LIKE "
        "scan of the contacts table for the same text over name, company, email and phone "
        "(no pinyin, no full-width or non-ASCII case folding, no ranking), all matches "
        "fetched, in the same run.",
        "",
        "| query | text | `find` wall (best 50, ranked) | CPU | shown | LIKE scan wall | CPU "
        "| its matches | ratio wall | ratio CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *lines,
        "",
        f"End to end (`custdata find PINYIN --format csv` in a subprocess, start-up and "
        f"pypinyin's dictionary included): {facts['cli_s']:.2f} s.",
    ])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--load", type=Path, help="make --db from this contacts CSV (SQL insert)")
    args = ap.parse_args()
    if args.load is not None:
        start = time.perf_counter()
        load(args.db, args.load)
        print(f"loaded {args.load} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    lines, facts = run(args.db, args.repeat)
    text = report(lines, facts, args.repeat, args.db,
                  f" --load {args.load.name}" if args.load is not None else "")
    print(text)
    if args.write:
        write_section("find", text)


if __name__ == "__main__":
    main()
