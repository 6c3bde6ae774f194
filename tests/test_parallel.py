"""The process pool of custdata.parallel: workers never outlive a killed parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = """
import os, sys, time
from custdata.parallel import map_chunks

def slow(chunk):
    with open(sys.argv[1], "a") as fh:
        fh.write(f"{os.getpid()}\\n")
    time.sleep(60)
    return chunk

list(map_chunks(slow, range(100), workers=2, threshold=2, chunk_size=10))
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie waiting for init is gone too
        return fh.read().split()[2] != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").exists(), reason="needs /proc (Linux)")
def test_workers_exit_when_their_parent_is_killed(tmp_path) -> None:
    pids = tmp_path / "pids"
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT, str(pids)])
    deadline = time.time() + 30
    while time.time() < deadline and (not pids.exists() or len(pids.read_text().split()) < 2):
        time.sleep(0.05)
    workers = [int(p) for p in pids.read_text().split()]
    assert len(workers) == 2 and all(_alive(w) for w in workers)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers), "a worker outlived its killed parent"


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector frees it


def test_bulk_gc_sets_the_collector_for_a_load_and_puts_it_back() -> None:
    import gc
    import weakref

    from custdata.parallel import BULK_GC_THRESHOLD, bulk_gc

    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    with pytest.raises(KeyError), bulk_gc():
        assert gc.get_threshold() == (BULK_GC_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > frozen
        first = weakref.ref(_Node())
        for _ in range(3 * BULK_GC_THRESHOLD):  # garbage cycles are still collected
            _Node()
        assert first() is None
        raise KeyError("a failed load")
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen


def test_bulk_gc_leaves_an_outer_freeze_alone() -> None:
    import gc

    from custdata.parallel import bulk_gc

    gc.freeze()
    try:
        held = gc.get_freeze_count()
        with bulk_gc():
            pass
        assert gc.get_freeze_count() == held
    finally:
        gc.unfreeze()
