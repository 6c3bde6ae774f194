"""The team store against SQLite, both engines in the same run (issue 20's Targets).

    python benchmarks/bench_team_store.py --contacts 100000 [--url postgresql://...] --write
    python benchmarks/bench_team_store.py --data /tmp/d1m --sqlite-steps contacts \
        --timeout 900 --write

Generates a data set with datagen.py (seed 7), or reuses one (--data DIR), then for each
engine imports contacts and orders into a fresh store and times `report rfm`, `tag` and
`dedupe` as CLI processes (wall and CPU seconds, peak RSS of the process; for the
throwaway server also the server's CPU seconds). `--sqlite-steps contacts` runs only the
compared step, import contacts, on SQLite. DuckDB's GROUP BY over the same orders (read
from the PostgreSQL store) is the reference for the reports. Then four importers of
different files run at once on a fresh team store, and every row must be there (as many
contacts as the same rows imported as one file). Without --url a throwaway server is
started as the tests do (tests/pg_server.py), on a Unix socket with fsync off.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _results import kept_scales, write_section  # noqa: E402
from _team_report import Step, duck_lines, report, report_verdicts, scale_of  # noqa: E402
from bench_segments import duckdb_frame_times  # noqa: E402

CUSTDATA = [sys.executable, "-m", "custdata"]
AS_OF = "2026-11-01"


SERVER_PID: list[int] = []  # the throwaway server's postmaster, when we started it


def server_cpu() -> float | None:
    """CPU seconds of the throwaway server so far: the postmaster's own and its exited
    children's (each connection's backend is one), from /proc."""
    if not SERVER_PID:
        return None
    fields = Path(f"/proc/{SERVER_PID[0]}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def timed(db: str, *args: object, timeout: float | None = None) -> Step:
    """One custdata process, timed; fails loudly on an error, stopped after `timeout`."""
    before = server_cpu() if db.startswith("postgresql") else None
    start = time.perf_counter()
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen([*CUSTDATA, "--db", db, "--quiet", *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=err)
    timer = threading.Timer(timeout, proc.kill) if timeout else None
    if timer:
        timer.start()
    _, status, usage = os.wait4(proc.pid, 0)  # this process's own CPU and peak RSS
    wall = time.perf_counter() - start
    if timer:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if timeout and wall >= timeout and proc.returncode < 0:
        return Step(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, None, True)
    if proc.returncode != 0:
        err.seek(0)
        raise SystemExit(f"{args}: exit {proc.returncode}: {err.read().decode()[-300:]}")
    time.sleep(0.5)  # let the postmaster reap the backend
    server = None if before is None else server_cpu() - before
    return Step(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, server)


def aggregate_times(db: str) -> dict[str, float]:
    """Seconds of the store's per-customer aggregates alone (rfm, tag), in process: the
    query on the server and the rows into a DataFrame, no scoring; the better of two runs
    (the first also pays for importing pandas)."""
    from custdata.store import open_store

    out = {}
    with open_store(db, create=False) as store:
        for name, for_tag in (("rfm", False), ("tag", True)):
            times = []
            for _ in range(2):
                start = time.perf_counter()
                store.segments.order_aggregates(as_of=date.fromisoformat(AS_OF),
                                                for_tag=for_tag)
                times.append(time.perf_counter() - start)
            out[name] = min(times)
    return out


STEPS = {
    "import contacts": ("import", "contacts", "{data}/contacts.csv"),
    "import orders": ("import", "orders", "{data}/orders.csv"),
    "report rfm": ("report", "rfm", "--as-of", AS_OF, "--format", "csv"),
    "tag": ("tag", "--as-of", AS_OF),
    "dedupe": ("dedupe", "--format", "csv"),
}


def engine_run(db: str, data: Path, steps: list[str], timeout: float | None) -> dict[str, Step]:
    """Each of `steps` as a CLI process on `db`, in order; dedupe may be stopped."""
    out = {}
    for name in steps:
        args = [a.format(data=data) for a in STEPS[name]]
        out[name] = timed(db, *args, timeout=timeout if name == "dedupe" else None)
        print(f"  {name}: {out[name].cell()}", file=sys.stderr, flush=True)
    return out


def orders_frame(url: str):  # -> pandas.DataFrame
    """The PostgreSQL store's orders (the columns DuckDB groups), via COPY as CSV."""
    import io

    import pandas as pd
    import psycopg

    buffer = io.BytesIO()
    with psycopg.connect(url) as conn, conn.cursor().copy(
            "COPY (SELECT contact_id, day, amount_value, status_norm, currency FROM orders) "
            "TO STDOUT WITH (FORMAT csv, HEADER true)") as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype={"day": str, "status_norm": str, "currency": str},
                       keep_default_na=False, na_values=[""])


def split(path: Path, parts: int, out: Path) -> list[Path]:
    """`path`'s rows dealt into `parts` files with its header (streamed)."""
    files = [out / f"part{i}.csv" for i in range(parts)]
    handles = [open(f, "w", newline="", encoding="utf-8") for f in files]
    writers = [csv.writer(h) for h in handles]
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        for w in writers:
            w.writerow(header)
        for i, row in enumerate(reader):
            writers[i % parts].writerow(row)
    for h in handles:
        h.close()
    return files


def count(db: str) -> int:
    """Contacts stored in `db` (a URL or a SQLite file)."""
    if db.startswith("postgresql"):
        import psycopg

        with psycopg.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM contacts").fetchone()[0]
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM contacts").fetchone()[0]


def concurrent_imports(url: str, files: list[Path]) -> tuple[float, list[int], int]:
    """(wall seconds, exit codes, contacts stored) of len(files) importers started at once."""
    start = time.perf_counter()
    procs = [subprocess.Popen([*CUSTDATA, "--db", url, "--wait", "3600", "--quiet", "import",
                               "contacts", f], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for f in files]
    codes = [p.wait() for p in procs]
    wall, stored = time.perf_counter() - start, count(url)
    print(f"  four importers: {wall:.1f} s, exit codes {codes}, {stored:,} stored",
          file=sys.stderr, flush=True)
    return wall, codes, stored


def load() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())


def replicate(url: str, times: int) -> None:
    """Make the PostgreSQL store `times` as big on the server: copies of every contact
    (external_id suffixed) and order (order_id suffixed), ids shifted, as bench_segments'
    --replicate does for SQLite; the per-customer histories and distributions stay."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        n, m = (conn.execute(f"SELECT max(id) FROM {t}").fetchone()[0]
                for t in ("contacts", "orders"))
        cols = {t: [r[0] for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum", (t,))] for t in ("contacts", "orders")}
        shifted = {"contacts": {"id": "id + {n}", "external_id": "external_id || '-{k}'"},
                   "orders": {"id": "id + {m}", "order_id": "order_id || '-{k}'",
                              "contact_id": "contact_id + {n}"}}
        for k in range(1, times):
            for table, top in (("contacts", n), ("orders", m)):
                names = cols[table]
                exprs = [shifted[table].get(c, c).format(n=k * n, m=k * m, k=k) for c in names]
                conn.execute(f"INSERT INTO {table} ({', '.join(names)}) SELECT "
                             f"{', '.join(exprs)} FROM {table} WHERE id <= {top}")
        conn.execute("VACUUM ANALYZE contacts")
        conn.execute("VACUUM ANALYZE orders")


def reports_run(url: str, note: str) -> str:
    """report rfm and tag as CLI processes on an existing store, the aggregates alone and
    DuckDB over the same orders: the second half of the table for big stores."""
    loads = [load()]
    steps = {name: timed(url, *STEPS[name]) for name in ("report rfm", "tag")}
    sql = {"PostgreSQL": aggregate_times(url)}
    duck = duckdb_frame_times(orders_frame(url), date.fromisoformat(AS_OF), 3)
    loads.append(load())
    import psycopg

    with psycopg.connect(url) as conn:
        n, orders = (conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("contacts", "orders"))
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"### {scale_of(n)}-reports: report rfm and tag on {n:,} contacts, {orders:,} "
             f"orders (finished {stamp})", "", note, "",
             f"Load average (1 / 5 / 15 min) at the start {loads[0]}, at the end {loads[1]} "
             "(2 CPUs).", "", "| step | PostgreSQL: wall s (client CPU s + server CPU s; "
             "client peak RSS) |", "|---|---|",
             *[f"| {k} | {v.cell()} |" for k, v in steps.items()], "", "Targets:",
             *report_verdicts(steps, duck, sql["PostgreSQL"]), "", *duck_lines(duck, sql)]
    return "\n".join(lines)


def prepare(args: argparse.Namespace, work: Path) -> Path:
    """The data folder: --data, or a datagen.py set made in `work`."""
    if args.data:
        return Path(args.data)
    data = work / "data"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "datagen.py"), "--contacts",
                    str(args.contacts), "--out", str(data)], check=True,
                   stdout=subprocess.DEVNULL)
    return data


def rows_in(path: Path) -> int:
    with open(path, newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def in_thread(fn, *args):  # -> a function that waits and returns fn's result
    """Run fn(*args) in a thread now; call the returned function for its result."""
    box: list = []

    def target() -> None:
        try:
            box.append((fn(*args), None))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box.append((None, exc))

    thread = threading.Thread(target=target)
    thread.start()

    def result():
        thread.join()
        value, exc = box[0]
        if exc is not None:
            raise exc
        return value
    return result


def run(args: argparse.Namespace, work: Path, urls: list[str]) -> str:
    data = prepare(args, work)
    loads = [load()]
    lite_steps = list(STEPS) if args.sqlite_steps == "all" else ["import contacts"]
    pg_steps = {"all": list(STEPS), "contacts": ["import contacts", "dedupe"],
                "import": ["import contacts"]}[args.pg_steps]
    parts = split(data / "contacts.csv", 4, work)
    if args.together:  # SQLite and PostgreSQL at once, then the four importers
        lite = in_thread(engine_run, str(work / "crm.db"), data, lite_steps, args.timeout)
        pg = engine_run(urls[0], data, pg_steps, args.timeout)
        lite = lite()
        conc = concurrent_imports(urls[1], parts)
    else:
        print("SQLite", file=sys.stderr)
        lite = engine_run(str(work / "crm.db"), data, lite_steps, args.timeout)
        print("PostgreSQL", file=sys.stderr)
        pg = engine_run(urls[0], data, pg_steps, args.timeout)
        conc = concurrent_imports(urls[1], parts)
    sql, duck = {}, None
    if "tag" in pg:
        sql["PostgreSQL"] = aggregate_times(urls[0])
        duck = duckdb_frame_times(orders_frame(urls[0]), date.fromisoformat(AS_OF), 3)
    if "tag" in lite:
        sql["SQLite"] = aggregate_times(str(work / "crm.db"))
    expected = {"PostgreSQL": count(urls[0]), "SQLite": count(str(work / "crm.db"))}
    loads.append(load())
    return report(rows_in(data / "contacts.csv"), rows_in(data / "orders.csv"), lite, pg,
                  duck, conc, expected, sql, tuple(loads), args.timeout, args.together)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--data", help="reuse this datagen.py folder (contacts.csv, orders.csv)")
    parser.add_argument("--sqlite-steps", choices=("all", "contacts"), default="all",
                        help="contacts: on SQLite only import contacts (the compared step)")
    parser.add_argument("--timeout", type=float, help="stop dedupe after this many seconds")
    parser.add_argument("--together", action="store_true",
                        help="run the SQLite and the PostgreSQL steps at the same time "
                             "(each one's CPU is still its own)")
    parser.add_argument("--pg-steps", choices=("all", "contacts", "import"), default="all",
                        help="contacts: on PostgreSQL only import contacts and dedupe; "
                             "import: only import contacts")
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a throwaway server)")
    parser.add_argument("--reports-on", metavar="URL",
                        help="only time report rfm / tag on this existing team store")
    parser.add_argument("--replicate", type=int, default=1,
                        help="with --reports-on: first make that store N times as big")
    parser.add_argument("--note", default="", help="with --reports-on: how the store was made")
    parser.add_argument("--write", action="store_true", help="rewrite RESULTS.md's section")
    args = parser.parse_args()
    if args.reports_on:
        if args.replicate > 1:
            replicate(args.reports_on, args.replicate)
        finish(reports_run(args.reports_on, args.note), args.write)
        return
    server = None
    with tempfile.TemporaryDirectory(prefix="bench_team_") as tmp:
        if args.url:
            urls = [args.url, args.url]
        else:
            from tests.pg_server import start_server

            server = start_server()
            SERVER_PID.append(int((server.root / "data" / "postmaster.pid")
                                  .read_text().split()[0]))
            urls = [server.url(server.new_database()) for _ in range(2)]
        try:
            text = run(args, Path(tmp), urls)
        finally:
            if server is not None:
                server.stop()
    finish(text, args.write)


def finish(text: str, write: bool) -> None:
    """Print `text`; with `write`, put it in RESULTS.md's section (other scales kept)."""
    print(text)
    if write:
        intro = ("`python benchmarks/bench_team_store.py --write` (`--data DIR` to reuse a "
                 "datagen.py set): each step a fresh CLI process; wall seconds, the process's "
                 "CPU seconds and peak RSS, and for PostgreSQL the server's CPU seconds (its "
                 "backends do the work the client does not). The local PostgreSQL 15 is the "
                 "throwaway test server (Unix socket, fsync off, default memory settings). "
                 "The machine is shared: compare the ratios.\n\n")
        done = {text.split("### ", 1)[1].split(":", 1)[0]}
        write_section("team-store", "## Team store: SQLite and PostgreSQL in the same run\n\n"
                      + intro + text + "\n\n" + "\n\n".join(kept_scales("team-store", done)))


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    main()
