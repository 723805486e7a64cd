"""Building a manifest: walk a tree, hash its files (here or in a pool), write Parquet atomically.

The building process walks the tree and writes rows in walk order; the hashing of each batch of
walked entries runs in this process for a small tree and in a pool of processes otherwise (see
:mod:`backupcheck.manifest.pool` for the measurements behind that).
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from backupcheck.atomic import atomic_writer
from backupcheck.errors import UsageError
from backupcheck.manifest.batch import ByteMeter, hash_items
from backupcheck.manifest.pool import hash_in_pool, usable_cpus
from backupcheck.manifest.progress import ProgressFn, Ticker
from backupcheck.manifest.schema import ManifestStats
from backupcheck.manifest.walk import Walk, paths_inside
from backupcheck.manifest.write import Writer

#: files per task sent to a hashing process: ~6 ms of small files against ~0.2 ms of IPC
#: (128 measured 7 % more CPU in total than 512)
BATCH_ITEMS = 512
#: a tree this small is hashed in this process: starting a pool (~20 ms by fork) would cost
#: more (measured: 631 files, 69 MiB took 18 ms in this process, 38 ms with a pool)
SERIAL_MAX_FILES = 2048
SERIAL_MAX_BYTES = 256 << 20
#: a write of the manifest failed because its file system is full: bad input, not a bug
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def build_manifest(root: Path, out: Path, *, workers: int | None = None,
                   progress: ProgressFn | None = None) -> ManifestStats:
    """Hash every regular file and symlink under ``root`` into the manifest ``out``.

    ``out`` is written to a temporary name beside it, synced, then renamed: an interrupted
    build never leaves a half manifest. ``progress(files_done, bytes_done)`` is called from
    this thread about every 0.1 s. ``workers``: hashing processes (default: usable CPUs;
    1 hashes in this process). Raises :class:`UsageError` when ``root`` is not a readable
    directory or ``out`` cannot be written.

    When other Python threads are running, the pool starts by ``forkserver``, which (like
    ``spawn``) imports the caller's ``__main__`` again: scripts need the usual
    ``if __name__ == "__main__":`` guard then.
    """
    started = time.perf_counter()
    root_real = os.path.realpath(root)
    if not os.path.isdir(root_real):
        raise UsageError(f"{root}: not a directory")
    out = Path(out)
    walk = Walk(root_real, paths_inside(root_real, (out,)))
    workers = workers or usable_cpus()

    items = iter(walk)
    head = list(itertools.islice(items, SERIAL_MAX_FILES))
    serial = workers <= 1 or (len(head) < SERIAL_MAX_FILES
                              and _lstat_bytes(root_real, head) < SERIAL_MAX_BYTES)
    batches = _batches(itertools.chain(head, items))

    # the output is opened only after the head of the tree was walked, so a root that cannot
    # be read fails before anything is created; atomic_writer removes its temporary file on
    # any failure from here on, and renames it over ``out`` only after a complete write
    try:
        with contextlib.ExitStack() as output:
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
                sink = output.enter_context(atomic_writer(out))
            except OSError as exc:
                raise UsageError(f"{out}: cannot write manifest: {exc.strerror or exc}") from exc
            # the temporary file may lie inside the tree, in a directory not walked yet
            walk.also_skip(paths_inside(root_real, (Path(sink.name),)))
            writer = Writer(sink)
            ticker = Ticker(progress, writer)
            try:
                if serial:
                    method = "serial"
                    meter = ByteMeter(ticker.add_bytes)
                    for batch in batches:
                        writer.add(hash_items(root_real, batch, meter))
                        ticker.tick()
                else:
                    method = hash_in_pool(root_real, batches, workers, writer, ticker)
            except BaseException:
                with contextlib.suppress(Exception):  # the temp file is deleted anyway
                    writer.close()
                raise
            writer.close()
            ticker.tick(force=True)
    except OSError as exc:
        if exc.errno not in _DISK_FULL:
            raise
        # the temporary file is already removed; name the file the user asked for
        raise UsageError(f"{out}: cannot write manifest: {exc.strerror or exc}") from None

    unreadable = walk.unreadable + writer.unreadable
    return ManifestStats(out=out, files=writer.rows - writer.symlinks, bytes=writer.bytes,
                         symlinks=writer.symlinks, special=walk.special,
                         unreadable=tuple(sorted(unreadable)),
                         seconds=time.perf_counter() - started, method=method)


def _batches(items: Iterable[tuple[str, bool]]) -> Iterator[list[tuple[str, bool]]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, BATCH_ITEMS)):
        yield batch


def _lstat_bytes(root: str, items: Sequence[tuple[str, bool]]) -> int:
    total = 0
    for rel, _ in items:
        try:
            total += os.lstat(f"{root}/{rel}").st_size
        except OSError:
            pass
    return total
