"""The team-store benchmark's tables and verdicts (benchmarks/bench_team_store.py)."""

from __future__ import annotations

import time


class Step:
    """One timed CLI process: wall and CPU seconds, peak RSS (MiB), server CPU seconds."""

    def __init__(self, wall: float, cpu: float, rss: float, server: float | None,
                 stopped: bool = False) -> None:
        self.wall, self.cpu, self.rss, self.server, self.stopped = wall, cpu, rss, server, stopped

    def cell(self) -> str:
        if self.stopped:
            return f"> {self.wall:.0f} (stopped)"
        server = "" if self.server is None else f" + {self.server:.1f} server"
        return f"{self.wall:.2f} ({self.cpu:.1f} CPU{server}; {self.rss:.0f} MiB)"


def table(lite: dict[str, Step], pg: dict[str, Step]) -> list[str]:
    targets = {"import contacts": "PG <= 2x SQLite", "report rfm": "PG <= 3x DuckDB",
               "tag": "PG <= 3x DuckDB", "dedupe": "<= 120 s, <= 4 GiB"}
    lines = ["| step | SQLite: wall s (CPU s; peak RSS) | PostgreSQL: wall s (client CPU s "
             "+ server CPU s; client peak RSS) | PG / SQLite (wall) | target |",
             "|---|---|---|---|---|"]
    for step, p in pg.items():
        s = lite.get(step)
        ratio = f"{p.wall / s.wall:.2f}x" if s and not (s.stopped or p.stopped) else ""
        lines.append(f"| {step} | {s.cell() if s else 'not run'} | {p.cell()} | {ratio} "
                     f"| {targets.get(step, '')} |")
    return lines


def met(ok: bool) -> str:
    return "met" if ok else "**NOT met**"


def report_verdicts(pg: dict[str, Step], duck: dict, sql: dict) -> list[str]:
    """report rfm and tag: the CLI process and the aggregate alone, each against DuckDB."""
    out = []
    for step, key in (("report rfm", "rfm"), ("tag", "tag")):
        cli = pg[step].wall / duck[key]
        alone = sql[key] / duck[key]
        out.append(f"- {step}: the CLI process on PostgreSQL {pg[step].wall:.2f} s = {cli:.1f}x "
                   f"DuckDB's GROUP BY ({duck[key]:.3f} s; target <= 3x): {met(cli <= 3)}; "
                   f"the store's aggregate alone {sql[key]:.2f} s = {alone:.1f}x: "
                   f"{met(alone <= 3)}.")
    return out


def verdicts(lite: dict[str, Step], pg: dict[str, Step], timeout: float | None) -> list[str]:
    """import contacts and dedupe: the figure and met / NOT met."""
    imp = pg["import contacts"].wall / lite["import contacts"].wall
    out = [f"- import contacts: PostgreSQL / SQLite {imp:.2f}x (target <= 2x): {met(imp <= 2)}."]
    d = pg.get("dedupe")
    if d is None:
        out.append("- dedupe: not run.")
    elif d.stopped:
        out.append(f"- dedupe on PostgreSQL: stopped after {timeout:.0f} s (target <= 120 s): "
                   "**NOT met**.")
    else:
        out.append(f"- dedupe on PostgreSQL: {d.wall:.1f} s, {d.rss:.0f} MiB client peak RSS "
                   f"(target <= 120 s, <= 4 GiB): {met(d.wall <= 120 and d.rss <= 4096)}.")
    return out


def duck_lines(duck: dict, sql: dict) -> list[str]:
    return [f"DuckDB {duck['version']} GROUP BY over the same orders (read from the "
            f"PostgreSQL store into an in-memory table, {duck['threads']} threads, median of "
            f"3, rows fetched into Python): rfm {duck['rfm']:.3f} s, tag {duck['tag']:.3f} s. "
            "The CLI's times include process start-up, reading the rows, scoring and "
            "writing (tag: the stage/tier changes and their history rows), DuckDB's only "
            "the query.", "",
            "The store's aggregate query alone (in process: the server's GROUP BY and the "
            "rows into a DataFrame, better of 2): "
            + "; ".join(f"{e} rfm {t['rfm']:.3f} s, tag {t['tag']:.3f} s"
                        for e, t in sql.items()) + ".", ""]


def scale_of(n: int) -> str:
    return f"{n // 1_000_000}m" if n >= 1_000_000 else f"{n // 1000}k"


def report(n: int, orders: int, lite: dict, pg: dict, duck: dict | None, conc: tuple,
           expected: dict[str, int], sql: dict, loads: tuple[str, str],
           timeout: float | None, together: bool) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"### {scale_of(n)}: {n:,} contacts, {orders:,} order rows (finished {stamp})",
             "", f"Load average (1 / 5 / 15 min) at the start {loads[0]}, at the end "
             f"{loads[1]} (2 CPUs).", ""]
    if together:
        lines += ["Run with `--together`: the SQLite steps and the PostgreSQL steps ran at the "
                  "same time (so import contacts on both engines shared the machine alike), "
                  "then the four importers.", ""]
    lines += [*table(lite, pg), "", "Targets:", *verdicts(lite, pg, timeout)]
    if duck is not None:
        lines += [*report_verdicts(pg, duck, sql["PostgreSQL"]), "", *duck_lines(duck, sql)]
    same = all(conc[2] == v for v in expected.values())
    lines += ["", f"Four importers of different files (the contacts dealt into four) at once "
              f"on a fresh team store: {conc[0]:.1f} s, exit codes {conc[1]}, {conc[2]:,} "
              f"contacts stored; the same rows imported as one file store "
              + ", ".join(f"{v:,} on {k}" for k, v in expected.items())
              + f" ({'every row present' if same else 'ROWS MISSING'}).", ""]
    return "\n".join(lines)
