"""Blobs: fetched by byte range from their pack, authenticated, decompressed, and checked
against their SHA-256 id before a single byte is handed on.

:class:`FileStream` is the binary stream of one file's content. Neighbouring blobs of the file
that lie next to each other in one pack (restic writes a file's chunks in order) are fetched
with one ranged read of at most :data:`GROUP_MAX` bytes: on S3 and REST every request has a
fixed cost, and one read of 8 MiB costs far less than eight of 1 MiB. The stream keeps up to
:data:`READ_AHEAD_BYTES` of such reads in flight on the repository's thread pool (counted as
the plaintext they become, not the smaller compressed bytes fetched) and yields blobs in
order. Every blob of a read is still verified on its own; a damaged or missing blob surfaces
from ``read`` as :class:`BlobError` naming the blob and its pack.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from backupcheck.backends.base import FileUnreadable
from backupcheck.backends.resticrepo.compression import CompressionError, decompress
from backupcheck.backends.resticrepo.crypto import CryptoError, MasterKey, decrypt
from backupcheck.backends.resticrepo.index import BlobEntry, Index
from backupcheck.backends.resticrepo.storage import (
    Storage,
    StorageError,
    StorageMissing,
    layout_path,
)

#: the largest single ranged read of one file's neighbouring blobs
GROUP_MAX = 8 << 20
#: unused bytes allowed between two blobs of one read (blobs of files backed up alongside)
GROUP_GAP = 256 << 10
#: bytes of reads kept in flight per open file (at least one read)
READ_AHEAD_BYTES = 16 << 20


class BlobError(FileUnreadable):
    """A blob that cannot be read back intact: ``blob <id> in pack <id>: <why>``."""


def fetch_range(storage: Storage, blob_id: str, pack: str, offset: int, length: int) -> bytes:
    """``length`` stored bytes of a pack from ``offset``; BlobError names ``blob_id``."""
    where = f"blob {blob_id} in pack {pack}"
    try:
        return storage.read("data", pack, offset, length)
    except StorageMissing:
        raise BlobError(f"{where}: pack file {layout_path('data', pack)} is "
                        "missing") from None
    except StorageError as exc:
        raise BlobError(f"{where}: {exc}") from None


def open_blob(key: MasterKey, blob_id: str, entry: BlobEntry, sealed: bytes | memoryview) -> bytes:
    """The verified plaintext of one blob from its stored bytes; raises BlobError."""
    where = f"blob {blob_id} in pack {entry.pack}"
    try:
        plain = decrypt(key, sealed)
        if entry.uncompressed_length:
            plain = decompress(plain, entry.uncompressed_length)
    except (CryptoError, CompressionError) as exc:
        raise BlobError(f"{where}: {exc}") from None
    if hashlib.sha256(plain).hexdigest() != blob_id:
        raise BlobError(f"{where}: content does not match its SHA-256 id")
    return plain


def read_blob(storage: Storage, key: MasterKey, blob_id: str, entry: BlobEntry) -> bytes:
    """The verified plaintext of one blob, read on its own; raises BlobError."""
    sealed = fetch_range(storage, blob_id, entry.pack, entry.offset, entry.length)
    return open_blob(key, blob_id, entry, sealed)


Group = list[tuple[str, BlobEntry]]
#: stored bytes of a blob from a shared read (``runs.SharedRuns.take``), or None
Shared = Callable[[str, BlobEntry], "bytes | memoryview | None"]


def group_reads(blobs: Sequence[tuple[str, BlobEntry]], *, limit: int = GROUP_MAX,
                gap: int = GROUP_GAP) -> list[Group]:
    """A file's blobs, in order, cut into runs that one ranged read each can fetch.

    A run continues while the next blob lies in the same pack, the run's span (from its
    lowest to its highest byte; restic's concurrent savers may store neighbours swapped)
    and the plaintext the run becomes (a compressed blob may grow a hundredfold) stay within
    ``limit`` bytes each, and the bytes of that span that belong to no blob of the
    run (read and thrown away) stay within ``gap`` or half the span, whichever is more: a
    hole left by a swapped neighbour is usually filled by the next blob.
    """
    groups: list[Group] = []
    start = end = covered = plain = 0
    offsets: set[int] = set()
    for blob_id, entry in blobs:
        current = groups[-1] if groups else None
        if current is not None and entry.pack == current[-1][1].pack:
            low, high = min(start, entry.offset), max(end, entry.offset + entry.length)
            more = 0 if entry.offset in offsets else entry.length
            if high - low <= limit and plain + entry.plain_size <= limit \
                    and high - low - covered - more <= max(gap, (high - low) // 2):
                current.append((blob_id, entry))
                start, end, covered = low, high, covered + more
                plain += entry.plain_size
                offsets.add(entry.offset)
                continue
        groups.append([(blob_id, entry)])
        start, end, covered = entry.offset, entry.offset + entry.length, entry.length
        plain = entry.plain_size
        offsets = {entry.offset}
    return groups


def read_group(storage: Storage, key: MasterKey, group: Group) -> list[bytes]:
    """The verified plaintexts of one run of blobs, fetched with one ranged read."""
    if len(group) == 1:
        return [read_blob(storage, key, *group[0])]
    first_id, first = group[0]
    start = min(entry.offset for _, entry in group)
    end = max(entry.offset + entry.length for _, entry in group)
    span = memoryview(fetch_range(storage, first_id, first.pack, start, end - start))
    return [open_blob(key, blob_id, entry,
                      span[entry.offset - start:entry.offset - start + entry.length])
            for blob_id, entry in group]


def locate(index: Index, blob_id: str, kind: str) -> BlobEntry:
    """The index entry of a blob of ``kind`` (data/tree); raises BlobError when unknown."""
    entry = index.lookup(blob_id)
    if entry is None:
        raise BlobError(f"blob {blob_id}: not in any index file")
    if entry.type != kind:
        raise BlobError(f"blob {blob_id} in pack {entry.pack}: is a {entry.type} blob, "
                        f"expected {kind}")
    return entry


def read_shared(storage: Storage, key: MasterKey, group: Group, shared: Shared) -> list[bytes]:
    """Like :func:`read_group`, taking each blob from ``shared`` where it can."""
    sealed = [shared(blob_id, entry) for blob_id, entry in group]
    if all(s is None for s in sealed):
        return read_group(storage, key, group)
    return [open_blob(key, blob_id, entry, stored if stored is not None else
                      fetch_range(storage, blob_id, entry.pack, entry.offset, entry.length))
            for (blob_id, entry), stored in zip(group, sealed, strict=True)]


class FileStream:
    """The content of one file, blob by blob, each verified before it is returned."""

    def __init__(self, storage: Storage, key: MasterKey, index: Index,
                 content: Sequence[str], pool: ThreadPoolExecutor,
                 read_ahead: int = READ_AHEAD_BYTES, shared: Shared | None = None) -> None:
        self._storage, self._key, self._pool = storage, key, pool
        self._shared = shared
        self._index, self._content = index, content
        self._pending: deque[Group] | None = None  # grouped on the first read
        self._inflight: deque[tuple[int, Future[list[bytes]]]] = deque()
        self._inflight_bytes = 0
        self._read_ahead = read_ahead
        self._ready: deque[bytes] = deque()
        self._buffer = memoryview(b"")
        self._closed = False

    def _fill(self) -> None:
        if self._pending is None:  # an unknown blob is the first read's BlobError
            self._pending = deque(group_reads(
                [(b, locate(self._index, b, "data")) for b in self._content]))
        while self._pending and (not self._inflight
                                 or self._inflight_bytes < self._read_ahead):
            group = self._pending.popleft()
            size = sum(entry.plain_size for _, entry in group)  # what the read will hold
            if self._shared is None:
                future = self._pool.submit(read_group, self._storage, self._key, group)
            else:
                future = self._pool.submit(read_shared, self._storage, self._key, group,
                                           self._shared)
            self._inflight.append((size, future))
            self._inflight_bytes += size

    def _next_blob(self) -> bool:
        if not self._ready:
            self._fill()
            if not self._inflight:
                return False
            size, future = self._inflight.popleft()
            self._inflight_bytes -= size
            self._ready.extend(future.result())  # BlobError travels from the worker
            self._fill()
        self._buffer = memoryview(self._ready.popleft())
        return True

    def read(self, size: int = -1, /) -> bytes:
        if self._closed:
            raise ValueError("read of a closed stream")
        if size is None or size < 0:
            parts = [bytes(self._buffer)]
            while self._next_blob():
                parts.append(bytes(self._buffer))
            self._buffer = memoryview(b"")
            return b"".join(parts)
        while not self._buffer:
            if not self._next_blob():
                return b""
        if len(self._buffer) <= size and isinstance(self._buffer.obj, bytes) \
                and len(self._buffer.obj) == len(self._buffer):
            whole, self._buffer = self._buffer.obj, memoryview(b"")
            return whole  # a whole blob: handed on without a copy
        chunk, self._buffer = self._buffer[:size], self._buffer[size:]
        return bytes(chunk)

    def close(self) -> None:
        self._closed = True
        self._pending = deque()
        for _, future in self._inflight:
            future.cancel()
        self._inflight.clear()
        self._ready.clear()
        self._buffer = memoryview(b"")

    def __enter__(self) -> FileStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
