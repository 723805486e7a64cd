"""``restic dump`` of one file as a byte stream that never ends in a silent short read."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from backupcheck.backends.base import FileMissing, FileUnreadable
from backupcheck.backends.restic_output import first_line
from backupcheck.backends.restic_process import Child


class DumpStream:
    """``restic dump`` of one file as a binary reader (see ``base.ByteStream``).

    At EOF the exit code is judged: "not found in snapshot" raises FileMissing, any other
    failure FileUnreadable with restic's message, so a broken restore is never a short read.
    ``close()`` before the end kills and reaps restic; it may be called from another thread
    (a watchdog) while a read is blocked.
    """

    retries = 0

    def __init__(self, child: Child, snapshot_id: str, path: str,
                 scrub: Callable[[str], str]) -> None:
        self._child, self._snapshot, self._path, self._scrub = child, snapshot_id, path, scrub
        self._finished = False
        self._error: Exception | None = None
        self.bytes_read = 0

    def read(self, size: int = -1, /) -> bytes:
        if self._error is not None:
            raise self._error
        if self._finished or size == 0:
            return b""
        if self._child.stopped:
            self._fail(FileUnreadable(self._stopped_reason()))
        data = self._child.read(size)
        if data:
            self.bytes_read += len(data)
            return data
        self._judge_exit()
        return b""

    def _stopped_reason(self) -> str:
        if self._child.timed_out:
            return (f"restic dump sent no data for {self._child.timeout:.0f}s "
                    f"after {self.bytes_read} bytes; killed")
        return f"restic dump was closed after {self.bytes_read} bytes"

    def _fail(self, error: Exception) -> NoReturn:
        self._error = error
        self._child.stop()
        raise error

    def _judge_exit(self) -> None:
        code = self._child.wait()
        self._child.stop()
        if self._child.stopped_early:
            self._fail(FileUnreadable(self._stopped_reason()))
        if code == 0:
            self._finished = True
            return
        stderr = self._scrub(self._child.stderr_text())
        if "not found in snapshot" in stderr:
            self._fail(FileMissing(f"{self._path} not found in snapshot {self._snapshot[:8]}"))
        self._fail(FileUnreadable(f"restic dump failed (exit {code}): {first_line(stderr)}"))

    def close(self) -> None:
        self._child.stop()

    def __enter__(self) -> DumpStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
