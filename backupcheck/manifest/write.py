"""Writing a build's rows to Parquet, one row group at a time, in the order they arrive."""

from __future__ import annotations

from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from backupcheck.manifest.batch import BatchResult
from backupcheck.manifest.schema import KIND_SYMLINK, MANIFEST_SCHEMA

ROW_GROUP_ROWS = 65536


class Writer:
    """Buffers rows and writes them to Parquet one row group at a time."""

    def __init__(self, sink: IO[bytes]) -> None:
        self._writer = pq.ParquetWriter(sink, MANIFEST_SCHEMA, compression="zstd",
                                        use_dictionary=["kind"])
        self._columns: tuple[list[Any], ...] = ([], [], [], [], [])
        self.rows = self.bytes = self.symlinks = 0
        self.unreadable: list[tuple[str, str]] = []

    def add(self, result: BatchResult) -> None:
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
