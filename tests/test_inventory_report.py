"""``inventory_report``: per-object facts from an S3 Inventory report in AWS's layout.

Reports (manifest.json + gzip CSV or Parquet data files) are written to the loopback moto
server from the bucket's real versions; a report that disagrees with the bucket shows that the
checks read the report, not one HEAD per object.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import S3Server, run_cli, statuses, target_of, write_client
from tests.test_drill_s3 import make_bucket

SOURCE = "inv-source"
DEST = "inv-reports"
CSV_SCHEMA = ("Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, "
              "ETag, StorageClass, EncryptionStatus, ObjectLockRetainUntilDate, "
              "ObjectLockMode, ObjectLockLegalHoldStatus")
PARQUET_NAMES = ["bucket", "key", "version_id", "is_latest", "is_delete_marker", "size",
                 "last_modified_date", "e_tag", "storage_class", "encryption_status",
                 "object_lock_retain_until_date", "object_lock_mode",
                 "object_lock_legal_hold_status"]


@pytest.fixture(scope="module")
def buckets(s3_server: S3Server) -> Any:
    s3 = s3_server.client()
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    if SOURCE not in names:
        make_bucket(s3, SOURCE)
        for i in range(6):
            s3.put_object(Bucket=SOURCE, Key=f"backup/file {i}.bin", Body=os.urandom(1000 + i),
                          ChecksumAlgorithm="SHA256")
        s3.create_bucket(Bucket=DEST)
    return s3


def truth_rows(s3: Any) -> list[dict[str, Any]]:
    """What the bucket really holds, as inventory rows (from listing and HEADs)."""
    rows = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=SOURCE):
        for v in page.get("Versions", []):
            head = s3.head_object(Bucket=SOURCE, Key=v["Key"], VersionId=v["VersionId"])
            rows.append({
                "bucket": SOURCE, "key": v["Key"], "version_id": v["VersionId"],
                "is_latest": v["IsLatest"], "is_delete_marker": False, "size": v["Size"],
                "last_modified_date": v["LastModified"], "e_tag": v["ETag"].strip('"'),
                "storage_class": "STANDARD",
                "encryption_status": {"AES256": "SSE-S3", "aws:kms": "SSE-KMS"}.get(
                    head.get("ServerSideEncryption", ""), "NOT-SSE"),
                "object_lock_retain_until_date": head.get("ObjectLockRetainUntilDate"),
                "object_lock_mode": head.get("ObjectLockMode", ""),
                "object_lock_legal_hold_status": "OFF"})
    return rows


def iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def write_report(s3: Any, rows: list[dict[str, Any]], *, config: str, created: datetime,
                 fmt: str = "CSV", source: str = SOURCE, corrupt: bool = False) -> str:
    """A report in AWS's layout; returns the prefix that holds its manifests."""
    base = f"reports/{SOURCE}/{config}"
    if fmt == "CSV":
        text = io.StringIO()
        writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for r in rows:
            writer.writerow([r["bucket"], quote_plus(r["key"], safe="/"), r["version_id"],
                             str(r["is_latest"]).lower(), str(r["is_delete_marker"]).lower(),
                             r["size"], iso(r["last_modified_date"]), r["e_tag"],
                             r["storage_class"], r["encryption_status"],
                             iso(r["object_lock_retain_until_date"]), r["object_lock_mode"],
                             r["object_lock_legal_hold_status"]])
        data, name, schema = gzip.compress(text.getvalue().encode()), "a1.csv.gz", CSV_SCHEMA
    else:
        table = pa.Table.from_pylist(rows).select(PARQUET_NAMES)
        sink = io.BytesIO()
        pq.write_table(table, sink)
        data, name = sink.getvalue(), "a1.parquet"
        schema = "message s3.inventory { " + "; ".join(PARQUET_NAMES) + " }"
    md5 = hashlib.md5(data).hexdigest()
    if corrupt:
        data = data[:-3] + b"xyz"
    s3.put_object(Bucket=DEST, Key=f"{base}/data/{name}", Body=data)
    stamp = created.strftime("%Y-%m-%dT%H-%MZ")
    manifest = {"sourceBucket": source, "destinationBucket": f"arn:aws:s3:::{DEST}",
                "version": "2016-11-30",
                "creationTimestamp": str(int(created.timestamp() * 1000)),
                "fileFormat": fmt, "fileSchema": schema,
                "files": [{"key": f"{base}/data/{name}", "size": len(data),
                           "MD5checksum": md5}]}
    # an older report beside it: the newest one must be used
    older = {**manifest, "files": []}
    s3.put_object(Bucket=DEST, Key=f"{base}/2020-01-01T00-00Z/manifest.json",
                  Body=json.dumps(older).encode())
    s3.put_object(Bucket=DEST, Key=f"{base}/{stamp}/manifest.json",
                  Body=json.dumps(manifest).encode())
    return f"s3://{DEST}/{base}/"


def client_file(tmp_path: Path, s3_server: S3Server, report: str, extra: str = "") -> Path:
    targets = tmp_path / "targets"
    write_client(targets, "inv", f'''client = "inv"
rpo = "26h"
rto = "4h"
{extra}
[[targets]]
name = "inv-s3"
kind = "s3"
bucket = "{SOURCE}"
prefix = "backup/"
endpoint_url = "{s3_server.url}"
inventory_report = "{report}"
''')
    return targets


@pytest.mark.parametrize("fmt", ["CSV", "Parquet"])
def test_checks_read_the_report_not_the_bucket(tmp_path: Path, s3_server: S3Server,
                                               buckets: Any, fmt: str) -> None:
    rows = truth_rows(buckets)
    # the report says one object is unlocked and another unencrypted: the bucket disagrees
    rows[1] = {**rows[1], "object_lock_mode": "", "object_lock_retain_until_date": None}
    rows[2] = {**rows[2], "encryption_status": "NOT-SSE"}
    report = write_report(buckets, rows, config=f"bad-{fmt}", fmt=fmt,
                          created=datetime.now(UTC) - timedelta(hours=2))
    result = run_cli("verify", "--targets", str(client_file(tmp_path, s3_server, report)),
                     "--format", "json")
    assert result.stdout, result.stderr
    found = statuses(result.json(), "inv-s3")
    assert found["s3.objects.locked"] == "fail"
    assert found["s3.objects.encrypted"] == "fail"
    assert found["s3.freshness"] == "pass"
    checks = {c["id"]: c for c in target_of(result.json(), "inv-s3")["checks"]}
    locked = checks["s3.objects.locked"]
    assert locked["evidence"]["report"]["source"] == "inventory_report"
    assert "/manifest.json" in locked["evidence"]["report"]["manifest"]
    assert "2020-01-01" not in locked["evidence"]["report"]["manifest"]
    assert "inventory report" in locked["message"]
    assert rows[1]["key"] in json.dumps(locked["evidence"])  # the key with a space, decoded


def test_true_report_passes_and_drill_restores_from_its_catalog(
        tmp_path: Path, s3_server: S3Server, buckets: Any) -> None:
    report = write_report(buckets, truth_rows(buckets), config="good",
                          created=datetime.now(UTC) - timedelta(hours=1))
    targets = client_file(tmp_path, s3_server, report)
    result = run_cli("verify", "--targets", str(targets), "--format", "json")
    found = statuses(result.json(), "inv-s3")
    assert found["s3.objects.locked"] == "pass"
    assert found["s3.objects.encrypted"] == "pass"
    plan = tmp_path / "plan.toml"
    plan.write_text('name = "t"\nfiles = 3\nread_data_subset = ""\n')
    drill = run_cli("drill", "--targets", str(targets), "--plan", str(plan), "--format",
                    "json", "--no-history")
    restore = target_of(drill.json(), "inv-s3")["restore"]
    assert restore["sampled"] >= 3 and restore["unreadable"] == 0
    assert restore["total_files"] == 6


def test_report_older_than_rpo_is_never_a_pass(tmp_path: Path, s3_server: S3Server,
                                               buckets: Any) -> None:
    report = write_report(buckets, truth_rows(buckets), config="old",
                          created=datetime.now(UTC) - timedelta(days=3))
    result = run_cli("verify", "--targets", str(client_file(tmp_path, s3_server, report)),
                     "--format", "json")
    found = statuses(result.json(), "inv-s3")
    for check in ("s3.objects.locked", "s3.objects.encrypted", "s3.freshness"):
        assert found[check] == "warn", (check, found)
    checks = {c["id"]: c for c in target_of(result.json(), "inv-s3")["checks"]}
    assert "older than rpo" in checks["s3.freshness"]["message"]
    assert checks["s3.freshness"]["evidence"]["report"]["age_seconds"] > 2 * 86400


def test_kms_key_policy_is_unproven_by_a_report(tmp_path: Path, s3_server: S3Server,
                                                buckets: Any) -> None:
    rows = [{**r, "encryption_status": "SSE-KMS"} for r in truth_rows(buckets)]
    report = write_report(buckets, rows, config="kms", created=datetime.now(UTC))
    targets = client_file(tmp_path, s3_server, report,
                          '[policy]\nencryption = "aws:kms"\nkms_key_id = "arn:aws:kms:k"')
    result = run_cli("verify", "--targets", str(targets), "--format", "json")
    checks = {c["id"]: c for c in target_of(result.json(), "inv-s3")["checks"]}
    assert checks["s3.objects.encrypted"]["status"] == "warn"
    assert "KMS key" in checks["s3.objects.encrypted"]["message"]


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"corrupt": True}, "MD5"),
    ({"source": "someone-else"}, "is of bucket 'someone-else'"),
])
def test_a_damaged_or_foreign_report_is_an_error(tmp_path: Path, s3_server: S3Server,
                                                 buckets: Any, kwargs: dict[str, Any],
                                                 words: str) -> None:
    report = write_report(buckets, truth_rows(buckets), config=f"x{len(words)}",
                          created=datetime.now(UTC), **kwargs)
    result = run_cli("verify", "--targets", str(client_file(tmp_path, s3_server, report)),
                     "--format", "json")
    assert result.exit_code == 3, result.stderr
    assert words in result.stdout


def test_inventory_report_key_must_be_s3(tmp_path: Path, s3_server: S3Server) -> None:
    targets = client_file(tmp_path, s3_server, "/local/manifest.json")
    result = run_cli("verify", "--targets", str(targets), "--format", "json")
    assert result.exit_code == 2
    assert "inventory_report" in result.stderr + result.stdout
