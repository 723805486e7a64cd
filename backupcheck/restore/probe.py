"""Timing the sample for the RTO model: one stream alone, then all restore streams together.

The drill's own reads run on ``--jobs`` streams, which says nothing about a real restore on
``restore_streams``: a link shared by all streams does not get faster with more of them, and
a far endpoint makes every request wait however many run. So after the verification the
probe re-reads sampled files (bytes are timed, not judged again) twice:

* **alone**: a few files, one after the other, on one stream;
* **together**: ``streams`` reads at once, in two rounds: the largest sampled files (each read
  at most :data:`READ_LIMIT` bytes or :data:`READ_SECONDS`, so every stream is moving bytes at
  the same time) and the smallest ones, :data:`REQUEST_READS` per stream (so the time to
  first byte is measured as a sustained load of requests in flight sees it, not one burst).

How a file's bytes are fetched (an S3 GET, ``restic dump``, a pack reader) is the caller's
``open_stream``; the probe only times what it is handed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial

from backupcheck.backends.base import ByteStream, CatalogEntry

#: a probe read stops at this many bytes or this long after its first byte, whichever
#: comes first: enough to time a stream's throughput, bounded for big files and slow links
READ_LIMIT = 8 * 1024 * 1024
READ_SECONDS = 0.5
CHUNK = 256 * 1024
#: reads on one stream alone: the two largest and the two smallest probed files
ALONE_READS = 4


@dataclass(frozen=True)
class Read:
    """One timed read: time to first byte, then bytes over the time from first byte to end."""

    bytes: int
    ttfb_seconds: float
    seconds: float


@dataclass(frozen=True)
class Probe:
    alone: tuple[Read, ...]
    #: all streams together: the bytes round (largest files) and the requests round
    together_bytes: tuple[Read, ...]
    together_requests: tuple[Read, ...]
    streams: int
    files: int  # distinct files probed


def timed_read(open_stream: Callable[[], ByteStream], limit: int = READ_LIMIT,
               seconds: float = READ_SECONDS) -> Read | None:
    """Read up to ``limit`` bytes or for ``seconds`` after the first byte; None when the
    file could not be read (the verification already said why)."""
    started = time.monotonic()
    stream: ByteStream | None = None
    try:
        stream = open_stream()
        first = stream.read(1)
        first_byte = time.monotonic()
        received = len(first)
        stop_at = first_byte + seconds
        while first and received < limit and time.monotonic() < stop_at:
            chunk = stream.read(min(CHUNK, limit - received))
            if not chunk:
                break
            received += len(chunk)
        return Read(received, first_byte - started, time.monotonic() - first_byte)
    except Exception:  # noqa: BLE001 - a probe read that fails is only a missing timing
        return None
    finally:
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()


#: reads per stream in the requests round: a sustained load, as a restore's, not one burst
REQUEST_READS = 3

#: a reader's plan for reading several files at once (the drill's ``read_plan``): the order
#: to read them in, their shared fetches held while the block runs
Plan = Callable[[Sequence[CatalogEntry]], AbstractContextManager[Sequence[int]]]


def _together(open_entry: Callable[[CatalogEntry], ByteStream], entries: Sequence[CatalogEntry],
              streams: int, reads_per_stream: int = 1, plan: Plan | None = None,
              ) -> tuple[Read, ...]:
    reads = [entries[i % len(entries)] for i in range(streams * reads_per_stream)]
    with (plan(reads) if plan is not None else nullcontext(range(len(reads)))) as order, \
            ThreadPoolExecutor(max_workers=streams, thread_name_prefix="probe") as pool:
        found = list(pool.map(lambda i: timed_read(partial(open_entry, reads[i])), order))
    return tuple(r for r in found if r is not None)


def probe_streams(open_entry: Callable[[CatalogEntry], ByteStream],
                  entries: Sequence[CatalogEntry], streams: int,
                  plan: Plan | None = None) -> Probe | None:
    """Time ``entries`` (files the verification could read) alone and ``streams`` together;
    None when there is nothing to time. With a reader's ``plan`` the requests round reads
    the way a real restore of that reader reads many small files (restic: a pack at a time,
    shared between its files), so its first bytes are each file's own work."""
    if not entries:
        return None
    streams = max(1, streams)
    by_size = sorted(entries, key=lambda e: (-e.size, e.path))
    largest, smallest = by_size[:streams], by_size[::-1][:streams]
    half = ALONE_READS // 2
    alone_entries = list(dict.fromkeys([*largest[:half], *smallest[:half]]))
    timed = (timed_read(partial(open_entry, entry)) for entry in alone_entries)
    alone = tuple(r for r in timed if r is not None)
    if not alone:
        return None
    together_bytes = _together(open_entry, largest, streams)
    together_requests = _together(open_entry, smallest, streams, REQUEST_READS, plan)
    if not together_bytes or not together_requests:
        return None
    return Probe(alone, together_bytes, together_requests, streams,
                 len({e.path for e in (*largest, *smallest)}))
