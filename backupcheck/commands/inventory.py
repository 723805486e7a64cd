"""``inventory``: every backup set per client, and optionally every version/snapshot as Parquet.

Rows are streamed from the backends into a Parquet writer in batches, so a bucket with
millions of versions never sits in memory. The file is written under a temporary name and
renamed at the end: a crashed inventory never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from backupcheck.atomic import sync_dir, temp_name
from backupcheck.backends.base import Backend
from backupcheck.engine import Progress, run_targets
from backupcheck.errors import UsageError
from backupcheck.model import Client, RunReport, Target, TargetResult

#: one row per S3 object version / delete marker or per restic snapshot
INVENTORY_SCHEMA = pa.schema([
    ("client", pa.string()),
    ("target", pa.string()),
    ("kind", pa.string()),
    ("key", pa.string()),              # S3 object key; restic: snapshot id
    ("version_id", pa.string()),
    ("size", pa.int64()),
    ("last_modified", pa.timestamp("us", tz="UTC")),  # restic: snapshot time
    ("is_latest", pa.bool_()),
    ("is_delete_marker", pa.bool_()),
    ("storage_class", pa.string()),
    ("etag", pa.string()),
    ("hostname", pa.string()),
    ("paths", pa.list_(pa.string())),
    ("tags", pa.list_(pa.string())),
])

BATCH_ROWS = 10_000


class InventoryWriter:
    """Thread-safe batched Parquet writer for inventory rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = temp_name(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(str(self.tmp), INVENTORY_SCHEMA)
        except OSError as exc:
            raise UsageError(f"{path}: cannot write inventory: {exc.strerror or exc}") from None
        self.lock = threading.Lock()
        self.batch: list[dict[str, Any]] = []
        self.rows = 0

    def sink(self, client: str, target: str, kind: str) -> Any:
        def add(row: Mapping[str, Any]) -> None:
            full = {"client": client, "target": target, "kind": kind, **row}
            with self.lock:
                self.batch.append(full)
                if len(self.batch) >= BATCH_ROWS:
                    self._flush()
        return add

    def _flush(self) -> None:
        if self.batch:
            self.writer.write_table(pa.Table.from_pylist(self.batch, schema=INVENTORY_SCHEMA))
            self.rows += len(self.batch)
            self.batch = []

    def close(self, commit: bool = True) -> None:
        with self.lock:
            self._flush()
            self.writer.close()
        if commit:
            os.replace(self.tmp, self.path)
            sync_dir(self.path.parent)
        else:
            self.tmp.unlink(missing_ok=True)


def inventory(clients: Sequence[Client], *, out: Path | None = None,
              progress: Progress | None = None) -> RunReport:
    writer = InventoryWriter(out) if out is not None else None

    def work(client: Client, target: Target, backend: Backend) -> TargetResult:
        sink = writer.sink(client.name, target.name, target.kind) if writer else None
        summary = backend.inventory(sink)
        return TargetResult(target.name, target.kind, (), inventory=summary)

    ok = False
    try:
        report = run_targets("inventory", clients, work, progress=progress)
        ok = True
        return report
    finally:
        if writer is not None:
            writer.close(commit=ok)
