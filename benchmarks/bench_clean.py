"""Throughput of `clean` and `validate`, next to the bare cost of phonenumbers + email-validator.

    .venv/bin/python benchmarks/bench_clean.py --scale 100k [--runs 3] [--work DIR]

Generates (once, cached in --work) 100k or 1M contacts with benchmarks/datagen.py (messy
phones, emails, names, dates, countries, ID numbers), then measures on the same values:

  library   the bare libraries, one call chain per value as a user would write it:
            phonenumbers.parse + is_valid_number + number_type + format_number for each
            non-empty phone, email_validator.validate_email (offline) for each email.
  core      custdata.clean.clean_rows and custdata.validate.find_issues over the rows,
            caches emptied first, on 1 core and on every core (fork pool, chunks of 5,000).
  cli       `custdata clean` and `custdata validate --format csv` as processes on a store
            holding the imported contacts (fresh copy per run; wall time and peak RSS).
It also checks that every phone and email verdict equals the bare library's, and replaces
its own section of benchmarks/RESULTS.md (between `<!-- BEGIN clean -->` and
`<!-- END clean -->`).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import datagen  # noqa: E402
from _common import cold, cpu_model, remove_db  # noqa: E402
import phonenumbers  # noqa: E402
from email_validator import EmailNotValidError, validate_email  # noqa: E402

from custdata import parallel  # noqa: E402
from custdata.clean import clean_rows  # noqa: E402
from custdata.errors import InvalidValue  # noqa: E402
from custdata.normalize import normalize_email, normalize_text, phone_input, phone_verdict  # noqa: E402
from custdata.validate import find_issues  # noqa: E402

SCALES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
from _results import kept_scales, write_section  # noqa: E402 (script-relative)



def ensure_data(work: Path, contacts: int, seed: int) -> Path:
    params = datagen.Params(contacts=contacts, seed=seed, orders_per_contact=0,
                            interactions_per_contact=0)
    stamp = work / "params.json"
    if not (stamp.exists() and json.loads(stamp.read_text()).get("params", {}).get(
            "contacts") == contacts):
        work.mkdir(parents=True, exist_ok=True)
        datagen.generate(work, params)
    return work / "contacts.csv"


def load_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows, 1):
        row["id"] = i
        for k, v in row.items():
            if v == "":
                row[k] = None  # the store keeps empty cells as NULL
    return rows


def timed(fn) -> float:  # noqa: ANN001
    cold()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bare_phone(raw: str, region: str = "CN") -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    phonenumbers.number_type(number)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def bare_email(raw: str) -> str | None:
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        return None
    return f"{result.local_part}@{result.ascii_domain}"


def verdict_mismatches(phones: list[str], emails: list[str]) -> tuple[int, int]:
    cold()
    bad_phones = sum(
        (phone_verdict(p, "CN")[0] or "").split(";")[0] != (bare_phone(phone_input(p)) or "")
        for p in phones)
    bad_emails = 0
    for e in emails:
        try:
            ours = normalize_email(e)
        except InvalidValue:
            ours = None
        bad_emails += ours != bare_email(normalize_text(e))
    return bad_phones, bad_emails


TIME = Path("/usr/bin/time")


def run(cmd: list[str]) -> dict:
    """Wall time, peak RSS (MiB) and stderr of one process.

    The peak RSS comes from GNU time when present: a child's own rusage would also count
    the memory of this benchmark process (which holds every row) before the exec.
    """
    wrapped = [str(TIME), "-f", "BENCH_MAXRSS_KB=%M", *cmd] if TIME.exists() else cmd
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{text[-2000:]}")
    rss = usage.ru_maxrss / 1024
    if "BENCH_MAXRSS_KB=" in text:
        head, _, tail = text.rpartition("BENCH_MAXRSS_KB=")
        rss, text = int(tail.split()[0]) / 1024, head
    return {"wall": wall, "rss": rss, "stderr": text}


def custdata_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("custdata")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "custdata"]


def measure(work: Path, scale: str, runs: int) -> dict:
    n = SCALES[scale]
    data_dir = work / scale
    csv_path = ensure_data(data_dir, n, 7)
    rows = load_rows(csv_path)
    phones = [r["phone"] for r in rows if r["phone"] and r["phone"].strip()]
    emails = [r["email"] for r in rows if r["email"] and r["email"].strip()]
    workers = parallel.default_workers()
    res: dict[str, list[float]] = {k: [] for k in (
        "lib_phone", "lib_email", "clean_1", "clean_n", "validate_1", "validate_n",
        "cli_clean", "cli_validate")}
    rss: dict[str, float] = {}
    cd = custdata_cmd()
    base = data_dir / "imported.db"
    if not base.exists():
        run([*cd, "--db", str(base), "import", "contacts", str(csv_path)])
    # References and one-core diagnostics: once, before the first run (the verdict check
    # reruns the bare libraries anyway); the steps a user runs: every run.
    res["lib_phone"].append(timed(lambda: [bare_phone(phone_input(p)) for p in phones]))
    res["lib_email"].append(timed(lambda: [bare_email(normalize_text(e)) for e in emails]))
    res["clean_1"].append(timed(lambda: list(clean_rows(rows, workers=1))))
    saved = parallel.PARALLEL_THRESHOLD
    parallel.PARALLEL_THRESHOLD = 10**12
    res["validate_1"].append(timed(lambda: find_issues(rows)))
    parallel.PARALLEL_THRESHOLD = saved
    for _ in range(runs):
        res["clean_n"].append(timed(lambda: list(clean_rows(rows, workers=workers))))
        res["validate_n"].append(timed(lambda: find_issues(rows)))
        db = data_dir / "run.db"
        remove_db(db)
        with sqlite3.connect(base) as src, sqlite3.connect(db) as dst:
            src.backup(dst)
        out = run([*cd, "--db", str(db), "clean"])
        res["cli_clean"].append(out["wall"])
        rss["cli_clean"] = max(rss.get("cli_clean", 0), out["rss"])
        summary = out["stderr"].strip().replace("\n", " ")
        out = run([*cd, "--db", str(db), "validate", "--format", "csv"])
        res["cli_validate"].append(out["wall"])
        rss["cli_validate"] = max(rss.get("cli_validate", 0), out["rss"])
        problems = out["stderr"].strip().replace("\n", " ")
    bad = verdict_mismatches(phones, emails)
    return {"n": n, "phones": len(phones), "emails": len(emails), "workers": workers,
            "res": res, "rss": rss, "bad": bad, "clean_summary": summary,
            "validate_summary": problems}


def machine() -> str:
    cpu = cpu_model()
    return (f"`{' '.join(platform.uname())}`; {os.cpu_count()} CPUs ({cpu}); Python "
            f"{platform.python_version()}, phonenumbers {phonenumbers.__version__}")


def table(m: dict) -> str:
    n, res = m["n"], m["res"]

    def med(k: str) -> float:
        return statistics.median(res[k])

    def span(k: str) -> str:
        return f"{med(k):.2f} ({min(res[k]):.2f}–{max(res[k]):.2f})"

    lib = med("lib_phone") + med("lib_email")
    lines = [
        "| step | seconds, median (min–max) | contacts/s | vs bare libraries |",
        "|---|---|---|---|",
        f"| bare libraries: phones ({m['phones']:,} values) | {span('lib_phone')} | "
        f"{n / med('lib_phone'):,.0f} | {med('lib_phone') / m['phones'] * 1e6:.1f} µs/phone |",
        f"| bare libraries: emails ({m['emails']:,} values) | {span('lib_email')} | "
        f"{n / med('lib_email'):,.0f} | {med('lib_email') / m['emails'] * 1e6:.1f} µs/email |",
        f"| bare libraries: phones + emails | {lib:.2f} | {n / lib:,.0f} | 1.00× |",
    ]
    for key, label in (("clean_1", "clean core, 1 core (all fields)"),
                       ("clean_n", f"clean core, {m['workers']} workers"),
                       ("validate_1", "validate core, 1 core"),
                       ("validate_n", f"validate core, {m['workers']} workers"),
                       ("cli_clean", "`custdata clean` (process, store write)"),
                       ("cli_validate", "`custdata validate --format csv`")):
        extra = f"; peak RSS {m['rss'][key]:.0f} MiB" if key in m["rss"] else ""
        lines.append(f"| {label} | {span(key)} | {n / med(key):,.0f} | "
                     f"{med(key) / lib:.2f}×{extra} |")
    return "\n".join(lines)


def section(results: dict[str, dict], runs: int) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = ["## Clean and validate (`benchmarks/bench_clean.py`)", "",
           f"Measured on {machine()}; each subsection names its date and number of runs "
           "(median, min–max; the bare-library references and the one-core rows are "
           "measured in the first run only). The machine is shared "
           "with other jobs (2 cores, several engineers' tests and benchmarks), so absolute "
           "times are noisy and a pool of workers often finds no idle core; compare the "
           "ratios, measured in the same run. Data: `benchmarks/datagen.py` (seed 7). "
           "\"Bare libraries\" is one phonenumbers parse/is_valid/number_type/format chain "
           "per non-empty phone plus one offline validate_email per non-empty email, on the "
           "same values, with no cache: what clean would cost without the canonical-key "
           "cache and the fast paths. The clean and validate rows do all fields (names, "
           "text, dates, countries, ID numbers too), caches emptied before each run."]
    for scale, m in results.items():
        out += ["", f"### {scale}: {m['n']:,} contacts ({now}, {runs} runs)", "", table(m), "",
                f"Verdicts differing from the bare libraries: phones {m['bad'][0]}, "
                f"emails {m['bad'][1]}.  ",
                f"`custdata clean` said: {m['clean_summary']}  ",
                f"`custdata validate` said: {m['validate_summary']}"]
    for kept in kept_scales("clean", set(results)):
        out += ["", kept]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="100k", help="10k, 100k, 1m, or several: 100k,1m")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", type=Path,
                    default=Path(tempfile.gettempdir()) / "custdata-bench-clean")
    ap.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = ap.parse_args(argv)
    results = {}
    for scale in args.scale.lower().split(","):
        if scale not in SCALES:
            ap.error(f"unknown scale {scale}")
        results[scale] = measure(args.work, scale, args.runs)
    text = section(results, args.runs)
    print(text)
    if not args.no_write:
        write_section("clean", text)
    for scale in results:
        remove_db(args.work / scale / "run.db")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
