"""Hashing a build's batches in a pool of processes, results handed on in walk order.

Why processes, measured on 2 cores with a warm page cache (``benchmarks/bench_manifest.py``):
hashing costs next to nothing (xxh3 runs at ~39 GB/s); a big file is bound by copying pages
out of the cache, a small file by Python's per-file work (~12 us of open/fstat/read/close).
Two threads do not speed up small files (20,000 files: 0.31-0.39 s vs 0.26-0.29 s in one
thread; every syscall hands the GIL over) nor big ones (memory bound: ~0.19 s for 1.5 GiB
either way), so files are hashed by a pool of processes in batches (0.18 s for the same small
files; 0.27 s vs 0.45 s for the whole 2.2 GiB tree), while the building process walks the
tree and writes Parquet. Results are written in walk order, so the output is deterministic
and streams with bounded memory.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from typing import Any

from backupcheck.manifest.batch import BatchResult, ByteMeter, hash_items
from backupcheck.manifest.progress import PROGRESS_INTERVAL, Ticker
from backupcheck.manifest.write import Writer

#: tasks in flight; results wait to be written in walk order, so this bounds memory
#: (~50k rows, ~15 MB) when one huge file holds up the head of the queue
MAX_PENDING_BATCHES = 96

# A pool worker's progress counters shared with the parent: [rows done, bytes hashed]
# (a multiprocessing.Array), set by the worker's initializer.
_worker_counters: Any = None


def _init_worker(counters: Any) -> None:
    global _worker_counters
    _worker_counters = counters


def _add_worker_bytes(n: int) -> None:
    with _worker_counters.get_lock():
        _worker_counters[1] += n


def _hash_batch_in_worker(root: str, items: Sequence[tuple[str, bool]]) -> BatchResult:
    result = hash_items(root, items, ByteMeter(_add_worker_bytes))
    with _worker_counters.get_lock():
        _worker_counters[0] += len(result.paths)
    return result


def hash_in_pool(root: str, batches: Iterator[list[tuple[str, bool]]], workers: int,
                 writer: Writer, ticker: Ticker) -> str:
    """Hash ``batches`` in ``workers`` processes into ``writer``; returns the method used."""
    context = pool_context()
    counters = context.Array("q", 2)
    ticker.source = lambda: (int(counters[0]), int(counters[1]))
    pending: deque[Future[BatchResult]] = deque()

    def write_head() -> None:
        head = pending[0]
        while not wait([head], timeout=PROGRESS_INTERVAL).done:
            ticker.tick()
        pending.popleft()
        writer.add(head.result())
        ticker.tick()

    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                               initargs=(counters,))
    try:
        for batch in batches:
            pending.append(pool.submit(_hash_batch_in_worker, root, batch))
            while pending and (len(pending) >= MAX_PENDING_BATCHES or pending[0].done()):
                write_head()
        while pending:
            write_head()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return f"processes:{context.get_start_method()}x{workers}"


def pool_context() -> multiprocessing.context.BaseContext:
    """How to start hashing processes.

    ``fork`` starts in milliseconds; ``forkserver`` and ``spawn`` re-import this module and
    pyarrow in a fresh interpreter (~0.2 s per build). Fork is only unsafe when another
    *Python* thread may hold a lock the child then needs; the child here only runs
    :func:`~backupcheck.manifest.batch.hash_items` (os, xxhash, pickle) and never calls into
    pyarrow, whose native threads are fork-aware. So: fork when this is the only Python
    thread, else forkserver.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        # this module holds the workers' function: importing it imports all they need
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
