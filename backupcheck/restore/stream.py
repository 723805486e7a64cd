"""Streaming one sampled file through the hasher: bytes in, digest and timings out.

Nothing touches the disk. A watchdog closes a stream that delivers no byte for
``idle_timeout`` seconds (a hung ``restic dump``, a stalled connection), so one bad file
costs at most that long and never blocks the drill.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import xxhash

from backupcheck.backends.base import ByteStream, CatalogEntry, FileMissing
from backupcheck.errors import BackupcheckError
from backupcheck.model import FileOutcome, FileResult
from backupcheck.restore.truth import Expected

CHUNK = 1024 * 1024
DEFAULT_IDLE_TIMEOUT = float(os.environ.get("BACKUPCHECK_FILE_IDLE_TIMEOUT", "120"))


@dataclass
class _Watched:
    stream: ByteStream
    last_progress: float
    timed_out: bool = False


class Watchdog:
    """One thread per drill that closes streams idle for longer than ``idle_timeout``."""

    def __init__(self, idle_timeout: float = DEFAULT_IDLE_TIMEOUT) -> None:
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._watched: dict[int, _Watched] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="restore-watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = min(1.0, self.idle_timeout / 4)
        while not self._stop.wait(interval):
            now = time.monotonic()
            with self._lock:
                stale = [w for w in self._watched.values()
                         if not w.timed_out and now - w.last_progress > self.idle_timeout]
                for watched in stale:
                    watched.timed_out = True
            for watched in stale:
                # closing a hung stream is best effort; the reader sees the timeout flag
                with contextlib.suppress(Exception):
                    watched.stream.close()

    def watch(self, stream: ByteStream) -> _Watched:
        watched = _Watched(stream, time.monotonic())
        with self._lock:
            self._watched[id(watched)] = watched
        return watched

    def progress(self, watched: _Watched) -> None:
        watched.last_progress = time.monotonic()

    def forget(self, watched: _Watched) -> None:
        with self._lock:
            self._watched.pop(id(watched), None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def restore_one(open_stream: Callable[[], ByteStream], entry: CatalogEntry,
                expected: Expected | None, watchdog: Watchdog, note: str = "",
                on_bytes: Callable[[int], None] | None = None) -> FileResult:
    """Stream ``entry`` through xxh3-128 and judge it against ``expected``; ``note`` says
    why there is no ``expected`` (it becomes an unproven file's detail). ``on_bytes`` is
    told of every chunk received (the drill's progress bar)."""
    hasher = xxhash.xxh3_128()
    received = 0
    retries = 0
    started = time.monotonic()
    first_byte: float | None = None
    watched: _Watched | None = None

    def result(kind: FileOutcome, detail: str = "") -> FileResult:
        end = time.monotonic()
        first = first_byte if first_byte is not None else end
        return FileResult(
            path=entry.path, size=entry.size, bytes=received, seconds=end - first,
            ttfb_seconds=first - started, result=kind,
            xxh3_128=hasher.hexdigest() if kind.restored else "",
            expected_xxh3_128=expected.digest if expected else "",
            truth=expected.source if expected else "", retries=retries, detail=detail)

    stream: ByteStream | None = None
    try:
        stream = open_stream()
        watched = watchdog.watch(stream)
        while True:
            # the first read asks for one byte: a read blocks until its size is filled, so a
            # big first read would count a small file's whole transfer as time to first byte
            chunk = stream.read(CHUNK if first_byte is not None else 1)
            if first_byte is None:
                first_byte = time.monotonic()
            if not chunk:
                break
            hasher.update(chunk)
            received += len(chunk)
            watchdog.progress(watched)
            if on_bytes is not None:
                on_bytes(len(chunk))
        retries = int(getattr(stream, "retries", 0))
        if watched.timed_out:
            return result(FileOutcome.UNREADABLE,
                          f"no data for {watchdog.idle_timeout:.0f}s: timed out")
    except FileMissing as exc:
        return result(FileOutcome.MISSING, _one_line(exc))
    except (BackupcheckError, OSError, ValueError) as exc:
        if watched is not None and watched.timed_out:
            return result(FileOutcome.UNREADABLE,
                          f"no data for {watchdog.idle_timeout:.0f}s: timed out")
        return result(FileOutcome.UNREADABLE, _one_line(exc))
    finally:
        if watched is not None:
            watchdog.forget(watched)
        if stream is not None:
            # a read error was already judged above; closing is cleanup only
            with contextlib.suppress(Exception):
                stream.close()
    digest = hasher.hexdigest()
    if expected is None:
        if received != entry.size:
            return result(FileOutcome.SIZE, f"listed size {entry.size}, restored {received} bytes")
        return result(FileOutcome.UNPROVEN, note)
    if expected.size is not None and received != expected.size:
        return result(FileOutcome.SIZE, f"expected {expected.size} bytes, restored {received}")
    if digest != expected.digest:
        return result(FileOutcome.DIGEST)
    return result(FileOutcome.OK)
