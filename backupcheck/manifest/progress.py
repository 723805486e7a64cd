"""A build's progress calls: ``progress(files_done, bytes_done)`` a few times a second."""

from __future__ import annotations

import time
from collections.abc import Callable

from backupcheck.manifest.write import Writer

ProgressFn = Callable[[int, int], None]

PROGRESS_INTERVAL = 0.1


class Ticker:
    """Calls ``progress`` at most every PROGRESS_INTERVAL (or when forced)."""

    def __init__(self, progress: ProgressFn | None, writer: Writer) -> None:
        self.progress = progress
        self.bytes_done = 0
        #: (rows done, bytes done) so far; a pool counts in its workers, ahead of the writer
        self.source: Callable[[], tuple[int, int]] = lambda: (writer.rows, self.bytes_done)
        self._last = 0.0

    def add_bytes(self, n: int) -> None:
        self.bytes_done += n
        self.tick()

    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.progress is not None and (force or now - self._last >= PROGRESS_INTERVAL):
            self._last = now
            self.progress(*self.source())
