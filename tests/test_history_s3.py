"""The history on S3 (``--history s3://bucket/prefix``) against a real moto server.

Its client may write under its prefix alone; a backup in the same bucket is still never
written; concurrent shard drills lose no row; pyarrow and DuckDB read it as it is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from backupcheck.backends.s3guard import make_s3_client
from backupcheck.errors import ReadOnlyViolation
from backupcheck.history import open_history
from backupcheck.history.s3guard import (
    check_request,
    make_history_client,
    parse_history_url,
)
from backupcheck.history.s3store import S3HistoryStore
from tests.conftest import S3Server, run_cli, write_client
from tests.test_drill_s3 import make_bucket

BUCKET = "msp-history"
PREFIX = "backupcheck/history/"


@pytest.fixture
def history_bucket(s3_server: S3Server) -> Any:
    """The history bucket, emptied of history objects; it also holds a client's backup."""
    s3 = s3_server.client()
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        make_bucket(s3, BUCKET)  # versioned + locked: the backup in it must stay locked
        for i in range(4):
            s3.put_object(Bucket=BUCKET, Key=f"backups/acme/file{i}.bin",
                          Body=os.urandom(4096))
    return s3


def location(s3_server: S3Server, prefix: str = PREFIX) -> Any:
    return parse_history_url(f"s3://{BUCKET}/{prefix}", endpoint_url=s3_server.url)


def versions(s3: Any, prefix: str = "") -> dict[tuple[str, str], str]:
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET, Prefix=prefix)
    found: dict[tuple[str, str], str] = {}
    for page in pages:
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            found[(v["Key"], v["VersionId"])] = str(v.get("ETag", "marker"))
    return found


# ---------------------------------------------------------------- the guard

@pytest.mark.parametrize(("operation", "params"), [
    ("PutObject", {"Bucket": "other", "Key": PREFIX + "runs/x.parquet"}),
    ("PutObject", {"Bucket": BUCKET, "Key": "backups/acme/file0.bin"}),
    ("PutObject", {"Bucket": BUCKET, "Key": "backupcheck/historyX/runs/x.parquet"}),
    ("PutObject", {"Bucket": BUCKET, "Key": "backupcheck/" + "runs/x.parquet"}),
    ("CreateMultipartUpload", {"Bucket": BUCKET, "Key": "backups/big.bin"}),
    ("CopyObject", {"Bucket": BUCKET, "Key": PREFIX + "runs/x.parquet",
                    "CopySource": {"Bucket": BUCKET, "Key": "backups/acme/file0.bin"}}),
    ("CopyObject", {"Bucket": BUCKET, "Key": "backups/acme/file0.bin",
                    "CopySource": f"{BUCKET}/{PREFIX}runs/x.parquet"}),
    ("DeleteObject", {"Bucket": BUCKET, "Key": PREFIX + "runs/client=a/r.parquet"}),
    ("DeleteObject", {"Bucket": BUCKET, "Key": "backups/acme/.file0.bin.tmp"}),
    ("DeleteObjects", {"Bucket": BUCKET, "Delete": {"Objects": []}}),
    ("PutBucketPolicy", {"Bucket": BUCKET, "Policy": "{}"}),
    ("PutObjectRetention", {"Bucket": BUCKET, "Key": PREFIX + "runs/x.parquet"}),
    ("ListObjectsV2", {"Bucket": BUCKET}),
    ("ListObjectsV2", {"Bucket": BUCKET, "Prefix": "backups/"}),
    ("GetObject", {"Bucket": BUCKET, "Key": "backups/acme/file0.bin"}),
])
def test_guard_refuses_everything_outside_the_prefix(operation: str, params: dict[str, Any]
                                                     ) -> None:
    loc = parse_history_url(f"s3://{BUCKET}/{PREFIX}")
    with pytest.raises(ReadOnlyViolation):
        check_request(loc, operation, params)


def test_guard_allows_the_history_itself() -> None:
    loc = parse_history_url(f"s3://{BUCKET}/backupcheck/history")  # trailing / added
    assert loc.prefix == PREFIX
    key = PREFIX + "runs/client=a/r.parquet"
    for operation, params in [
        ("PutObject", {"Bucket": BUCKET, "Key": key}),
        ("CopyObject", {"Bucket": BUCKET, "Key": key,
                        "CopySource": {"Bucket": BUCKET, "Key": PREFIX + "runs/.r.tmp"}}),
        ("DeleteObject", {"Bucket": BUCKET, "Key": PREFIX + "runs/client=a/.r.parquet.1.tmp"}),
        ("ListObjectsV2", {"Bucket": BUCKET, "Prefix": PREFIX + "runs/"}),
        ("GetObject", {"Bucket": BUCKET, "Key": key}),
    ]:
        check_request(loc, operation, params)


def test_real_client_sends_nothing_outside(s3_server: S3Server, history_bucket: Any) -> None:
    before = versions(history_bucket)
    client = make_history_client(location(s3_server))
    for call in (
        lambda: client.put_object(Bucket=BUCKET, Key="backups/acme/file0.bin", Body=b"x"),
        lambda: client.put_object(Bucket="elsewhere", Key=PREFIX + "a.parquet", Body=b"x"),
        lambda: client.delete_object(Bucket=BUCKET, Key="backups/acme/file0.bin"),
        lambda: client.upload_fileobj(__import__("io").BytesIO(b"y" * 10),
                                      BUCKET, "backups/acme/new.bin"),
        lambda: client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={
            "Status": "Suspended"}),
    ):
        with pytest.raises(ReadOnlyViolation):
            call()
    assert versions(history_bucket) == before
    # the backup's own client, made beside the history's, stays read-only in its bucket
    backup = make_s3_client(endpoint_url=s3_server.url)
    with pytest.raises(ReadOnlyViolation):
        backup.put_object(Bucket=BUCKET, Key=PREFIX + "runs/client=x/r.parquet", Body=b"x")
    assert versions(history_bucket) == before


def test_bad_history_urls_exit_2(tmp_path: Path) -> None:
    for url in ("s3://", "s3:///prefix", "s3://b/a/../c"):
        result = run_cli("history", "--history", url)
        assert result.exit_code == 2, (url, result.stderr)


# ---------------------------------------------------------------- drills on S3 history

def acme_targets(tmp_path: Path, s3_server: S3Server) -> Path:
    targets = tmp_path / "targets"
    write_client(targets, "acme", f'''client = "acme"
rpo = "26h"
rto = "4h"
[[targets]]
name = "acme-s3"
kind = "s3"
bucket = "{BUCKET}"
prefix = "backups/acme/"
endpoint_url = "{s3_server.url}"
''')
    (tmp_path / "backupcheck.toml").write_text(
        f'[history]\nurl = "s3://{BUCKET}/{PREFIX}"\nendpoint_url = "{s3_server.url}"\n')
    (tmp_path / "plan.toml").write_text('name = "t"\nfiles = 3\nread_data_subset = ""\n')
    return targets


def test_drill_history_trend_audit_on_s3_never_write_the_backup(
        tmp_path: Path, s3_server: S3Server, history_bucket: Any) -> None:
    targets = acme_targets(tmp_path, s3_server)
    backup_before = versions(history_bucket, "backups/")
    settings = str(tmp_path / "backupcheck.toml")
    for _ in range(2):
        drill = run_cli("drill", "--targets", str(targets), "--plan", str(tmp_path / "plan.toml"),
                        "--format", "json")  # [history] of backupcheck.toml beside targets
        assert drill.exit_code in (0, 1), drill.stderr
        assert "history" not in drill.stderr, drill.stderr
        assert drill.json()["clients"][0]["targets"][0]["restore"]["sampled"] > 0
    assert versions(history_bucket, "backups/") == backup_before
    keys = [k for k, _ in versions(history_bucket, PREFIX)]
    assert keys and all(k.startswith(PREFIX) for k in keys)
    live = [o["Key"] for o in history_bucket.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)
            .get("Contents", [])]
    assert not [k for k in live if k.rsplit("/", 1)[-1].startswith(".")]  # temp keys gone
    assert sum(k.startswith(PREFIX + "runs/client=acme/") for k in live) >= 2, live
    # the findings dataset lives beside runs and files, so an audit from S3 has its history
    assert sum(k.startswith(PREFIX + "findings/client=acme/") for k in live) >= 2, live
    store = open_history(f"s3://{BUCKET}/{PREFIX}", endpoint_url=s3_server.url)
    assert store.read_findings(["acme"]).num_rows > 0

    shown = run_cli("history", "--history", f"s3://{BUCKET}/{PREFIX}", "--settings", settings,
                    "--client", "acme", "--format", "json")
    assert shown.exit_code == 0, shown.stderr
    assert len(shown.json()["runs"]) >= 2
    trend = run_cli("trend", "--settings", settings, "--format", "json")
    assert trend.exit_code in (0, 1), trend.stderr
    assert "acme" in trend.stdout
    audit = run_cli("audit", "--client", "acme", "--targets", str(targets),
                    "--out", str(tmp_path / "pack"), "--format", "json")
    assert audit.exit_code in (0, 1), audit.stderr
    assert f"s3://{BUCKET}/{PREFIX}" in (tmp_path / "pack" / "report.html").read_text()
    assert versions(history_bucket, "backups/") == backup_before


def test_readers_ignore_temporary_and_foreign_objects(s3_server: S3Server,
                                                      history_bucket: Any) -> None:
    prefix = "ignore-test/"
    store = S3HistoryStore(location(s3_server, prefix))
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    store.append_rows([{"run_id": "r1", "started_at": moment, "client": "c", "target": "t",
                        "seconds": 1.0}])
    # a writer that died after its upload, and an object that is no partition at all
    history_bucket.put_object(Bucket=BUCKET, Key=prefix + "runs/client=c/.r2.parquet.ab.tmp",
                              Body=b"half")
    assert [r["run_id"] for r in store.read_runs().to_pylist()] == ["r1"]
    with pytest.raises(Exception, match="already recorded"):
        store.append_rows([{"run_id": "r1", "started_at": moment, "client": "c",
                            "target": "t"}])
    # pyarrow's own S3 filesystem, and DuckDB over it, read the same rows
    fs = pafs.S3FileSystem(access_key="testing", secret_key="testing", region="us-east-1",
                           endpoint_override=s3_server.url.removeprefix("http://"),
                           scheme="http")
    dataset = ds.dataset(f"{BUCKET}/{prefix}runs", filesystem=fs, format="parquet",
                         partitioning="hive", exclude_invalid_files=False)
    assert dataset.to_table().to_pylist()[0]["client"] == "c"
    duckdb = pytest.importorskip("duckdb")
    count = duckdb.sql("select count(*), min(client) from dataset").fetchall()
    assert count == [(1, "c")]
    history_bucket.put_object(Bucket=BUCKET, Key=prefix + "runs/README", Body=b"hi")
    assert [r["run_id"] for r in store.read_runs().to_pylist()] == ["r1"]


def test_duckdb_httpfs_reads_history_straight_from_s3(s3_server: S3Server,
                                                      history_bucket: Any) -> None:
    """Only where DuckDB's httpfs extension is installed (it is downloaded, not shipped)."""
    duckdb = pytest.importorskip("duckdb")
    connection = duckdb.connect()
    try:
        connection.execute("LOAD httpfs")
    except duckdb.Error:
        pytest.skip("DuckDB's httpfs extension is not installed (no network to fetch it)")
    store = S3HistoryStore(location(s3_server, "duck/"))
    store.append_rows([{"run_id": "r1", "started_at": datetime(2026, 11, 1, tzinfo=UTC),
                        "client": "c", "target": "t"}])
    host = s3_server.url.removeprefix("http://")
    connection.execute(f"SET s3_endpoint='{host}'; SET s3_use_ssl=false; "
                       "SET s3_url_style='path'; SET s3_access_key_id='testing'; "
                       "SET s3_secret_access_key='testing'; SET s3_region='us-east-1'")
    rows = connection.execute(f"select client from read_parquet('s3://{BUCKET}/duck/runs/*/*."
                              "parquet', hive_partitioning=true)").fetchall()
    assert rows == [("c",)]


def test_concurrent_shard_drills_into_one_s3_history_lose_no_row(
        tmp_path: Path, s3_server: S3Server, history_bucket: Any) -> None:
    s3 = history_bucket
    bucket = "shard-s3-fleet"
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        make_bucket(s3, bucket)
        for i in range(6):
            s3.put_object(Bucket=bucket, Key=f"c{i}/f.bin", Body=os.urandom(1024))
    targets = tmp_path / "targets"
    names = [f"c{i}" for i in range(6)]
    for name in names:
        write_client(targets, name, f'client = "{name}"\nrpo = "26h"\nrto = "4h"\n'
                     f'[[targets]]\nname = "{name}-s3"\nkind = "s3"\nbucket = "{bucket}"\n'
                     f'prefix = "{name}/"\nendpoint_url = "{s3_server.url}"\n')
    (tmp_path / "backupcheck.toml").write_text(f'[history]\nendpoint_url = "{s3_server.url}"\n')
    (tmp_path / "plan.toml").write_text('name = "t"\nfiles = 1\nread_data_subset = ""\n')
    prefix = f"concurrent-{os.getpid()}/"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    processes = [subprocess.Popen(
        [sys.executable, "-m", "backupcheck", "drill", "--targets", str(targets),
         "--plan", str(tmp_path / "plan.toml"), "--format", "json", "--shard", f"{i}/3",
         "--history", f"s3://{BUCKET}/{prefix}"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True) for i in range(3)]
    drilled: list[str] = []
    for process in processes:
        out, err = process.communicate(timeout=240)
        assert process.returncode in (0, 1), err
        drilled += [c["client"] for c in json.loads(out)["clients"]]
    assert sorted(drilled) == names
    store = open_history(f"s3://{BUCKET}/{prefix}", endpoint_url=s3_server.url)
    runs = store.read_runs().to_pylist()
    assert sorted(r["client"] for r in runs) == names
    assert {r["shard"] for r in runs} == {"0/3", "1/3", "2/3"}
    files = store.read_files().to_pylist()
    assert sorted({f["client"] for f in files}) == names


def test_history_bucket_missing_is_an_error_not_a_pass(tmp_path: Path,
                                                       s3_server: S3Server) -> None:
    store = open_history("s3://no-such-history-bucket/p/", endpoint_url=s3_server.url)
    with pytest.raises(Exception, match="no-such-history-bucket"):
        store.read_runs()
    with pytest.raises(Exception, match="no-such-history-bucket"):
        store.append_rows([{"run_id": "r", "started_at": datetime.now(UTC), "client": "c",
                            "target": "t"}])


def test_one_client_read_lists_and_fetches_only_its_partition(s3_server: S3Server,
                                                              history_bucket: Any) -> None:
    store = S3HistoryStore(location(s3_server, "pruned/"))
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    store.append_rows([{"run_id": f"r{c}", "started_at": moment, "client": c, "target": "t",
                        "seconds": 1.0} for c in ("a", "b", "c")])
    sent: list[tuple[str, dict[str, Any]]] = []
    store.client.meta.events.register(
        "before-parameter-build.s3",
        lambda params, model, **_: sent.append((model.name, dict(params))))
    rows = store.read_runs(["b"]).to_pylist()
    assert [r["client"] for r in rows] == ["b"]
    listed = [p for name, p in sent if name == "ListObjectsV2"]
    assert [p.get("Delimiter") for p in listed] == ["/", None]
    assert listed[1]["Prefix"].endswith("runs/client=b/")
    fetched = [p["Key"] for name, p in sent if name == "GetObject"]
    assert fetched and all("/client=b/" in k for k in fetched)
    assert {r["client"] for r in store.read_runs().to_pylist()} == {"a", "b", "c"}
