"""The history store: append drills as new Parquet files, compact them, read them back.

Each file is written through :func:`backupcheck.atomic.atomic_writer` under a hidden
temporary name in its final directory (``.NAME.parquet.….tmp``: readers skip names that
start with ``.``, and the name does not end in ``.parquet``) and renamed into place, so a
drill killed at any moment leaves earlier history exactly as it was. Reading costs about a
millisecond per file, so a client's files are merged once there are more than
``COMPACT_AFTER`` of them: the merged file is complete before the files it replaces are
removed (see :meth:`HistoryStore.compact`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from backupcheck.atomic import atomic_writer, sync_dir
from backupcheck.clock import as_utc
from backupcheck.errors import HistoryError
from backupcheck.history.rows import findings_from_report, rows_from_report
from backupcheck.history.schema import (
    FILES_SCHEMA,
    FINDINGS_SCHEMA,
    KEYS,
    PARTITION,
    PARTITIONING,
    RUNS_SCHEMA,
    SCHEMAS,
    TIMESTAMP,
    file_schema,
    partition_dir,
)
from backupcheck.model import RunReport

log = logging.getLogger(__name__)

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_REQUIRED = ("run_id", "started_at", PARTITION, "target")
#: a partition holding more run files than this is merged into one file after an append
COMPACT_AFTER = 8
COMPACTED_PREFIX = "compacted-"


@contextlib.contextmanager
def _exclusive(root: Path) -> Iterator[bool]:
    """A non-blocking lock on ``root/.compact.lock``: yields whether this process holds it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no concurrent drills expected
        yield True
        return
    try:
        handle = open(root / ".compact.lock", "a+b")  # held across the yield below
    except OSError:
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _dedupe(table: pa.Table, keys: list[str]) -> pa.Table:
    """``table`` without repeated ``keys`` (the first occurrence stays)."""
    if table.num_rows == 0:
        return table
    indexed = table.append_column("__row", pa.array(range(table.num_rows), pa.int64()))
    first = indexed.group_by(keys, use_threads=False).aggregate([("__row", "min")])
    if first.num_rows == table.num_rows:
        return table
    rows = first.column("__row_min")
    return table.take(rows.take(pc.sort_indices(rows)))  # the kept rows in their old order


def _describe(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    return exc.strerror or str(exc) or type(exc).__name__


@contextlib.contextmanager
def _parquet_writer(final: Path) -> Iterator[BinaryIO]:
    """:func:`atomic_writer` for ``final`` in a directory made on demand; any failure to
    write, sync or rename is a :class:`HistoryError` naming the directory."""
    directory = final.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_writer(final) as handle:
            yield handle
    except OSError as exc:
        raise HistoryError(f"cannot write history in {directory}: {_describe(exc)} "
                           "(earlier history is intact)") from exc


def _write_table(handle: BinaryIO, table: pa.Table) -> None:
    pq.write_table(table, handle, compression="zstd")
    handle.flush()  # every byte is handed over before anything is renamed into place


class HistoryStore:
    """The history under ``root``: append drills, read them back with filters pushed down.

    Writers only ever add files; readers never see a half-written one. Every failure to read
    or write is a :class:`HistoryError` naming the directory.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.files_dir = self.root / "files"
        self.findings_dir = self.root / "findings"

    def __str__(self) -> str:
        return str(self.root)

    # ------------------------------------------------------------------ writing

    def append(self, run_id: str, started_at: datetime, report: RunReport,
               plan_name: str) -> None:
        """Record one drill: a runs row per restored target, a files row per sampled file,
        a findings row per check per target."""
        runs, files = rows_from_report(run_id, started_at, report, plan_name)
        self.append_rows(runs, files, findings_from_report(run_id, started_at, report))

    def append_rows(self, runs: Sequence[Mapping[str, Any]],
                    files: Sequence[Mapping[str, Any]] = (),
                    findings: Sequence[Mapping[str, Any]] = ()) -> None:
        """Write rows (dicts keyed by schema column) as new files, one per client and run.

        Missing optional columns are null. All files are written under temporary names first
        and renamed only when every one of them is complete. Partitions that have gathered
        more than ``COMPACT_AFTER`` files are then compacted (see :meth:`compact`).
        """
        # files before runs: a runs row is the last thing a drill publishes
        tables = [*self._tables(self.files_dir, FILES_SCHEMA, files),
                  *self._tables(self.findings_dir, FINDINGS_SCHEMA, findings),
                  *self._tables(self.runs_dir, RUNS_SCHEMA, runs)]
        for final, _ in tables:
            if final.exists():
                raise HistoryError(f"cannot write history in {final.parent}: run "
                                   f"{final.stem!r} is already recorded")
        with contextlib.ExitStack() as stack:
            # the stack renames in reverse order of entry: enter the last to publish first;
            # a failure anywhere removes every temporary file not yet renamed
            for final, table in reversed(tables):
                _write_table(stack.enter_context(_parquet_writer(final)), table)
        for directory in sorted({final.parent for final, _ in tables}):
            try:
                self._compact_partition(directory, COMPACT_AFTER + 1)
            except HistoryError as exc:  # the drill is recorded; merging can wait
                log.warning("history compaction skipped: %s", exc)

    def _tables(self, base: Path, schema: pa.Schema,
                rows: Iterable[Mapping[str, Any]]) -> list[tuple[Path, pa.Table]]:
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in rows:
            missing = [k for k in _REQUIRED if row.get(k) in (None, "")]
            if missing:
                raise ValueError(f"history row without {', '.join(missing)}: {dict(row)!r}")
            unknown = set(row) - set(schema.names)
            if unknown:
                raise ValueError(f"unknown history columns: {', '.join(sorted(unknown))}")
            run_id = str(row["run_id"])
            if not _RUN_ID.match(run_id) or run_id.startswith(COMPACTED_PREFIX):
                raise HistoryError(f"history: run id {run_id!r} is not a safe file name")
            started = row["started_at"]
            if not isinstance(started, datetime):
                raise ValueError(f"started_at must be a datetime, not {started!r}")
            fixed = {**row, "started_at": as_utc(started)}
            grouped.setdefault((str(row[PARTITION]), run_id), []).append(fixed)
        stored = file_schema(schema)
        return [(base / partition_dir(client) / f"{run_id}.parquet",
                 pa.Table.from_pylist(group, schema=stored))
                for (client, run_id), group in sorted(grouped.items())]

    # ------------------------------------------------------------------ compaction

    def compact(self, clients: Sequence[str] | None = None) -> int:
        """Merge each client's files into one file per dataset; returns the files merged.

        A history of years of weekly drills would otherwise be tens of thousands of small
        files, and reading costs about a millisecond per file. The merged file is complete
        and synced before any file it replaces is removed, so a crash can at worst leave
        rows twice on disk (readers here drop such duplicates; the next compaction removes
        them) and never loses one.
        """
        merged = 0
        for base in (self.files_dir, self.findings_dir, self.runs_dir):
            if not base.is_dir():
                continue
            for directory in sorted(p for p in base.iterdir() if p.is_dir()):
                if clients is None or directory.name in {partition_dir(c) for c in clients}:
                    merged += self._compact_partition(directory, 2)
        return merged

    def _compact_partition(self, directory: Path, min_files: int) -> int:
        sources = sorted(directory.glob("*.parquet"))
        if len(sources) < min_files:
            return 0
        schema = SCHEMAS[directory.parent.name]
        with _exclusive(self.root) as acquired:
            if not acquired:  # another process is compacting: leave it to them
                return 0
            try:
                table = ds.dataset(sources, format="parquet",
                                   schema=file_schema(schema)).to_table()
            except (OSError, pa.ArrowException) as exc:
                raise HistoryError(f"cannot compact history in {directory}: {exc}") from exc
            table = _dedupe(table, [k for k in KEYS[directory.parent.name] if k != PARTITION])
            table = table.sort_by([("started_at", "ascending"), ("run_id", "ascending")])
            merged = directory / f"{COMPACTED_PREFIX}{secrets.token_hex(8)}.parquet"
            with _parquet_writer(merged) as handle:
                _write_table(handle, table)
            for source in sources:
                with contextlib.suppress(FileNotFoundError):
                    source.unlink()
            with contextlib.suppress(OSError):
                sync_dir(directory)
        return len(sources)

    # ------------------------------------------------------------------ reading

    def _read(self, base: Path, schema: pa.Schema, filter_: ds.Expression | None,
              columns: list[str] | None = None) -> pa.Table:
        wanted = schema if columns is None else pa.schema([schema.field(c) for c in columns])
        if not base.is_dir():
            return wanted.empty_table()
        try:
            # the default ignore_prefixes (".", "_") skip the writers' temporary files
            dataset = ds.dataset(base, format="parquet", partitioning=PARTITIONING,
                                 schema=schema)
            table = dataset.to_table(columns=columns, filter=filter_)
        except (OSError, pa.ArrowException) as exc:
            raise HistoryError(f"cannot read history in {base}: {exc}") from exc
        keys = list(KEYS[base.name])
        # rows twice on disk only after a crash mid-compaction; show them once
        return _dedupe(table, keys) if set(keys) <= set(table.column_names) else table

    @staticmethod
    def _filter(clients: Sequence[str] | None, since: datetime | None,
                **equal: str) -> ds.Expression | None:
        parts: list[ds.Expression] = []
        if clients:
            parts.append(ds.field(PARTITION).isin(list(clients)))
        if since is not None:
            parts.append(ds.field("started_at") >= pa.scalar(as_utc(since), type=TIMESTAMP))
        parts.extend(ds.field(name) == value for name, value in equal.items())
        if not parts:
            return None
        expression = parts[0]
        for part in parts[1:]:
            expression = expression & part
        return expression

    def read_runs(self, clients: Sequence[str] | None = None,
                  since: datetime | None = None) -> pa.Table:
        """Runs rows (RUNS_SCHEMA), oldest first; the client and since filters prune files."""
        table = self._read(self.runs_dir, RUNS_SCHEMA, self._filter(clients, since))
        return table.sort_by([("started_at", "ascending"), (PARTITION, "ascending"),
                              ("target", "ascending")])

    def read_files(self, clients: Sequence[str] | None = None,
                   since: datetime | None = None) -> pa.Table:
        """Files rows (FILES_SCHEMA) with the same filters as :meth:`read_runs`."""
        return self._read(self.files_dir, FILES_SCHEMA, self._filter(clients, since))

    def read_findings(self, clients: Sequence[str] | None = None,
                      since: datetime | None = None) -> pa.Table:
        """Findings rows (FINDINGS_SCHEMA), oldest first, with the same filters."""
        table = self._read(self.findings_dir, FINDINGS_SCHEMA, self._filter(clients, since))
        return table.sort_by([("started_at", "ascending"), ("target", "ascending"),
                              ("check", "ascending")])

    def verified_paths(self, client: str, target: str) -> set[str]:
        """Paths of ``client``/``target`` that some drill restored and proved right (``ok``)."""
        table = self._read(self.files_dir, FILES_SCHEMA,
                           self._filter([client], None, target=target, result="ok"),
                           columns=["path"])
        return {p for p in table.column("path").to_pylist() if p is not None}

    def verified_files(self, client: str, target: str
                       ) -> set[tuple[str, int, int | None, str]]:
        """What each file of ``client``/``target`` was when some drill proved it right:
        ``(path, size, mtime_ns, version_id or "")``. Rows older than those columns (both
        null) are left out: they cannot say whether the file changed since."""
        table = self._read(self.files_dir, FILES_SCHEMA,
                           self._filter([client], None, target=target, result="ok"),
                           columns=["path", "size", "mtime_ns", "version_id"])
        found: set[tuple[str, int, int | None, str]] = set()
        for row in table.to_pylist():
            if row["path"] is None or row["size"] is None:
                continue
            if row["mtime_ns"] is None and not row["version_id"]:
                continue
            found.add((row["path"], row["size"], row["mtime_ns"], row["version_id"] or ""))
        return found

    def data_slices(self, client: str, target: str) -> list[tuple[datetime, int, int]]:
        """``(started_at, slice, of)`` of each recorded drill of ``client``/``target`` that
        checked a ``rotate/N`` slice of the data, oldest first."""
        table = self._read(self.runs_dir, RUNS_SCHEMA, self._filter([client], None,
                                                                     target=target),
                           columns=["started_at", "read_data_slice", "read_data_slices"])
        reads = [(as_utc(r["started_at"]), int(r["read_data_slice"]),
                  int(r["read_data_slices"]))
                 for r in table.to_pylist()
                 if r["read_data_slice"] is not None and r["read_data_slices"] is not None]
        return sorted(reads)

    def latest_run(self, client: str) -> list[dict[str, Any]]:
        """The rows (one per target) of ``client``'s most recent drill; empty when none."""
        runs = self.read_runs([client])
        if runs.num_rows == 0:
            return []
        newest = runs.slice(runs.num_rows - 1, 1).to_pylist()[0]
        run_id = newest["run_id"]
        return [row for row in runs.to_pylist() if row["run_id"] == run_id]
