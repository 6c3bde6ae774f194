"""Spread a pure per-chunk function over the CPU cores, for batches worth the start-up cost.

Below `threshold` items everything runs in this process (no pool, no pickling). Above it,
chunks go to a process pool, at most two chunks per worker in flight so memory stays
flat, and results come back in input order. Workers are forked where the OS can (they
start in milliseconds with every module already imported; they run only pure functions
and never touch the parent's SQLite connection), else spawned.
"""

from __future__ import annotations

import functools
import gc
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from itertools import islice
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

PARALLEL_THRESHOLD = 20_000  # items; under this a pool costs more than it saves
CHUNK_SIZE = 5_000
BULK_GC_THRESHOLD = 50_000  # allocations between young collections in a bulk load (700 by default)


def default_workers() -> int:
    """One worker per available core, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def idle_workers() -> int:
    """Workers for the cores that are idle now: on a busy machine a pool only adds copying.

    The 1-minute load average counts this process too; 2 cores at load 1 -> 2 workers,
    at load 3 or more -> 1 (work stays in this process).
    """
    cores = default_workers()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return cores
    return max(1, min(cores, int(cores - load + 1.5)))


def map_chunks(
    fn: Callable[[list[T]], list[R]],
    items: Iterable[T],
    *,
    workers: int | None = None,
    threshold: int | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[R]:
    """Yield fn(chunk) results item by item, in order, over `items` in chunks.

    `fn` must be a module-level function (it is pickled by name). workers=None uses
    the idle cores (idle_workers); workers=1 or fewer than `threshold` items run here.
    Workers leave Ctrl-C to the parent and exit soon after it dies, even by kill -9.
    """
    workers = idle_workers() if workers is None else max(1, workers)
    threshold = PARALLEL_THRESHOLD if threshold is None else threshold
    iterator = iter(items)
    head = list(islice(iterator, threshold))
    if workers == 1 or len(head) < threshold:
        for start in range(0, len(head), chunk_size):
            yield from fn(head[start:start + chunk_size])
        for chunk in _chunks(iterator, chunk_size):  # workers == 1 with a long input
            yield from fn(chunk)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context,
                             initializer=functools.partial(_quiet_worker, os.getpid())) as pool:
        pending: deque[Future[list[R]]] = deque()
        chunks = _chunks(_chain(head, iterator), chunk_size)
        for chunk in chunks:
            pending.append(pool.submit(fn, chunk))
            if len(pending) >= 2 * workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def _quiet_worker(parent: int) -> None:
    """Ctrl-C and SIGTERM are the parent's to handle (it rolls back); workers just stop,
    and stop too when the parent is killed outright (see exit_with_parent)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    exit_with_parent(parent)


def exit_with_parent(parent: int) -> None:
    """End this worker soon after its parent ends, even by kill -9.

    A killed parent cannot shut its pool down, and forked siblings keep each other's
    pipes open, so its workers would otherwise wait for work forever (and keep whatever
    they hold in memory). `parent` is the pid taken before the fork, so that a parent
    killed before this ran is caught too.
    """
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _chain(head: list[T], rest: Iterator[T]) -> Iterator[T]:
    yield from head
    yield from rest


def _chunks(iterator: Iterator[T], size: int) -> Iterator[list[T]]:
    while chunk := list(islice(iterator, size)):
        yield chunk


class ReadAhead(Generic[T]):
    """Items of an iterator produced by a forked child, a batch ahead of this process.

    For a long parse feeding a write: the child reads and parses (one core) while this
    process stores (the other). The child is forked at construction, so create this
    before opening anything the child must not inherit (the store). It is a bare
    os.fork, not a multiprocessing.Process, which would close the child's stdin: the
    child must go on reading the very stream this process started (a pipe's header is
    already read). Batches come through a pipe, whose small buffer holds the child back
    when this process falls behind, so memory stays flat. An exception in the child is
    raised here, at the point of iteration where it happened; `trailer()`, called in the
    child once `items` is done, becomes `.trailer` here (what the child alone knows by
    then, such as a file hash). `close()` (or leaving a `with` block) stops the child;
    so does this process dying.
    """

    def __init__(self, items: Iterable[T], *, batch: int = 2000,
                 trailer: Callable[[], object] | None = None) -> None:
        self._recv, send = multiprocessing.Pipe(duplex=False)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: produce, then leave without running the parent's exit code
            code = 0
            try:
                self._recv.close()
                _produce(items, batch, trailer, send, parent)
            except BaseException:  # noqa: BLE001 - the parent is gone or the pipe broke
                code = 1
            finally:
                os._exit(code)
        send.close()
        self.pid = pid
        self._buffer: deque[T] = deque()
        self._done = False
        self.trailer: object = None

    def __iter__(self) -> "ReadAhead[T]":
        return self

    def __next__(self) -> T:
        while not self._buffer:
            if self._done:
                raise StopIteration
            try:
                kind, payload = self._recv.recv()
            except EOFError:
                self.close()
                raise RuntimeError("the reading process ended unexpectedly") from None
            if kind == "items":
                self._buffer.extend(payload)
            elif kind == "end":
                self.trailer = payload
                self.close()
            else:
                self.close()
                raise payload
        return self._buffer.popleft()

    def close(self) -> None:
        """Stop the child (if it still runs) and reap it; later calls do nothing."""
        if self._done:
            return
        self._done = True
        self._buffer.clear()
        self._recv.close()
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)

    def __enter__(self) -> "ReadAhead[T]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _produce(items: Iterable[T], batch: int, trailer: Callable[[], object] | None,
             send: Any, parent: int) -> None:
    _quiet_worker(parent)
    try:
        for chunk in _chunks(iter(items), batch):
            send.send(("items", chunk))
        send.send(("end", trailer() if trailer else None))
    except BaseException as exc:  # noqa: BLE001 - every failure is the parent's to report
        try:
            send.send(("error", exc))
        except Exception:  # noqa: BLE001 - an exception that does not pickle
            send.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


@contextmanager
def bulk_gc(threshold: int = BULK_GC_THRESHOLD) -> Iterator[None]:
    """Python's cycle collector set for a bulk load while the block runs, then put back.

    What is alive on entry (the modules, phone metadata...) is frozen, so the full
    collections a long load triggers no longer walk it; the youngest generation is
    collected every `threshold` allocations instead of 700, so a batch's rows mostly
    die young rather than being promoted and walked again. Reference counting frees
    memory as before; only garbage cycles wait a little longer. A child forked inside
    the block inherits the setting. Yields nothing; an outer freeze is left alone.
    """
    before = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    gc.set_threshold(threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if freeze:
            gc.unfreeze()
