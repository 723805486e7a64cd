"""Blobs: fetched by byte range from their pack, authenticated, decompressed, and checked
against their SHA-256 id before a single byte is handed on.

:class:`FileStream` is the binary stream of one file's content: it keeps a bounded number of
blob reads in flight on the repository's thread pool (parallel ranged reads on S3 and REST)
and yields them in order. A damaged or missing blob surfaces from ``read`` as
:class:`BlobError` naming the blob and its pack.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Sequence
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

#: blob reads kept in flight per open file
READ_AHEAD = 8


class BlobError(FileUnreadable):
    """A blob that cannot be read back intact: ``blob <id> in pack <id>: <why>``."""


def read_blob(storage: Storage, key: MasterKey, blob_id: str, entry: BlobEntry) -> bytes:
    """The verified plaintext of one blob; raises BlobError."""
    where = f"blob {blob_id} in pack {entry.pack}"
    try:
        sealed = storage.read("data", entry.pack, entry.offset, entry.length)
        plain = decrypt(key, sealed)
        if entry.uncompressed_length:
            plain = decompress(plain, entry.uncompressed_length)
    except StorageMissing:
        raise BlobError(f"{where}: pack file {layout_path('data', entry.pack)} is "
                        "missing") from None
    except (StorageError, CryptoError, CompressionError) as exc:
        raise BlobError(f"{where}: {exc}") from None
    if hashlib.sha256(plain).hexdigest() != blob_id:
        raise BlobError(f"{where}: content does not match its SHA-256 id")
    return plain


def locate(index: Index, blob_id: str, kind: str) -> BlobEntry:
    """The index entry of a blob of ``kind`` (data/tree); raises BlobError when unknown."""
    entry = index.lookup(blob_id)
    if entry is None:
        raise BlobError(f"blob {blob_id}: not in any index file")
    if entry.type != kind:
        raise BlobError(f"blob {blob_id} in pack {entry.pack}: is a {entry.type} blob, "
                        f"expected {kind}")
    return entry


class FileStream:
    """The content of one file, blob by blob, each verified before it is returned."""

    def __init__(self, storage: Storage, key: MasterKey, index: Index,
                 content: Sequence[str], pool: ThreadPoolExecutor,
                 read_ahead: int = READ_AHEAD) -> None:
        self._storage, self._key, self._index, self._pool = storage, key, index, pool
        self._pending = deque(content)
        self._inflight: deque[Future[bytes]] = deque()
        self._read_ahead = max(1, read_ahead)
        self._buffer = memoryview(b"")
        self._closed = False

    def _fetch(self, blob_id: str) -> bytes:
        return read_blob(self._storage, self._key, blob_id, locate(self._index, blob_id, "data"))

    def _fill(self) -> None:
        while self._pending and len(self._inflight) < self._read_ahead:
            self._inflight.append(self._pool.submit(self._fetch, self._pending.popleft()))

    def _next_blob(self) -> bool:
        self._fill()
        if not self._inflight:
            return False
        data = self._inflight.popleft().result()  # BlobError travels from the worker
        self._fill()
        self._buffer = memoryview(data)
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
        chunk, self._buffer = self._buffer[:size], self._buffer[size:]
        return bytes(chunk)

    def close(self) -> None:
        self._closed = True
        self._pending.clear()
        for future in self._inflight:
            future.cancel()
        self._inflight.clear()
        self._buffer = memoryview(b"")

    def __enter__(self) -> FileStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
