"""The history on S3 (``--history s3://bucket/prefix``): the same datasets, the same reads.

:class:`S3HistoryStore` is a :class:`~backupcheck.history.store.HistoryStore` whose files are
objects ``PREFIX/runs/client=NAME/RUN_ID.parquet`` (and ``files/``), so DuckDB, Athena, Spark
and pyarrow read it as they read the directory. Every request goes through the history's own
guarded client (:mod:`.s3guard`).

S3 has no rename: a file is uploaded under a temporary key (``.RUN_ID.parquet.TOKEN.tmp``,
which no reader takes for a data file: it starts with ``.`` and does not end in
``.parquet``), copied to its final key, and the temporary object deleted. A drill that dies
midway leaves at most a temporary object, never a half-written file under a final key.
Writers only add objects with their own run id, so concurrent shards never touch each other's
objects; there is no compaction on S3 in this release (each drill adds objects).

Reads list the dataset's partitions (``client=NAME/``, one entry each), let pyarrow pick
those the filter can match, list only their objects, and fetch only what the filter keeps
(:class:`_ObjectReader`): a one-client read costs a few requests however large the fleet.
"""

from __future__ import annotations

import io
import posixpath
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError

from backupcheck.errors import HistoryError
from backupcheck.history.s3guard import S3HistoryLocation, is_temporary, make_history_client
from backupcheck.history.schema import FILES_SCHEMA, FINDINGS_SCHEMA, KEYS, PARTITION, RUNS_SCHEMA
from backupcheck.history.store import HistoryStore, _dedupe

_ERRORS = (BotoCoreError, ClientError)


class _ObjectReader(pafs.FileSystemHandler):  # type: ignore[misc]
    """A read-only pyarrow filesystem over listed history objects (keys as paths)."""

    def __init__(self, client: Any, bucket: str, sizes: Mapping[str, int]) -> None:
        super().__init__()
        self.client, self.bucket, self.sizes = client, bucket, dict(sizes)

    def get_type_name(self) -> str:
        return "backupcheck-s3-history"

    def equals(self, other: Any) -> bool:
        return other is self

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: Sequence[str]) -> list[pafs.FileInfo]:
        return [pafs.FileInfo(p, pafs.FileType.File, size=self.sizes.get(p)) for p in paths]

    def _fetch(self, path: str) -> pa.BufferReader:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=path)["Body"].read()
        except _ERRORS as exc:
            raise OSError(f"cannot read s3://{self.bucket}/{path}: {exc}") from exc
        return pa.BufferReader(body)

    def open_input_file(self, path: str) -> pa.BufferReader:
        return self._fetch(path)

    def open_input_stream(self, path: str) -> pa.BufferReader:
        return self._fetch(path)

    def _refused(self, *_: Any) -> Any:
        raise OSError("the history reader does not write")

    get_file_info_selector = create_dir = delete_dir = delete_dir_contents = _refused
    delete_root_dir_contents = delete_file = move = copy_file = _refused
    open_output_stream = open_append_stream = _refused


class S3HistoryStore(HistoryStore):
    """The history under ``s3://bucket/prefix`` (see the module docstring)."""

    def __init__(self, location: S3HistoryLocation, client: Any | None = None) -> None:
        super().__init__(Path("."))  # runs_dir = "runs", files_dir = "files": key suffixes
        self.location = location
        self.client = client if client is not None else make_history_client(location)

    def __str__(self) -> str:
        return self.location.url

    def _key(self, relative: Path | PurePosixPath) -> str:
        return self.location.prefix + PurePosixPath(relative).as_posix()

    def _error(self, doing: str, exc: Exception) -> HistoryError:
        return HistoryError(f"cannot {doing} history in {self.location.url}: {exc}")

    # ------------------------------------------------------------------ writing

    def append_rows(self, runs: Sequence[Mapping[str, Any]],
                    files: Sequence[Mapping[str, Any]] = (),
                    findings: Sequence[Mapping[str, Any]] = ()) -> None:
        """Upload rows as new objects, files and findings before runs (a runs row is
        published last)."""
        tables = [*self._tables(self.files_dir, FILES_SCHEMA, files),
                  *self._tables(self.findings_dir, FINDINGS_SCHEMA, findings),
                  *self._tables(self.runs_dir, RUNS_SCHEMA, runs)]
        for final, _ in tables:
            if self._exists(self._key(final)):
                raise HistoryError(f"cannot write history in {self.location.url}: run "
                                   f"{final.stem!r} is already recorded")
        for final, table in tables:
            self._upload(self._key(final), table)

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.location.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._error("write", exc) from exc
        except BotoCoreError as exc:
            raise self._error("write", exc) from exc
        return True

    def _upload(self, key: str, table: pa.Table) -> None:
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        directory, name = posixpath.split(key)
        temporary = f"{directory}/.{name}.{secrets.token_hex(6)}.tmp"
        bucket = self.location.bucket
        try:
            # a checksum: an Object Lock bucket refuses uploads without one
            self.client.put_object(Bucket=bucket, Key=temporary, Body=buffer.getvalue(),
                                   ChecksumAlgorithm="SHA256")
            try:
                self.client.copy_object(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256",
                                        CopySource={"Bucket": bucket, "Key": temporary})
            finally:
                self.client.delete_object(Bucket=bucket, Key=temporary)
        except _ERRORS as exc:
            raise self._error("write", exc) from exc

    def compact(self, clients: Sequence[str] | None = None) -> int:
        """Nothing: an S3 history is not compacted in this release."""
        return 0

    # ------------------------------------------------------------------ reading

    def _partitions(self, dataset: str) -> dict[str, str]:
        """``client`` value → key prefix of each partition of one dataset (one listing of
        the partition names, not of their files)."""
        base = self._key(PurePosixPath(dataset)) + "/"
        found: dict[str, str] = {}
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=base, Delimiter="/")
        try:
            for page in pages:
                for common in page.get("CommonPrefixes", []):
                    name, sep, value = common["Prefix"][len(base):].rstrip("/").partition("=")
                    if name == PARTITION and sep and value:
                        found[unquote(value)] = common["Prefix"]
        except _ERRORS as exc:
            raise self._error("read", exc) from exc
        return found

    def _matching(self, dataset: str, schema: pa.Schema,
                  filter_: ds.Expression | None) -> list[str]:
        """Key prefixes of the partitions ``filter_`` can match: pyarrow prunes placeholder
        fragments by their partition alone, so a one-client read lists one partition."""
        partitions = self._partitions(dataset)
        if filter_ is None or not partitions:
            return sorted(partitions.values())
        names = sorted(partitions)
        placeholders = ds.FileSystemDataset.from_paths(
            [partitions[n] for n in names], schema=schema, format=ds.ParquetFileFormat(),
            filesystem=pafs.LocalFileSystem(),
            partitions=[ds.field(PARTITION) == n for n in names])
        return sorted(f.path for f in placeholders.get_fragments(filter=filter_))

    def _listing(self, prefixes: list[str]) -> dict[str, int]:
        """Final keys under ``prefixes`` (partitions of one dataset) and their sizes."""
        found: dict[str, int] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for prefix in prefixes:
                for page in paginator.paginate(Bucket=self.location.bucket, Prefix=prefix):
                    for item in page.get("Contents", []):
                        if not is_temporary(item["Key"]):
                            found[item["Key"]] = int(item["Size"])
        except _ERRORS as exc:
            raise self._error("read", exc) from exc
        return found

    def _read(self, base: Path, schema: pa.Schema, filter_: ds.Expression | None,
              columns: list[str] | None = None) -> pa.Table:
        listing = self._listing(self._matching(base.name, schema, filter_))
        paths, partitions = [], []
        start = len(self._key(PurePosixPath(base.name))) + 1
        for key in sorted(listing):
            part = key[start:].split("/", 1)[0]
            name, sep, value = part.partition("=")
            if name == PARTITION and sep and value and "/" in key[start:]:
                paths.append(key)
                partitions.append(ds.field(PARTITION) == unquote(value))
        wanted = schema if columns is None else pa.schema([schema.field(c) for c in columns])
        if not paths:
            return wanted.empty_table()
        filesystem = pafs.PyFileSystem(_ObjectReader(self.client, self.location.bucket,
                                                     listing))
        try:
            dataset = ds.FileSystemDataset.from_paths(
                paths, schema=schema, format=ds.ParquetFileFormat(), filesystem=filesystem,
                partitions=partitions)
            table = dataset.to_table(columns=columns, filter=filter_)
        except (OSError, pa.ArrowException) as exc:
            raise self._error("read", exc) from exc
        keys = list(KEYS[base.name])
        return _dedupe(table, keys) if set(keys) <= set(table.column_names) else table
