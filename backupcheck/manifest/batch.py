"""Hashing one batch of walked entries into manifest rows: the unit of work of a build.

It runs in the building process or in a pool worker, and calls only into ``os`` and
``xxhash``, never into pyarrow (which is what makes a forked worker safe, see
:func:`backupcheck.manifest.pool.pool_context`). A file that changes, vanishes or turns into
something else between the walk and the read is reported as unreadable, never hashed into a
wrong row.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from typing import NamedTuple

import xxhash

from backupcheck.manifest.hashing import ONE_SHOT_MAX, hash_fd
from backupcheck.manifest.schema import KIND_FILE, KIND_SYMLINK
from backupcheck.manifest.walk import os_error_reason

#: big files report hashed bytes this often, so progress moves during a 100 GiB image
REPORT_BYTES = 32 << 20

#: O_NOFOLLOW: a file swapped for a symlink after the walk is refused, not followed;
#: O_NONBLOCK: a file swapped for a FIFO does not hang the open
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class ByteMeter:
    """Adds up hashed bytes and hands them on in lumps (cheap per file, live for big files)."""

    __slots__ = ("pending", "sink")

    def __init__(self, sink: Callable[[int], None]) -> None:
        self.pending = 0
        self.sink = sink

    def add(self, n: int) -> None:
        self.pending += n
        if self.pending >= REPORT_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.sink(self.pending)
            self.pending = 0


class BatchResult(NamedTuple):
    """The rows of one batch, column by column, and what could not be read."""

    paths: list[str]
    sizes: list[int]
    mtimes: list[int]
    digests: list[str]
    kinds: list[str]
    unreadable: list[tuple[str, str]]


def hash_items(root: str, items: Sequence[tuple[str, bool]], meter: ByteMeter) -> BatchResult:
    """Hash one batch of walked entries (``(relative path, is_symlink)``)."""
    result = BatchResult([], [], [], [], [], [])
    for rel, is_link in items:
        full = f"{root}/{rel}"
        try:
            if is_link:
                st = os.lstat(full)
                if not stat.S_ISLNK(st.st_mode):
                    result.unreadable.append((rel, "changed type while the tree was walked"))
                    continue
                target = os.readlink(os.fsencode(full))
                digest, size, kind = xxhash.xxh3_128_hexdigest(target), len(target), KIND_SYMLINK
            else:
                fd = os.open(full, _OPEN_FLAGS)
                try:
                    st = os.fstat(fd)
                    if not stat.S_ISREG(st.st_mode):
                        result.unreadable.append((rel, "no longer a regular file"))
                        continue
                    digest, size = hash_fd(fd, st.st_size, meter.add)
                    if size > ONE_SHOT_MAX:  # a long read: did the file change meanwhile?
                        after = os.fstat(fd)
                        changed = (after.st_size, after.st_mtime_ns) != (size, st.st_mtime_ns)
                    else:
                        changed = size != st.st_size
                finally:
                    os.close(fd)
                if changed:
                    result.unreadable.append((rel, "changed while it was read"))
                    continue
                kind = KIND_FILE
        except OSError as exc:
            result.unreadable.append((rel, os_error_reason(exc)))
            continue
        result.paths.append(rel)
        result.sizes.append(size)
        result.mtimes.append(st.st_mtime_ns)
        result.digests.append(digest)
        result.kinds.append(kind)
    meter.flush()
    return result
