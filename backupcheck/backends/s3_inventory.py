"""S3 Inventory reports: per-object facts from the bucket's report instead of a HEAD each.

A bucket with an inventory configuration gets a report every day or week, in AWS's layout::

    DEST/PREFIX/SOURCE-BUCKET/CONFIG-ID/YYYY-MM-DDTHH-MMZ/manifest.json
    DEST/PREFIX/SOURCE-BUCKET/CONFIG-ID/data/UUID.csv.gz   (or .parquet, .orc)

``manifest.json`` names the source bucket, the format (``CSV``, ``Parquet``, ``ORC``), the
columns (``fileSchema``) and the data files with their MD5. The target key
``inventory_report`` names the manifest or a prefix holding manifests (the newest is used).
The data files carry, per version, size, last-modified date, ``EncryptionStatus``,
``ObjectLockMode``, ``ObjectLockRetainUntilDate`` and ``ObjectLockLegalHoldStatus``: enough
for ``s3.objects.locked``, ``s3.objects.encrypted``, freshness and the catalog. The report is
read through the target's read-only client; it is as old as its ``creationTimestamp``, and
the checks say so (:mod:`backupcheck.checks.s3_report`).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError

from backupcheck.backends.s3_facts import HeadFacts, ObjectVersion
from backupcheck.errors import TargetUnavailable

#: report columns, by their name with case and ``_`` dropped (CSV ``LastModifiedDate``,
#: Parquet/ORC ``last_modified_date``) → the name used here
COLUMNS = {"bucket": "bucket", "key": "key", "versionid": "version_id",
           "islatest": "is_latest", "isdeletemarker": "is_delete_marker", "size": "size",
           "lastmodifieddate": "last_modified", "etag": "etag",
           "storageclass": "storage_class", "encryptionstatus": "encryption",
           "objectlockmode": "lock_mode", "objectlockretainuntildate": "retain_until",
           "objectlocklegalholdstatus": "legal_hold"}
#: ``EncryptionStatus`` → what HEAD's ``ServerSideEncryption`` says
ENCRYPTION = {"SSE-S3": "AES256", "SSE-KMS": "aws:kms", "DSSE-KMS": "aws:kms:dsse",
              "SSE-C": "SSE-C", "NOT-SSE": ""}
_STAMP = re.compile(r"/(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z)/manifest\.json$")


@dataclass(frozen=True)
class InventoryReport:
    """One report: where its manifest is, when AWS made it, and its rows for one set."""

    manifest: str
    created: datetime
    file_format: str
    table: pa.Table  # COLUMNS values, sorted by key, the current version first

    def evidence(self, now: datetime) -> dict[str, Any]:
        return {"source": "inventory_report", "manifest": self.manifest,
                "created": self.created.isoformat().replace("+00:00", "Z"),
                "age_seconds": round((now - self.created).total_seconds(), 1),
                "format": self.file_format}


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise TargetUnavailable(f"inventory_report {url!r}: expected s3://bucket/prefix/ or "
                                "s3://bucket/…/manifest.json")
    return parts.netloc, parts.path.lstrip("/")


def _get(client: Any, bucket: str, key: str) -> bytes:
    try:
        return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (ClientError, BotoCoreError) as exc:
        raise TargetUnavailable(f"cannot read inventory report s3://{bucket}/{key}: "
                                f"{exc}") from None


def newest_manifest(client: Any, url: str) -> tuple[str, str]:
    """``(bucket, key)`` of the manifest ``url`` names, or of the newest one under it."""
    bucket, key = _split(url)
    if key.endswith("manifest.json"):
        return bucket, key
    found: list[tuple[str, str]] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                       Prefix=key):
            for item in page.get("Contents", []):
                stamp = _STAMP.search(item["Key"])
                if stamp and "/hive/" not in item["Key"]:
                    found.append((stamp.group(1), item["Key"]))
    except (ClientError, BotoCoreError) as exc:
        raise TargetUnavailable(f"cannot list inventory reports under {url}: {exc}") from None
    if not found:
        raise TargetUnavailable(f"no inventory report (…/YYYY-MM-DDTHH-MMZ/manifest.json) "
                                f"under {url}")
    return bucket, max(found)[1]


def _rename(table: pa.Table) -> pa.Table:
    names = [COLUMNS.get(n.lower().replace("_", ""), n) for n in table.column_names]
    return table.rename_columns(names)


def _csv_table(data: bytes, schema: list[str]) -> pa.Table:
    text = gzip.decompress(data).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    columns = {name: [row[i] if i < len(row) else "" for row in rows]
               for i, name in enumerate(schema)}
    table = pa.table(columns)
    if "key" in table.column_names:  # CSV keys are URL-encoded
        table = table.set_column(table.column_names.index("key"), "key",
                                 pa.array([unquote_plus(k) for k in columns["key"]]))
    return table


def _data_table(data: bytes, file_format: str, schema: list[str]) -> pa.Table:
    if file_format == "CSV":
        return _csv_table(data, schema)
    if file_format == "Parquet":
        return _rename(pq.read_table(pa.BufferReader(data)))
    if file_format == "ORC":
        import pyarrow.orc as orc  # only for ORC reports

        return _rename(orc.read_table(pa.BufferReader(data)))
    raise TargetUnavailable(f"inventory report format {file_format!r} is not CSV, Parquet "
                            "or ORC")


def _normalized(table: pa.Table) -> pa.Table:
    """Every column present, typed: text flags to booleans, dates to UTC timestamps."""
    n = table.num_rows
    out: dict[str, pa.Array] = {}
    for name in COLUMNS.values():
        column = table.column(name) if name in table.column_names else pa.nulls(n, pa.string())
        if name in ("is_latest", "is_delete_marker"):
            if not pa.types.is_boolean(column.type):
                column = pc.equal(pc.utf8_lower(column.cast(pa.string())), "true")
            column = pc.fill_null(column, name == "is_latest")
        elif name == "size":
            text = column.cast(pa.string())
            column = pc.fill_null(pc.if_else(pc.equal(text, ""), None, text), "0") \
                .cast(pa.int64())
        elif name in ("last_modified", "retain_until"):
            if not pa.types.is_timestamp(column.type):
                text = column.cast(pa.string())
                text = pc.if_else(pc.equal(text, ""), None, text)
                column = pc.strptime(pc.replace_substring_regex(text, r"\.\d+Z$|Z$", ""),
                                     format="%Y-%m-%dT%H:%M:%S", unit="ms")
            column = column.cast(pa.timestamp("ms", tz="UTC"))
        else:
            column = pc.fill_null(column.cast(pa.string()), "")
        out[name] = column
    return pa.table(out)


def read_report(client: Any, url: str, bucket: str, prefix: str) -> InventoryReport:
    """The newest report ``url`` names, its rows for ``bucket``/``prefix`` only. Raises
    TargetUnavailable for a report that is missing, of another bucket, or damaged."""
    manifest_bucket, manifest_key = newest_manifest(client, url)
    where = f"s3://{manifest_bucket}/{manifest_key}"
    try:
        manifest = json.loads(_get(client, manifest_bucket, manifest_key))
        source = str(manifest["sourceBucket"])
        file_format = str(manifest["fileFormat"])
        created = datetime.fromtimestamp(int(manifest["creationTimestamp"]) / 1000, UTC)
        files = [(str(f["key"]), str(f.get("MD5checksum", ""))) for f in manifest["files"]]
        schema = [COLUMNS.get(c.strip().lower().replace("_", ""), c.strip())
                  for c in str(manifest.get("fileSchema", "")).split(",")]
    except (ValueError, KeyError, TypeError) as exc:
        raise TargetUnavailable(f"inventory report {where}: not a manifest.json ({exc})") \
            from None
    if source != bucket:
        raise TargetUnavailable(f"inventory report {where} is of bucket {source!r}, not "
                                f"{bucket!r}")
    destination = str(manifest.get("destinationBucket", "")).rsplit(":", 1)[-1] \
        or manifest_bucket
    tables = []
    for key, md5 in files:
        data = _get(client, destination, key)
        if md5 and hashlib.md5(data, usedforsecurity=False).hexdigest() != md5.lower():
            raise TargetUnavailable(f"inventory report {where}: {key} does not match its "
                                    "MD5 in the manifest")
        tables.append(_normalized(_data_table(data, file_format, schema)))
    table = pa.concat_tables(tables) if tables else _normalized(pa.table({}))
    if table.num_rows:
        of_bucket = pc.or_(pc.equal(table.column("bucket"), bucket),
                           pc.equal(table.column("bucket"), ""))
        table = table.filter(pc.and_(of_bucket, pc.starts_with(table.column("key"), prefix)))
    table = table.sort_by([("key", "ascending"), ("is_latest", "descending"),
                                        ("last_modified", "descending")])
    return InventoryReport(where, created, file_format, table)


def report_versions(report: InventoryReport) -> Iterator[ObjectVersion]:
    """The report's rows as a listing in key order (current version first), each version
    carrying the facts a HEAD would give."""
    for batch in report.table.to_batches(max_chunksize=10_000):
        for row in batch.to_pylist():
            retain = row["retain_until"]
            head = None if row["is_delete_marker"] else HeadFacts(
                key=row["key"], version_id=row["version_id"] or "null",
                lock_mode=row["lock_mode"], retain_until=retain,
                legal_hold=row["legal_hold"].upper() == "ON",
                encryption=ENCRYPTION.get(row["encryption"], row["encryption"]),
                kms_key_id="", metadata={}, last_modified=row["last_modified"])
            yield ObjectVersion(
                key=row["key"], version_id=row["version_id"] or "null", size=row["size"],
                last_modified=row["last_modified"], is_latest=row["is_latest"],
                is_delete_marker=row["is_delete_marker"],
                storage_class=row["storage_class"], etag=row["etag"].strip('"'), head=head)
