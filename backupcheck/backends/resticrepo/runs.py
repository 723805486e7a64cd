"""Shared reads for a planned set of files: each pack region fetched once, handed out once.

A drill reads a sample of files at once, and a real restore reads a pack's blobs for many files
together. Read file by file, 200 small files of one pack are 200 ranged GETs; on S3 each
request has a fixed cost, so that made the reader slower than ``restic restore``. A
:class:`SharedRuns` is made from the blobs of every file about to be read: the blobs are
grouped by pack and cut into runs of neighbouring blobs (:func:`~.blobs.group_reads`, up to
:data:`RUN_MAX` bytes). The first file that needs a blob of a run fetches the whole run with
one read; the other files take their blobs from it. The files are read in pack order
(:func:`read_order`), so while the first run is being read the next :data:`AHEAD` runs are
fetched in the background, the way ``restic restore`` keeps several packs in flight.

Each planned use of a blob is handed out once; when every planned use of a run was taken the
run's bytes are dropped. At most :data:`HELD_MAX` bytes are held or being fetched: before a
fetch would pass it, the oldest held runs are dropped, and their later uses read their blob on
their own; a fetch that still finds no room (other fetches in flight) is not made, and its use
reads its blob on its own. A run whose fetch fails is not retried here: each use then reads
its blob on its own and gets that blob's own error. Nothing here verifies bytes: every blob
taken from a run is decrypted and checked against its id by the caller, exactly as a blob
read on its own.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from backupcheck.backends.resticrepo.blobs import BlobError, fetch_range, group_reads
from backupcheck.backends.resticrepo.index import BlobEntry
from backupcheck.backends.resticrepo.storage import Storage

#: the largest region of one pack fetched with one read
RUN_MAX = 8 << 20
#: runs fetched ahead of the one being read (within HELD_MAX)
AHEAD = 3
#: bytes of fetched runs held at once for the files still to read them
HELD_MAX = 64 << 20


@dataclass(eq=False)
class _Run:
    pack: str
    start: int
    end: int
    uses: int  #: planned uses of its blobs not yet taken
    position: int = 0  #: in read order
    lock: threading.Lock = field(default_factory=threading.Lock)
    data: bytes | None = None
    done: bool = False  #: fetched and dropped, evicted, or failed: no more sharing


class SharedRuns:
    """Runs of the planned blobs (see the module docstring). Thread-safe."""

    def __init__(self, storage: Storage, planned: Iterable[tuple[str, BlobEntry]], *,
                 run_max: int = RUN_MAX, held_max: int = HELD_MAX) -> None:
        self._storage, self._held_max, self._run_max = storage, held_max, run_max
        uses: Counter[str] = Counter()
        entries: dict[str, BlobEntry] = {}
        for blob_id, entry in planned:
            uses[blob_id] += 1
            entries[blob_id] = entry
        by_pack: dict[str, list[tuple[str, BlobEntry]]] = {}
        for blob_id, entry in entries.items():
            by_pack.setdefault(entry.pack, []).append((blob_id, entry))
        self._uses = uses
        self._run_of: dict[str, _Run] = {}
        self._sequence: list[_Run] = []
        for pack in sorted(by_pack):  # the order of read_order
            blobs = sorted(by_pack[pack], key=lambda item: item[1].offset)
            for group in group_reads(blobs, limit=run_max):
                run = _Run(pack, min(e.offset for _, e in group),
                           max(e.offset + e.length for _, e in group),
                           sum(uses[b] for b, _ in group), len(self._sequence))
                self._sequence.append(run)
                for blob_id, _ in group:
                    self._run_of[blob_id] = run
        self._ahead: ThreadPoolExecutor | None = None
        self._started: set[int] = set()
        self._lock = threading.Lock()
        self._held: OrderedDict[int, _Run] = OrderedDict()
        self._held_bytes = 0
        self._reserved = 0  #: bytes of fetches in flight (room taken before they finish)
        self._released = False
        self.fetches = 0  #: runs fetched (for tests and benchmarks)

    def take(self, blob_id: str, entry: BlobEntry) -> bytes | memoryview | None:
        """The stored bytes of one planned use of a blob, or None: read it on its own."""
        run = self._run_of.get(blob_id)
        if run is None or entry.pack != run.pack:
            return None
        with self._lock:
            if self._uses[blob_id] <= 0:
                return None
            self._uses[blob_id] -= 1
        with run.lock:
            data = run.data  # a local: an eviction may drop the run's reference any time
            # the run being read reserves its room before the runs ahead take theirs
            fetch = data is None and not run.done and self._reserve(run)
            self._fetch_ahead(run.position)
            if data is None:
                if not fetch:
                    return None  # dropped, failed, or no room now: this use reads on its own
                data = self._fetch(run, blob_id)
                if data is None:
                    run.done = True
                    return None
            start = entry.offset - run.start
            cut = memoryview(data)[start:start + entry.length]
            run.uses -= 1
            if run.uses <= 0:
                self._drop(run)
            return cut

    def _fetch_ahead(self, position: int) -> None:
        with self._lock:
            if self._released:
                return
            wanted = [r for r in self._sequence[position + 1:position + 1 + AHEAD]
                      if r.position not in self._started]
            self._started.update(r.position for r in wanted)
            self._started.add(position)
            if wanted and self._ahead is None:
                self._ahead = ThreadPoolExecutor(max_workers=AHEAD,
                                                 thread_name_prefix="restic-ahead")
            pool = self._ahead
        for run in wanted:
            assert pool is not None
            pool.submit(self._prefetch, run)

    def _prefetch(self, run: _Run) -> None:
        with run.lock:
            if run.data is None and not run.done and self._reserve(run, evict=False):
                run.done = self._fetch(run, "") is None
            # else: no room now, fetched when it is read

    def _reserve(self, run: _Run, *, evict: bool = True) -> bool:
        """Room for a fetch of ``run``, counted with the runs held and the fetches in flight;
        for a run being read (``evict``) the oldest held runs are dropped to make it, a run
        fetched ahead never drops one. False: no room (or released)."""
        size = run.end - run.start
        # a fetch ahead leaves room for one more run: the run being read always finds room
        # once the held runs are dropped
        need = size if evict else size + self._run_max
        with self._lock:
            if self._released:
                return False
            while evict and self._held and \
                    self._held_bytes + self._reserved + need > self._held_max:
                _, oldest = self._held.popitem(last=False)
                self._held_bytes -= len(oldest.data or b"")
                oldest.data, oldest.done = None, True  # its later uses read on their own
            if self._held_bytes + self._reserved + need > self._held_max:
                return False
            self._reserved += size
            return True

    def _fetch(self, run: _Run, blob_id: str) -> bytes | None:
        """Fetch a run whose room is reserved; the reservation is given back whatever
        happens, and the bytes are held only while the plan is not released."""
        size = run.end - run.start
        data: bytes | None = None
        try:
            data = fetch_range(self._storage, blob_id, run.pack, run.start, size)
        except BlobError:
            pass
        finally:
            with self._lock:
                self._reserved -= size
                if data is not None:
                    self.fetches += 1
                    if not self._released:
                        run.data = data
                        self._held[id(run)] = run
                        self._held_bytes += len(data)
        return data

    def _drop(self, run: _Run) -> None:
        with self._lock:
            if self._held.pop(id(run), None) is not None:
                self._held_bytes -= len(run.data or b"")
        run.data, run.done = None, True

    def release(self) -> None:
        """Drop every held run; later uses read on their own, and a fetch still in flight
        hands its bytes to its own use only."""
        with self._lock:
            self._released = True
        if self._ahead is not None:
            self._ahead.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            runs = list(self._held.values())
            self._held.clear()
            self._held_bytes = 0
            self._uses.clear()
        for run in runs:
            run.data, run.done = None, True


def read_order(contents: Sequence[Sequence[tuple[str, BlobEntry]]]) -> list[int]:
    """Indexes of the files in the order that reads packs front to back (empty files first)."""
    def where(i: int) -> tuple[str, int]:
        blobs = contents[i]
        return (blobs[0][1].pack, blobs[0][1].offset) if blobs else ("", -1)
    return sorted(range(len(contents)), key=where)
