"""Issue 15 (the house plan) before vs after: the same commands, old code and new code,
on the same data and the same store, interleaved in one session.

    .venv/bin/python benchmarks/bench_house.py --scale 100k \\
        --tree old=/tmp/old/src --tree new=src [--data DIR] [--runs 3] [--import-runs 2]
        [--startup-runs 10] [--steps startup,import contacts,clean,...] [--base STORE]
        [--as-of 2026-10-31] [--write]

Make the code before the refactor available first: `git worktree add /tmp/old 627d846`.
Each tree runs as `python -m custdata` with PYTHONPATH=TREE (the same interpreter and
libraries), so only custdata's own code differs. Per run, the trees take turns (the order
alternates between runs):

  start-up   `custdata --version` (module imports only), --startup-runs times per tree;
  import     `import contacts` then `import orders` into a fresh store per tree
             (--import-runs runs);
  the rest   a copy of ONE base store per tree (the store the last tree imported in the
             first run, interactions included), then in order: clean, tag, report rfm,
             report summary, report churn, dedupe, audit, export contacts.

Each command is a fresh process: wall seconds and CPU seconds (the process and every
child it reaped: read-ahead readers, pool workers, SQLite reader threads). Reported:
medians over the runs, min-max of wall, and the ratio new/old of the medians (the first
tree is the reference). The outputs of the read-only reports are compared between trees.
`--write` replaces the `house` section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import datagen  # noqa: E402
from _common import cpu_model, remove_db  # noqa: E402
from _results import write_section  # noqa: E402

SCALES = {"10k": 10_000, "20k": 20_000, "100k": 100_000, "300k": 300_000,
          "1m": 1_000_000}
STEPS = ["startup", "import contacts", "import orders", "clean", "tag", "report rfm",
         "report summary", "report churn", "dedupe", "audit", "export"]
# --save: the raw timings, rewritten after every command.
SAVE: Path | None = None
# A progress line on stderr: "  report rfm      new   wall    3.21 s  CPU    2.10 s".
PROGRESS = re.compile(r"^  (?P<step>\S+(?: \S+)?) +(?P<tree>\S+) +wall +(?P<wall>[\d.]+) s"
                      r" +CPU +(?P<cpu>[\d.]+) s$")
# Where compiled modules are cached (--bytecode); None: as the environment says.
BYTECODE_CACHE: Path | None = None
# Steps whose stdout must not depend on the tree (no behaviour change).
COMPARED = {"report rfm", "report summary", "report churn", "export"}


@dataclass
class Timing:
    """Wall and CPU seconds of each run of one step on one tree, and its output digests."""
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    digests: set[str] = field(default_factory=set)


def load_times(path: Path, times: dict[tuple[str, str], Timing]) -> None:
    """Add the timings of an earlier run: its --save JSON, or its progress lines (stderr)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        for entry in json.loads(text):
            timing = times.setdefault((entry["step"], entry["tree"]), Timing())
            timing.wall += entry["wall"]
            timing.cpu += entry["cpu"]
            timing.digests |= set(entry["digests"])
        return
    for line in text.splitlines():
        found = PROGRESS.match(line)
        if found:
            timing = times.setdefault((found["step"], found["tree"]), Timing())
            timing.wall.append(float(found["wall"]))
            timing.cpu.append(float(found["cpu"]))


def save_times(path: Path, times: dict[tuple[str, str], Timing]) -> None:
    entries = [{"step": step, "tree": tree, "wall": t.wall, "cpu": t.cpu,
                "digests": sorted(t.digests)} for (step, tree), t in times.items()]
    path.write_text(json.dumps(entries, indent=1), encoding="utf-8")


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's reaped children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(tree: Path, db: Path | None, args: list[str], out: Path) -> tuple[float, float, str]:
    """Run custdata from `tree`; (wall s, CPU s, sha256 of stdout). Exits on failure."""
    cmd = [sys.executable, "-m", "custdata"]
    if db is not None:
        cmd += ["--quiet", "--db", str(db)]
    env = {**os.environ, "PYTHONPATH": str(tree), "NO_COLOR": "1", "COLUMNS": "120"}
    if BYTECODE_CACHE is not None:  # as an installed package runs: compiled modules cached
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(BYTECODE_CACHE)
    cpu0, start = children_cpu(), time.perf_counter()
    with open(out, "wb") as sink:
        done = subprocess.run([*cmd, *args], stdout=sink, stderr=subprocess.PIPE, env=env,
                              check=False)
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu0
    if done.returncode != 0:
        raise SystemExit(f"{tree}: custdata {' '.join(args)} failed ({done.returncode}): "
                         f"{done.stderr.decode(errors='replace').strip()[-500:]}")
    return wall, cpu, hashlib.sha256(out.read_bytes()).hexdigest()


def commands(day: str) -> dict[str, list[str]]:
    """The command line of each step that runs on the base store."""
    return {
        "clean": ["clean"],
        "tag": ["tag", "--as-of", day],
        "report rfm": ["report", "rfm", "--as-of", day, "--format", "csv"],
        "report summary": ["report", "summary", "--format", "json"],
        "report churn": ["report", "churn", "--as-of", day, "--format", "csv"],
        "dedupe": ["dedupe", "--format", "csv"],
        "audit": ["audit", "--as-of", day, "--format", "json"],
        "export": ["export", "contacts", "--format", "csv"],
    }


def record(times: dict[tuple[str, str], Timing], step: str, name: str,
           result: tuple[float, float, str]) -> None:
    timing = times.setdefault((step, name), Timing())
    timing.wall.append(result[0])
    timing.cpu.append(result[1])
    timing.digests.add(result[2])
    print(f"  {step:15} {name:5} wall {result[0]:7.2f} s  CPU {result[1]:7.2f} s",
          file=sys.stderr, flush=True)
    if SAVE is not None:  # after every command, so that a stopped run keeps its figures
        save_times(SAVE, times)


def turns(trees: dict[str, Path], i: int) -> list[tuple[str, Path]]:
    """The trees in run `i`'s order (reversed every other run)."""
    items = list(trees.items())
    return items if i % 2 == 0 else items[::-1]


def measure_startup(trees: dict[str, Path], work: Path, runs: int,
                    times: dict[tuple[str, str], Timing]) -> None:
    for i in range(runs):
        for name, tree in turns(trees, i):
            record(times, "startup", name, run(tree, None, ["--version"], work / "out"))


def measure_import(trees: dict[str, Path], data: Path, work: Path, runs: int,
                   steps: list[str], times: dict[tuple[str, str], Timing]) -> Path:
    """Import into a fresh store per tree and run; the base store (last tree, first run)."""
    base = work / "base.db"
    for i in range(runs):
        for name, tree in turns(trees, i):
            db = work / f"import-{name}.db"
            remove_db(db)
            for kind in ("contacts", "orders"):
                result = run(tree, db, ["import", kind, str(data / f"{kind}.csv")], work / "out")
                if f"import {kind}" in steps:
                    record(times, f"import {kind}", name, result)
            if i == 0 and name == list(trees)[-1]:
                run(tree, db, ["import", "interactions", str(data / "interactions.csv")],
                    work / "out")
                checkpoint(db)
                shutil.copyfile(db, base)
            remove_db(db)
    return base


def checkpoint(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def measure_store(trees: dict[str, Path], base: Path, work: Path, runs: int, day: str,
                  steps: list[str], times: dict[tuple[str, str], Timing]) -> None:
    """Each run: per tree, a fresh copy of `base`; then step by step, each tree in turn on
    its own copy (the order alternates), so that both meet the same machine load."""
    wanted = {k: v for k, v in commands(day).items() if k in steps}
    for i in range(runs):
        stores = {name: work / f"store-{name}.db" for name in trees}
        for db in stores.values():
            remove_db(db)
            shutil.copyfile(base, db)
        for j, (step, args) in enumerate(wanted.items()):
            for name, tree in turns(trees, i + j):
                record(times, step, name, run(tree, stores[name], args, work / f"{step}.out"))
        for db in stores.values():
            remove_db(db)


def row(step: str, trees: list[str], times: dict[tuple[str, str], Timing]) -> str:
    ref, new = trees[0], trees[-1]
    a, b = times[(step, ref)], times[(step, new)]
    med = {k: (statistics.median(t.wall), statistics.median(t.cpu)) for k, t in
           ((ref, a), (new, b))}
    same = ""
    if step in COMPARED:
        same = "yes" if a.digests == b.digests and len(a.digests) == 1 else "no"
    runs = str(len(a.cpu)) if len(a.cpu) == len(b.cpu) else f"{len(a.cpu)} / {len(b.cpu)}"
    cells = [f"`{step}`" if step != "startup" else "start-up (`--version`)", runs]
    for k, t in ((ref, a), (new, b)):
        cells.append(f"{med[k][1]:.2f}")
    cells.append(f"{med[new][1] / med[ref][1]:.2f}")
    for k, t in ((ref, a), (new, b)):
        cells.append(f"{med[k][0]:.2f} ({min(t.wall):.2f}–{max(t.wall):.2f})")
    cells += [f"{med[new][0] / med[ref][0]:.2f}", same]
    return "| " + " | ".join(cells) + " |"


def loadavg() -> str:
    return " / ".join(Path("/proc/loadavg").read_text().split()[:3])


def report(args: argparse.Namespace, trees: dict[str, Path], times: dict[tuple[str, str],
           Timing], loads: tuple[str, str] | None, data: Path) -> str:
    names = list(trees)
    ref, new = names[0], names[-1]
    head = (f"### {args.scale}: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
            f"`{platform.system()} {platform.release()} {platform.machine()}`, "
            f"{os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}")
    trees_line = ", ".join(f"{k} = `{v}`" for k, v in trees.items())
    trees_line += (". Compiled modules cached (as installed)" if BYTECODE_CACHE else
                   ". No compiled modules cached" if os.environ.get("PYTHONDONTWRITEBYTECODE")
                   else "")
    load = (f"Load average (1/5/15 min) {loads[0]} before, {loads[1]} after. " if loads
            else "")
    lines = [head, "", f"Trees: {trees_line}. Data: `{data}` ({datagen_line(data)}); "
             f"as of {args.as_of}. {load}The machine is shared (2 cores, several engineers' "
             "jobs), so wall times are noisy; CPU seconds are the steadier figure.", "",
             f"| step | runs | CPU s {ref} | CPU s {new} | CPU {new}/{ref} | wall s {ref} "
             f"(min–max) | wall s {new} (min–max) | wall {new}/{ref} | same output |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for step in STEPS:
        if (step, ref) in times and (step, new) in times:
            lines.append(row(step, names, times))
    return "\n".join(lines)


def datagen_line(data: Path) -> str:
    counts = {}
    for kind in ("contacts", "orders", "interactions"):
        with open(data / f"{kind}.csv", encoding="utf-8") as rows:
            counts[kind] = sum(1 for _ in rows) - 1
    return ", ".join(f"{v:,} {k}" for k, v in counts.items())


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="100k", choices=sorted(SCALES))
    ap.add_argument("--tree", action="append", default=[], metavar="NAME=SRC",
                    help="a custdata source tree (first: the reference); default old, new")
    ap.add_argument("--data", type=Path, help="datagen output to reuse (else generated)")
    ap.add_argument("--base", type=Path, help="a store of --data to copy (skips building one)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--import-runs", type=int, default=2)
    ap.add_argument("--startup-runs", type=int, default=10)
    ap.add_argument("--steps", default=",".join(STEPS), help="comma-separated subset")
    ap.add_argument("--as-of", default=datagen.END.isoformat())
    ap.add_argument("--bytecode", action="store_true",
                    help="cache compiled modules (PYTHONPYCACHEPREFIX in the work dir) even "
                    "where PYTHONDONTWRITEBYTECODE is set, as an installed custdata runs")
    ap.add_argument("--merge", type=Path, action="append", default=[],
                    help="add an earlier run's timings (its --save JSON or its stderr log)")
    ap.add_argument("--save", type=Path, help="write this run's raw timings (JSON)")
    ap.add_argument("--note", default="", help="a paragraph added under the table")
    ap.add_argument("--write", action="store_true", help="replace the house section")
    return ap.parse_args()


def main() -> None:
    args = parse()
    specs = args.tree or ["old=/tmp/old/src", f"new={HERE.parent / 'src'}"]
    trees = {s.split("=", 1)[0]: Path(s.split("=", 1)[1]).resolve() for s in specs}
    steps = [s.strip() for s in args.steps.split(",")]
    times: dict[tuple[str, str], Timing] = {}
    before = loadavg()
    for earlier in args.merge:
        load_times(earlier, times)
    with tempfile.TemporaryDirectory(prefix="bench-house-") as tmp:
        work = Path(tmp)
        global BYTECODE_CACHE, SAVE
        SAVE = args.save
        if args.bytecode:
            BYTECODE_CACHE = work / "pycache"
            for tree in trees.values():  # compile once, outside the timings
                run(tree, None, ["--version"], work / "out")
        data = args.data
        if data is None:
            data = work / "gen"
            datagen.generate(data, datagen.Params(contacts=SCALES[args.scale], seed=7))
        if "startup" in steps:
            measure_startup(trees, work, args.startup_runs, times)
        store_steps = [s for s in steps if s in commands(args.as_of)]
        base = args.base
        if any(s.startswith("import") for s in steps):
            built = measure_import(trees, data, work, args.import_runs, steps, times)
            base = base or built
        elif base is None and store_steps:
            base = measure_import(trees, data, work, 1, steps, times)
        if store_steps:
            measure_store(trees, base, work, args.runs, args.as_of, store_steps, times)
        ran = [s for s in steps if s in STEPS]
        text = report(args, trees, times, (before, loadavg()) if ran else None, data)
    if args.note:
        text += "\n\n" + args.note
    print(text)
    if args.write:
        write_section("house", "## House plan (issue 15): before vs after "
                      "(`benchmarks/bench_house.py`)\n\n" + text)


if __name__ == "__main__":
    main()
