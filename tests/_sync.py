"""Run the custdata CLI stopped at a synchronisation point, for concurrency tests.

One mechanism (docs/ARCHITECTURE.md, "Synchronisation points"): every write calls
`Session.pause_at` at "write:before-lock" (the command's reading and planning done),
"write:locked" (the write lock held) and "write:committed" (just after the commit). The
CLI pauses there when CUSTDATA_SYNC_DIR names a folder and CUSTDATA_SYNC_AT names the
point: it creates POINT.reached in the folder and waits for POINT.go.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sync_env(folder: Path, point: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment that stops a custdata process at `point` (files in `folder`)."""
    return {**(os.environ if env is None else env), "CUSTDATA_SYNC_DIR": str(folder),
            "CUSTDATA_SYNC_AT": point}


class Paused:
    """`custdata --db DB ARGS...` in its own process, stopped at `point` until `go()`."""

    def __init__(self, folder: Path, point: str, db: Path | str | None, *args: object,
                 env: dict[str, str] | None = None) -> None:
        folder.mkdir(exist_ok=True)
        self.folder, self.name = folder, point.replace(":", "-")
        store = ["--db", str(db)] if db is not None else []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "custdata", *store, *map(str, args)], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True, env=sync_env(folder, point, env))

    def ready(self, seconds: float = 60) -> bool:
        """True once the process waits at its point (False if it ended or took too long)."""
        reached = self.folder / f"{self.name}.reached"
        deadline = time.time() + seconds
        while time.time() < deadline and self.proc.poll() is None:
            if reached.exists():
                return True
            time.sleep(0.02)
        return reached.exists()

    def release(self) -> None:
        """Let the process go on from its point."""
        (self.folder / f"{self.name}.go").touch()

    def go(self, seconds: float = 120) -> tuple[int, str]:
        """Release it and wait for its end: (exit code, stderr)."""
        self.release()
        _, err = self.proc.communicate(timeout=seconds)
        return self.proc.returncode, err

    def finish(self, seconds: float = 120) -> tuple[int, str, str]:
        """Release it and wait for its end: (exit code, stdout, stderr)."""
        self.release()
        out, err = self.proc.communicate(timeout=seconds)
        return self.proc.returncode, out, err
