"""Ground-truth manifests: hash a directory tree into Parquet at backup time, load one for a drill.

Glossary:
  manifest  a Parquet file with one row per regular file and per symlink under a root:
            ``path`` (relative to the root, ``/``-separated), ``size``, ``mtime_ns``,
            ``xxh3_128`` (32 lowercase hex digits) and ``kind`` (``file`` | ``symlink``), an
            extra column readers of the SPEC's four may ignore. Rows are sorted by ``path``.
  symlink   recorded, never followed: ``size`` is the length of the link's target string and
            ``xxh3_128`` the digest of that string, as tar and restic store a link.
  unreadable  a file that vanished, could not be opened or read, or changed while it was read:
            reported in :class:`ManifestStats`, never fatal, never given a row.

How the build is parallel, and why (measured on 2 cores with a warm page cache, see
``benchmarks/bench_manifest.py``): hashing costs next to nothing (xxh3 runs at ~39 GB/s);
a big file is bound by copying pages out of the cache, a small file by Python's per-file
work (~12 us of open/fstat/read/close). Two threads do not speed up small files (20,000
files: 0.31-0.39 s vs 0.26-0.29 s in one thread; every syscall hands the GIL over) nor big
ones (memory bound: ~0.19 s for 1.5 GiB either way), so files are hashed by a pool of
processes in batches (0.18 s for the same small files; 0.27 s vs 0.45 s for the whole
2.2 GiB tree), while this process walks the tree and writes Parquet. Results are written
in walk order, so the output is deterministic and streams with bounded memory.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import multiprocessing
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, NamedTuple, Protocol

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from backupcheck.errors import ConfigError, TargetUnavailable, UsageError

MANIFEST_SCHEMA: Final = pa.schema([
    pa.field("path", pa.string(), nullable=False),
    pa.field("size", pa.int64(), nullable=False),
    pa.field("mtime_ns", pa.int64(), nullable=False),
    pa.field("xxh3_128", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
])
REQUIRED_COLUMNS: Final = ("path", "size", "mtime_ns", "xxh3_128")
KIND_FILE: Final = "file"
KIND_SYMLINK: Final = "symlink"

#: network streams: 1 MiB reads keep Python's per-call cost small against slow producers
STREAM_CHUNK = 1 << 20
#: local files: a 64 KiB buffer stays in L2 between read() and the hash; 1 MiB measured 30 %
#: slower on a warm cache (the copy spills to RAM and the hash reads it back)
FILE_CHUNK = 1 << 16
#: files up to this size are read with one read() and hashed in one call
ONE_SHOT_MAX = 1 << 18
#: files per task sent to a hashing process: ~6 ms of small files against ~0.2 ms of IPC
#: (128 measured 7 % more CPU in total than 512)
BATCH_ITEMS = 512
#: tasks in flight; results wait to be written in walk order, so this bounds memory
#: (~50k rows, ~15 MB) when one huge file holds up the head of the queue
MAX_PENDING_BATCHES = 96
#: a tree this small is hashed in this process: starting a pool (~20 ms by fork) would cost
#: more (measured: 631 files, 69 MiB took 18 ms in this process, 38 ms with a pool)
SERIAL_MAX_FILES = 2048
SERIAL_MAX_BYTES = 256 << 20
ROW_GROUP_ROWS = 65536
PROGRESS_INTERVAL = 0.1
#: big files report hashed bytes this often, so progress moves during a 100 GiB image
_REPORT_BYTES = 32 << 20

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIGEST = r"^[0-9a-fA-F]{32}$"
_BAD_PATH = r"^$|^/|//|/$|(^|/)\.\.?(/|$)"


@dataclass(frozen=True)
class ManifestStats:
    """What a build wrote and what it could not."""

    out: Path
    files: int
    bytes: int
    symlinks: int
    #: FIFOs, sockets and device nodes: not backed-up data, skipped
    special: int
    #: (path relative to the root, reason); directories end in ``/``
    unreadable: tuple[tuple[str, str], ...]
    seconds: float
    #: ``serial`` or ``processes:<start method>x<workers>``: how the files were hashed
    method: str = "serial"


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    size: int
    mtime_ns: int
    xxh3_128: str
    kind: str = KIND_FILE


class Manifest:
    """A loaded manifest: the expected size, mtime and digest of each path."""

    def __init__(self, location: str, rows: dict[str, tuple[int, int, str, str]]) -> None:
        self.location = location
        self._rows = rows

    def lookup(self, path: str) -> ManifestEntry | None:
        row = self._rows.get(path)
        return None if row is None else ManifestEntry(*row)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, path: object) -> bool:
        return path in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)


class ReadableStream(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


# ---------------------------------------------------------------- hashing


def hash_stream(stream: ReadableStream, chunk: int = STREAM_CHUNK,
                on_chunk: Callable[[int], None] | None = None) -> tuple[str, int]:
    """xxh3-128 of everything ``stream`` yields: ``(32 lowercase hex digits, bytes read)``.

    ``on_chunk(n)`` is called after each chunk arrives (first call = time to first byte).
    """
    hasher = xxhash.xxh3_128()
    total = 0
    while data := stream.read(chunk):
        hasher.update(data)
        total += len(data)
        if on_chunk is not None:
            on_chunk(len(data))
    return hasher.hexdigest(), total


def hash_file(path: Path | str) -> tuple[str, int]:
    """xxh3-128 of a local file, symlinks followed: ``(digest, bytes read)``; OSError if not."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        return _hash_fd(fd, os.fstat(fd).st_size, None)
    finally:
        os.close(fd)


def _hash_fd(fd: int, size: int, report: Callable[[int], None] | None) -> tuple[str, int]:
    if size <= ONE_SHOT_MAX:
        data = os.read(fd, size + 1)
        if len(data) == size:  # the common case: one syscall, one hash call
            if report is not None:
                report(size)
            return xxhash.xxh3_128_hexdigest(data), size
        hasher, total = xxhash.xxh3_128(data), len(data)  # grew, shrank or short read
    else:
        hasher, total = xxhash.xxh3_128(), 0
    buffer = bytearray(FILE_CHUNK)
    view = memoryview(buffer)
    with open(fd, "rb", buffering=0, closefd=False) as raw:
        while n := raw.readinto(buffer):
            hasher.update(view[:n])
            total += n
            if report is not None:
                report(n)
    return hasher.hexdigest(), total


class _ByteMeter:
    """Adds up hashed bytes and hands them on in lumps (cheap per file, live for big files)."""

    __slots__ = ("pending", "sink")

    def __init__(self, sink: Callable[[int], None]) -> None:
        self.pending = 0
        self.sink = sink

    def add(self, n: int) -> None:
        self.pending += n
        if self.pending >= _REPORT_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.sink(self.pending)
            self.pending = 0


class _BatchResult(NamedTuple):
    paths: list[str]
    sizes: list[int]
    mtimes: list[int]
    digests: list[str]
    kinds: list[str]
    unreadable: list[tuple[str, str]]


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "vanished before it could be read"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "replaced by a symlink while the tree was walked"
    return exc.strerror or str(exc)


def _hash_items(root: str, items: Sequence[tuple[str, bool]], meter: _ByteMeter) -> _BatchResult:
    """Hash one batch of walked entries (``(relative path, is_symlink)``)."""
    result = _BatchResult([], [], [], [], [], [])
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
                    digest, size = _hash_fd(fd, st.st_size, meter.add)
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
            result.unreadable.append((rel, _reason(exc)))
            continue
        result.paths.append(rel)
        result.sizes.append(size)
        result.mtimes.append(st.st_mtime_ns)
        result.digests.append(digest)
        result.kinds.append(kind)
    meter.flush()
    return result


# A pool worker's progress counters shared with the parent: [rows done, bytes hashed]
# (a multiprocessing.Array), set by the worker's initializer.
_worker_counters: Any = None


def _init_worker(counters: Any) -> None:
    global _worker_counters
    _worker_counters = counters


def _add_worker_bytes(n: int) -> None:
    with _worker_counters.get_lock():
        _worker_counters[1] += n


def _hash_batch_in_worker(root: str, items: Sequence[tuple[str, bool]]) -> _BatchResult:
    result = _hash_items(root, items, _ByteMeter(_add_worker_bytes))
    with _worker_counters.get_lock():
        _worker_counters[0] += len(result.paths)
    return result


# ---------------------------------------------------------------- walking


_FILE, _LINK, _DIR = 0, 1, 2


class _Walk:
    """Iterative walk that never follows symlinks, yielding ``(relative path, is_symlink)``.

    Entries are sorted per directory with directories keyed ``name/``, which makes the
    whole sequence sorted by path (code point order, as Parquet/Arrow compare UTF-8).
    """

    def __init__(self, root: str, skip: frozenset[str]) -> None:
        self.root = root
        self.skip = skip
        self.unreadable: list[tuple[str, str]] = []
        self.special = 0

    def __iter__(self) -> Iterator[tuple[str, bool]]:
        stack = [("", iter(self._list(self.root, "")))]
        while stack:
            prefix, entries = stack[-1]
            for key, kind in entries:
                if kind == _DIR:
                    sub = prefix + key
                    stack.append((sub, iter(self._list(f"{self.root}/{sub[:-1]}", sub))))
                    break
                rel = prefix + key
                if rel not in self.skip:
                    yield rel, kind == _LINK
            else:
                stack.pop()

    def _list(self, directory: str, rel: str) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    name = entry.name
                    if not name.isascii() and not _is_utf8(name):
                        raw = os.fsencode(rel + name).decode("utf-8", "backslashreplace")
                        self.unreadable.append((raw, "name is not valid UTF-8; not recorded"))
                        continue
                    try:
                        if entry.is_symlink():
                            found.append((name, _LINK))
                        elif entry.is_dir(follow_symlinks=False):
                            found.append((name + "/", _DIR))
                        elif entry.is_file(follow_symlinks=False):
                            found.append((name, _FILE))
                        else:
                            self.special += 1
                    except OSError as exc:
                        self.unreadable.append((rel + name, _reason(exc)))
        except OSError as exc:
            if not rel:
                raise UsageError(f"{self.root}: cannot read directory: {_reason(exc)}") from exc
            self.unreadable.append((rel, _reason(exc)))
        found.sort()
        return found


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as lone surrogates
        return False
    return True


def _batches(items: Iterable[tuple[str, bool]]) -> Iterator[list[tuple[str, bool]]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, BATCH_ITEMS)):
        yield batch


# ---------------------------------------------------------------- building


class _Writer:
    """Buffers rows and writes them to Parquet one row group at a time."""

    def __init__(self, sink: IO[bytes]) -> None:
        self._writer = pq.ParquetWriter(sink, MANIFEST_SCHEMA, compression="zstd",
                                        use_dictionary=["kind"])
        self._columns: tuple[list[Any], ...] = ([], [], [], [], [])
        self.rows = self.bytes = self.symlinks = 0
        self.unreadable: list[tuple[str, str]] = []

    def add(self, result: _BatchResult) -> None:
        values_by_column: tuple[list[Any], ...] = (
            result.paths, result.sizes, result.mtimes, result.digests, result.kinds)
        for column, values in zip(self._columns, values_by_column, strict=True):
            column.extend(values)
        self.unreadable.extend(result.unreadable)
        self.rows += len(result.paths)
        self.bytes += sum(result.sizes)
        if links := result.kinds.count(KIND_SYMLINK):  # rare: only then look for them
            self.symlinks += links
            self.bytes -= sum(size for size, kind in zip(result.sizes, result.kinds, strict=True)
                              if kind == KIND_SYMLINK)
        if len(self._columns[0]) >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        arrays = [pa.array(values, type=field.type)
                  for values, field in zip(self._columns, MANIFEST_SCHEMA, strict=True)]
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=MANIFEST_SCHEMA))
        for column in self._columns:
            column.clear()

    def close(self) -> None:
        if self._columns[0]:
            self._flush()
        self._writer.close()


ProgressFn = Callable[[int, int], None]


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
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    walk = _Walk(root_real, _paths_inside(root_real, (out, tmp)))
    workers = workers or _usable_cpus()

    items = iter(walk)
    head = list(itertools.islice(items, SERIAL_MAX_FILES))
    serial = workers <= 1 or (len(head) < SERIAL_MAX_FILES
                              and _lstat_bytes(root_real, head) < SERIAL_MAX_BYTES)
    batches = _batches(itertools.chain(head, items))

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        sink = open(tmp, "wb")  # closed by the with below, after fsync
    except OSError as exc:
        raise UsageError(f"{out}: cannot write manifest: {exc.strerror or exc}") from exc
    try:
        with sink:
            writer = _Writer(sink)
            ticker = _Ticker(progress, writer)
            try:
                if serial:
                    method = "serial"
                    meter = _ByteMeter(ticker.add_bytes)
                    for batch in batches:
                        writer.add(_hash_items(root_real, batch, meter))
                        ticker.tick()
                else:
                    method = _hash_in_pool(root_real, batches, workers, writer, ticker)
            except BaseException:
                with contextlib.suppress(Exception):  # the temp file is deleted anyway
                    writer.close()
                raise
            writer.close()
            ticker.tick(force=True)
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(tmp, out)
        _fsync_dir(out.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

    unreadable = walk.unreadable + writer.unreadable
    return ManifestStats(out=out, files=writer.rows - writer.symlinks, bytes=writer.bytes,
                         symlinks=writer.symlinks, special=walk.special,
                         unreadable=tuple(sorted(unreadable)),
                         seconds=time.perf_counter() - started, method=method)


class _Ticker:
    """Calls ``progress`` at most every PROGRESS_INTERVAL (or when forced)."""

    def __init__(self, progress: ProgressFn | None, writer: _Writer) -> None:
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


def _hash_in_pool(root: str, batches: Iterator[list[tuple[str, bool]]], workers: int,
                  writer: _Writer, ticker: _Ticker) -> str:
    context = _pool_context()
    counters = context.Array("q", 2)
    ticker.source = lambda: (int(counters[0]), int(counters[1]))
    pending: deque[Future[_BatchResult]] = deque()

    def write_head() -> None:
        head = pending[0]
        while not wait([head], timeout=PROGRESS_INTERVAL).done:
            ticker.tick()
        pending.popleft()
        writer.add(head.result())
        ticker.tick()

    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                               initargs=(counters,))
    try:
        for batch in batches:
            pending.append(pool.submit(_hash_batch_in_worker, root, batch))
            while pending and (len(pending) >= MAX_PENDING_BATCHES or pending[0].done()):
                write_head()
        while pending:
            write_head()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return f"processes:{context.get_start_method()}x{workers}"


def _pool_context() -> multiprocessing.context.BaseContext:
    """How to start hashing processes.

    ``fork`` starts in milliseconds; ``forkserver`` and ``spawn`` re-import this module and
    pyarrow in a fresh interpreter (~0.2 s per build). Fork is only unsafe when another
    *Python* thread may hold a lock the child then needs; the child here only runs
    :func:`_hash_items` (os, xxhash, pickle) and never calls into pyarrow, whose native
    threads are fork-aware. So: fork when this is the only Python thread, else forkserver.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _paths_inside(root: str, paths: Iterable[Path]) -> frozenset[str]:
    """The given paths relative to ``root``, for those inside it (so a build skips its output)."""
    inside = set()
    for path in paths:
        real = os.path.join(os.path.realpath(path.parent), path.name)
        rel = os.path.relpath(real, root)
        if not rel.startswith(".."):
            inside.add(rel.replace(os.sep, "/"))
    return frozenset(inside)


def _lstat_bytes(root: str, items: Sequence[tuple[str, bool]]) -> int:
    total = 0
    for rel, _ in items:
        try:
            total += os.lstat(f"{root}/{rel}").st_size
        except OSError:
            pass
    return total


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename still happened
    finally:
        os.close(fd)


# ---------------------------------------------------------------- loading


def load_manifest(location: str, *, base_dir: Path | None,
                  s3_client_factory: Callable[[], Any] | None = None) -> Manifest:
    """Load and strictly validate a manifest from a local path or an ``s3://bucket/key`` URL.

    A relative local path is resolved against ``base_dir`` (the targets directory). Every
    malformed manifest raises :class:`ConfigError` naming the file, the column and the
    problem; an S3 manifest that cannot be fetched (denied, unreachable) raises
    :class:`TargetUnavailable`. Digests are normalised to lowercase.
    """
    if location.startswith("s3://"):
        data = _fetch_s3(location, s3_client_factory)
        table = _read_parquet(pa.BufferReader(data), location)
        where = location
    else:
        path = Path(location).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        where = str(path)
        if not path.is_file():
            raise ConfigError(where, "manifest file not found")
        table = _read_parquet(where, where)
    return Manifest(where, _validated_rows(table, where))


def _fetch_s3(location: str, factory: Callable[[], Any] | None) -> bytes:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = location.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise ConfigError(location, "expected s3://bucket/key")
    if factory is None:
        from backupcheck.backends.s3guard import make_s3_client

        factory = make_s3_client
    try:
        body = factory().get_object(Bucket=bucket, Key=key)["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "NoSuchBucket", "404", "NotFound"):
            raise ConfigError(location, f"manifest object not found ({code})") from exc
        raise TargetUnavailable(f"{location}: cannot fetch manifest: {code or exc}") from exc
    except BotoCoreError as exc:
        raise TargetUnavailable(f"{location}: cannot fetch manifest: {exc}") from exc
    return data


def _read_parquet(source: Any, where: str) -> Any:
    try:
        return pq.read_table(source)
    except (pa.ArrowException, OSError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(where, f"not a readable Parquet file (truncated or another format): "
                          f"{detail}") from exc


def _validated_rows(table: Any, where: str) -> dict[str, tuple[int, int, str, str]]:
    import pyarrow.compute as pc  # here, not at the top: a build does not need its 50 ms

    names = table.schema.names
    for name in (*REQUIRED_COLUMNS, "kind"):
        if names.count(name) > 1:
            raise ConfigError(where, "column appears more than once", key=name)
    for name in REQUIRED_COLUMNS:
        if name not in names:
            raise ConfigError(where, "missing column (a manifest needs path, size, mtime_ns, "
                              "xxh3_128)", key=name)
    paths = _column(table, "path", where, text=True)
    sizes = _column(table, "size", where, text=False)
    mtimes = _column(table, "mtime_ns", where, text=False)
    digests = _column(table, "xxh3_128", where, text=True)

    bad = _first_true(pc.invert(pc.match_substring_regex(digests, _DIGEST)))
    if bad is not None:
        raise ConfigError(where, f"row {bad}: {digests[bad].as_py()!r} is not 32 hexadecimal "
                          "digits", key="xxh3_128")
    bad = _first_true(pc.less(sizes, 0))
    if bad is not None:
        raise ConfigError(where, f"row {bad}: negative size {sizes[bad].as_py()}", key="size")
    bad = _first_true(pc.match_substring_regex(paths, _BAD_PATH))
    if bad is not None:
        value = paths[bad].as_py()
        raise ConfigError(where, f"row {bad}: {_path_problem(value)}: {value!r}", key="path")

    if "kind" in names:
        kinds_column = _column(table, "kind", where, text=True)
        bad = _first_true(pc.invert(pc.is_in(kinds_column,
                                             value_set=pa.array([KIND_FILE, KIND_SYMLINK]))))
        if bad is not None:
            raise ConfigError(where, f"row {bad}: {kinds_column[bad].as_py()!r} is not "
                              "'file' or 'symlink'", key="kind")
        kinds = [KIND_SYMLINK if link else KIND_FILE
                                for link in pc.equal(kinds_column, KIND_SYMLINK).to_pylist()]
    else:
        kinds = [KIND_FILE] * len(table)

    path_list = paths.to_pylist()
    rows = dict(zip(path_list, zip(sizes.to_pylist(), mtimes.to_pylist(),
                                   pc.ascii_lower(digests).to_pylist(), kinds, strict=True),
                    strict=True))
    if len(rows) != len(path_list):
        seen: set[str] = set()
        for index, path in enumerate(path_list):
            if path in seen:
                raise ConfigError(where, f"row {index}: duplicate path {path!r}", key="path")
            seen.add(path)
    return rows


def _column(table: Any, name: str, where: str, *, text: bool) -> Any:
    import pyarrow.compute as pc

    column = table.column(name)
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if text:
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or getattr(pa.types, "is_string_view", lambda _: False)(kind)):
            raise ConfigError(where, f"has type {kind}, expected string", key=name)
    elif pa.types.is_integer(kind):
        try:
            column = column.cast(pa.int64())  # safe cast: refuses uint64 values beyond int64
        except pa.ArrowInvalid as exc:
            raise ConfigError(where, f"values do not fit int64: {exc}", key=name) from exc
    else:
        raise ConfigError(where, f"has type {kind}, expected int64", key=name)
    if column.null_count:
        first = _first_true(pc.is_null(column))
        raise ConfigError(where, f"{column.null_count} null value(s), first at row {first}",
                          key=name)
    return column


def _first_true(mask: Any) -> int | None:
    """Index of the first true value of a boolean array (nulls count as false), or None."""
    import pyarrow.compute as pc

    if not pc.any(mask).as_py():
        return None
    index: int = pc.index(pc.fill_null(mask, False), True).as_py()
    return index


def _path_problem(path: str) -> str:
    if not path:
        return "empty path"
    if path.startswith("/"):
        return "absolute path (paths are relative to the backed-up root)"
    if ".." in path.split("/"):
        return "path contains a '..' segment"
    return "path is not normalised ('.' or empty segment)"
