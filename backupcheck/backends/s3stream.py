"""Streamed, resumable reads of one S3 object version.

Small objects are one GetObject streamed in fixed-size chunks. Large ones are fetched as
ranged GETs by a few threads ahead of the reader (bounded prefetch, so memory stays at
``PREFETCH * PART_SIZE``) and handed over in order, so the caller hashes a single ordered
stream. A connection that breaks mid-body is resumed with a ranged GET from the offset
reached; each resume is counted in ``retries``. Only a defined set of transient errors is
retried; anything else, or too many resumes, raises with the last cause.
"""

from __future__ import annotations

import contextlib
import io
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import ProtocolError

from backupcheck.backends.base import FileMissing, FileUnreadable

CHUNK = 1024 * 1024
PART_SIZE = 8 * 1024 * 1024
#: objects at least this big are read as parallel ranged GETs
PARALLEL_THRESHOLD = 2 * PART_SIZE
PREFETCH = 4
MAX_RESUMES = 5

TRANSIENT = (ConnectionClosedError, EndpointConnectionError, IncompleteReadError,
             ReadTimeoutError, ResponseStreamingError, ProtocolError, ConnectionError)


class ResumeExhausted(OSError):
    """The object could not be read despite resuming; carries the last cause."""


class _RangeReader:
    """Reads ``[start, end)`` of one object version, resuming from the offset reached."""

    def __init__(self, s3: Any, bucket: str, key: str, version_id: str | None,
                 start: int, end: int | None) -> None:
        self.s3, self.bucket, self.key, self.version_id = s3, bucket, key, version_id
        self.offset, self.end = start, end
        self.retries = 0
        self.body: Any = None

    def _open(self) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key}
        if self.version_id and self.version_id != "null":
            kwargs["VersionId"] = self.version_id
        if self.offset or self.end is not None:
            last = "" if self.end is None else str(self.end - 1)
            kwargs["Range"] = f"bytes={self.offset}-{last}"
        try:
            self.body = self.s3.get_object(**kwargs)["Body"]
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            message = str(exc.response.get("Error", {}).get("Message", "")) or code
            if code in {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}:
                raise FileMissing(f"{self.key}: {code}") from None
            raise FileUnreadable(f"{self.key}: {code}: {message}") from None

    def read(self, size: int = CHUNK) -> bytes:
        if self.end is not None and self.offset >= self.end:
            return b""
        last_error: BaseException | None = None
        for _ in range(MAX_RESUMES + 1):
            try:
                if self.body is None:
                    self._open()
                data: bytes = self.body.read(size)
                self.offset += len(data)
                return data
            except TRANSIENT as exc:
                last_error = exc
                self._drop()
                self.retries += 1
            except BotoCoreError as exc:
                raise FileUnreadable(f"{self.key}: {exc}") from None
        raise ResumeExhausted(f"{self.key}: read failed after {MAX_RESUMES} resumes at byte "
                              f"{self.offset}: {last_error}") from last_error

    def read_chunks(self) -> list[bytes]:
        """The whole range as the chunks it arrived in.

        Not joined: a fresh multi-MiB buffer per part costs a page fault per 4 KiB (measured:
        more CPU than the hashing itself); the reader hands the chunks on as they are.
        """
        chunks = []
        while chunk := self.read(CHUNK):
            chunks.append(chunk)
        return chunks

    def _drop(self) -> None:
        if self.body is not None:
            # a broken body may fail to close; it is gone anyway
            with contextlib.suppress(Exception):
                self.body.close()
        self.body = None

    def close(self) -> None:
        self._drop()


class S3ObjectStream(io.RawIOBase):
    """A binary, read-only, forward-only stream of one object version."""

    def __init__(self, s3: Any, bucket: str, key: str, version_id: str | None,
                 size: int | None) -> None:
        super().__init__()
        self.s3, self.bucket, self.key, self.version_id = s3, bucket, key, version_id
        self._retries_done = 0
        self._single: _RangeReader | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[tuple[list[bytes], int]]] = deque()
        #: the part being read: its chunks, the first one possibly partly read already
        self._chunks: deque[bytes | memoryview] = deque()
        if size is not None and size >= PARALLEL_THRESHOLD:
            self._pool = ThreadPoolExecutor(max_workers=PREFETCH,
                                            thread_name_prefix="s3-range")
            self._ranges = iter([(start, min(start + PART_SIZE, size))
                                 for start in range(0, size, PART_SIZE)])
            for _ in range(PREFETCH):
                self._schedule()
        else:
            self._single = _RangeReader(s3, bucket, key, version_id, 0, None)

    @property
    def retries(self) -> int:
        single = self._single.retries if self._single else 0
        return self._retries_done + single

    def readable(self) -> bool:
        return True

    def _fetch(self, start: int, end: int) -> tuple[list[bytes], int]:
        reader = _RangeReader(self.s3, self.bucket, self.key, self.version_id, start, end)
        try:
            return reader.read_chunks(), reader.retries
        finally:
            reader.close()

    def _schedule(self) -> None:
        assert self._pool is not None
        part = next(self._ranges, None)
        if part is not None:
            self._pending.append(self._pool.submit(self._fetch, *part))

    def read(self, size: int | None = -1, /) -> bytes:
        if self._single is not None:
            return self._single.read(CHUNK if size is None or size < 0 else size)
        while not self._chunks:
            if not self._pending:
                return b""
            chunks, retries = self._pending.popleft().result()
            self._retries_done += retries
            self._schedule()
            self._chunks.extend(chunks)
        chunk = self._chunks[0]
        if size is None or size < 0 or size >= len(chunk):
            # the usual case (the reader asks for CHUNK): hand the chunk over without a copy
            self._chunks.popleft()
            return chunk if isinstance(chunk, bytes) else bytes(chunk)
        view = memoryview(chunk)
        self._chunks[0] = view[size:]
        return bytes(view[:size])

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._single is not None:
            self._single.close()
        if self._pool is not None:
            for future in self._pending:
                future.cancel()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pending.clear()
            self._chunks.clear()
        super().close()


def open_object(s3: Any, bucket: str, key: str, *, version_id: str | None = None,
                size: int | None = None) -> S3ObjectStream:
    return S3ObjectStream(s3, bucket, key, version_id, size)
