"""Writing a file so that readers see the old one or the whole new one, never a half.

Every file the tool writes for keeps (history, manifests, inventories, audit packs) goes
through :func:`atomic_writer`: the bytes go to a hidden temporary name in the same directory,
are synced, and are renamed over the final name; on any failure the temporary file is removed
and the final name is untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def sync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # best effort: the rename itself has happened
            os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(final: Path, suffix: str = ".tmp") -> Path:
    """A hidden name beside ``final`` that no reader of ``final``'s pattern picks up."""
    return final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}")


@contextlib.contextmanager
def atomic_writer(final: Path, *, fsync: bool = True) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``final`` when the block ends without error."""
    temp = temp_name(final)
    try:
        with open(temp, "wb") as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(temp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        raise
    if fsync:
        sync_dir(final.parent)


def write_atomic(final: Path, data: bytes, *, fsync: bool = True) -> None:
    """``data`` as the whole new content of ``final`` (see :func:`atomic_writer`)."""
    with atomic_writer(final, fsync=fsync) as handle:
        handle.write(data)
