"""Small pieces every benchmark needs: the CPU model, CPU seconds, a timed custdata call,
emptied value caches, and the removal of a database with its side files."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
CUSTDATA = [sys.executable, "-m", "custdata"]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "unknown"."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def child_cpu_s() -> float:
    """CPU seconds of this process's finished (waited-for) children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu_s() -> float:
    """CPU seconds of this process and of its finished children (e.g. pool workers)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + child_cpu_s()


def cold() -> None:
    """Empty the phone and email-domain caches, as a fresh custdata process starts."""
    from custdata.normalize import email, phone

    phone._phone_cache.clear()
    email._domain_cache.clear()


def remove_db(path: Path) -> None:
    """Delete the SQLite database `path` and its -wal, -shm and -journal files, if any."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def timed_cli(db: Path, *args: str) -> tuple[str, float]:
    """Run `custdata --quiet --db DB ARGS...`; its stdout and wall seconds. Exits on failure."""
    start = time.perf_counter()
    done = subprocess.run([*CUSTDATA, "--quiet", "--db", str(db), *args], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(SRC)})
    if done.returncode != 0:
        raise SystemExit(f"custdata {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout, time.perf_counter() - start
