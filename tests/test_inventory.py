"""``inventory``: per-target summaries, the Parquet export, and bounded memory on a big bucket."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.conftest import S3Server, write_client

P = "inv-"  # bucket names unique to this module
ROW_COLUMNS = {"key", "version_id", "size", "last_modified", "is_latest", "is_delete_marker",
               "storage_class", "etag"}
BODIES = {"v1": b"full backup, first run", "v2": b"full backup, second run: longer",
          "incr": b"incremental", "other": b"not a backup of this target"}


@dataclass
class Estate:
    targets: Path
    url: str
    versions: list[dict[str, Any]]  # the server's own listing of the locked bucket
    markers: list[dict[str, Any]]


def _client_file(directory: Path, client: str, targets: list[tuple[str, str, str, str]]) -> None:
    body = f'client = "{client}"\nrpo = "26h"\nrto = "4h"\n'
    for name, bucket, prefix, url in targets:
        body += (f'\n[[targets]]\nname = "{name}"\nkind = "s3"\nbucket = "{bucket}"\n'
                 f'endpoint_url = "{url}"\nprefix = "{prefix}"\n')
    write_client(directory, client, body)


@pytest.fixture(scope="module")
def estate(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    s3 = s3_server.client()
    url = s3_server.url
    locked = P + "locked"
    s3.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}}})
    s3.put_bucket_encryption(Bucket=locked, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_object(Bucket=locked, Key="Veeam/full.vbk", Body=BODIES["v1"])
    s3.put_object(Bucket=locked, Key="Veeam/full.vbk", Body=BODIES["v2"])
    s3.put_object(Bucket=locked, Key="Veeam/incr.vib", Body=BODIES["incr"])
    s3.delete_object(Bucket=locked, Key="Veeam/incr.vib")  # a delete marker hides it
    s3.put_object(Bucket=locked, Key="Other/file.bin", Body=BODIES["other"])

    plain = P + "plain"
    s3.create_bucket(Bucket=plain)
    s3.put_object(Bucket=plain, Key="dump.sql.gz", Body=b"x" * 1000)

    listing = s3.list_object_versions(Bucket=locked, Prefix="Veeam/")
    targets = tmp_path_factory.mktemp("inventory") / "targets"
    _client_file(targets, "acme", [("acme-veeam", locked, "Veeam/", url),
                                   ("acme-plain", plain, "", url)])
    _client_file(targets, "globex", [("globex-gone", P + "does-not-exist", "", url)])
    yield Estate(targets=targets, url=url, versions=listing["Versions"],
                 markers=listing["DeleteMarkers"])


def inventory(cli: Any, estate: Estate, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("inventory", "--targets", str(estate.targets), "--format", "json", *args)
    assert "Traceback" not in result.stderr
    document = result.json()
    assert document["schema"] == "backupcheck.report/1"
    assert document["command"] == "inventory"
    return result.exit_code, document


def summary(document: dict[str, Any], target: str) -> dict[str, Any]:
    for client in document["clients"]:
        for t in client["targets"]:
            if t["target"] == target:
                return dict(t["inventory"])
    raise KeyError(target)


def test_summary_per_target(cli: Any, estate: Estate) -> None:
    code, document = inventory(cli, estate, "--client", "acme")
    assert code == 0
    assert document["status"] == "pass"
    veeam = summary(document, "acme-veeam")
    assert veeam["location"] == f"s3://{P}locked/Veeam/"
    assert veeam["endpoint_url"] == estate.url
    assert veeam["objects"] == 1  # incr.vib is hidden behind its delete marker
    assert veeam["versions"] == 3
    assert veeam["delete_markers"] == 1
    assert veeam["size_bytes"] == len(BODIES["v2"])
    assert veeam["all_versions_bytes"] == len(BODIES["v1"]) + len(BODIES["v2"]) + len(
        BODIES["incr"])
    assert (veeam["versioning"], veeam["object_lock_enabled"], veeam["lock_mode"],
            veeam["retention_days"], veeam["encryption"]) == (
        "Enabled", True, "COMPLIANCE", 30, "AES256")
    newest = datetime.fromisoformat(veeam["newest"])
    assert newest.tzinfo is not None
    assert abs((datetime.now(UTC) - newest).total_seconds()) < 600
    assert veeam["setting_errors"] == {}

    plain = summary(document, "acme-plain")
    assert plain["location"] == f"s3://{P}plain/"
    assert (plain["objects"], plain["versions"], plain["delete_markers"],
            plain["size_bytes"]) == (1, 1, 0, 1000)
    assert (plain["versioning"], plain["object_lock_enabled"], plain["lock_mode"],
            plain["retention_days"], plain["encryption"]) == (
        "never enabled", False, "none", None, "none")
    assert plain["newest"] == plain["oldest"]


def test_parquet_has_one_row_per_version_and_delete_marker(cli: Any, estate: Estate,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "reports" / "x.parquet"
    code, _ = inventory(cli, estate, "--client", "acme", "--out", str(out))
    assert code == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["x.parquet"]  # no temp file left
    table = pq.read_table(out)
    assert ROW_COLUMNS | {"client", "target", "kind"} <= set(table.column_names)
    assert str(table.schema.field("last_modified").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("size").type) == "int64"
    rows = table.to_pylist()
    veeam = sorted((r for r in rows if r["target"] == "acme-veeam"),
                   key=lambda r: (r["key"], r["version_id"]))
    expected = sorted(
        [(v["Key"], v["VersionId"], v["Size"], v["IsLatest"], False, v["ETag"].strip('"'))
         for v in estate.versions]
        + [(m["Key"], m["VersionId"], 0, m["IsLatest"], True, "") for m in estate.markers])
    assert [(r["key"], r["version_id"], r["size"], r["is_latest"], r["is_delete_marker"],
             r["etag"]) for r in veeam] == expected
    assert len(veeam) == 4
    assert all(r["client"] == "acme" and r["kind"] == "s3" for r in rows)
    assert not any(r["key"].startswith("Other/") for r in rows)  # outside the prefix
    by_etag = {r["etag"] for r in veeam if not r["is_delete_marker"]}
    assert hashlib.md5(BODIES["v2"]).hexdigest() in by_etag  # noqa: S324 - S3's ETag is MD5
    for row in veeam:
        assert row["last_modified"].tzinfo is not None
        assert abs((datetime.now(UTC) - row["last_modified"]).total_seconds()) < 600
    assert [r["key"] for r in rows if r["target"] == "acme-plain"] == ["dump.sql.gz"]


def test_unreachable_target_is_error_others_still_written(cli: Any, estate: Estate,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "all.parquet"
    code, document = inventory(cli, estate, "--out", str(out))
    assert code == 3
    assert document["status"] == "error"
    by_client = {c["client"]: c["status"] for c in document["clients"]}
    assert by_client == {"acme": "pass", "globex": "error"}
    gone = document["clients"][1]["targets"][0]
    assert "inventory" not in gone
    assert "does not exist" in gone["checks"][0]["message"]
    assert {r["target"] for r in pq.read_table(out).to_pylist()} == {"acme-veeam", "acme-plain"}


def test_table_output(cli: Any, estate: Estate) -> None:
    result = cli("inventory", "--targets", str(estate.targets), "--client", "acme")
    assert result.exit_code == 0
    assert "backup inventory" in result.stdout
    assert "acme-veeam" in result.stdout and "acme-plain" in result.stdout
    assert "COMPLIANCE" in result.stdout
    assert "overall: PASS" in result.stdout


def test_out_to_unwritable_place_is_a_usage_error(cli: Any, estate: Estate,
                                                   tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = cli("inventory", "--targets", str(estate.targets), "--client", "acme",
                 "--format", "json", "--out", str(blocker / "x.parquet"))
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert str(blocker / "x.parquet") in result.stderr


# ---------------------------------------------------------------- memory on a big bucket


BIG_KEYS = 10_000
BIG_VERSIONS_PER_KEY = 2
BIG_ROWS = BIG_KEYS * BIG_VERSIONS_PER_KEY
#: what listing 20,000 versions may add on top of the process at rest: the listing streams,
#: so the rows must never all be held. Measured against a baseline of the same interpreter
#: and libraries (their mapped size differs between machines and fresh installs by 40 MB)
MAX_GROWTH_BYTES = 100 * 1024 * 1024

#: runs its arguments as a child and reports the child's peak RSS. The child's peak must be
#: measured from a small parent: Linux carries a parent's high-water RSS into a forked child's
#: ru_maxrss, so measured straight from this (large) test process it would report pytest's own.
MEASURE = """\
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, file=sys.stderr)
sys.exit(code)
"""


def _fill_big_bucket(s3_server: S3Server, bucket: str) -> None:
    s3 = s3_server.client()
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    # 20,000 PUTs over HTTP take minutes on moto; writing into the in-process server's state
    # gives the same listing in a second (the listing is what is measured, not the upload)
    from moto.s3.models import s3_backends

    partition, account = s3_backends.bucket_accounts[bucket]
    backend = s3_backends[account][partition]
    for version in range(BIG_VERSIONS_PER_KEY):
        for number in range(BIG_KEYS):
            backend.put_object(bucket, f"backup/{number:05d}.blk", b"v%d" % version)
    listing = s3.list_object_versions(Bucket=bucket, MaxKeys=5)
    assert len(listing["Versions"]) == 5 and listing["IsTruncated"]


@pytest.fixture
def big_bucket(s3_server: S3Server) -> Iterator[str]:
    # moto tracks every S3 model object it ever makes, including the copy of the whole bucket
    # it makes for each listed page (~440,000 keys here, with their ACLs), and never lets go:
    # left alone they cost a minute of garbage collection when the test process exits. So
    # whatever moto makes during this test is disposed of and forgotten at its end.
    from moto.core.model_instances import model_data
    from moto.s3.models import FakeKey, s3_backends

    models: list[Any] = list(model_data["s3"].values())
    before = {model: len(model.instances_tracked) for model in models}
    bucket = P + "big"
    _fill_big_bucket(s3_server, bucket)
    yield bucket
    partition, account = s3_backends.bucket_accounts[bucket]
    backend = s3_backends[account][partition]
    backend.buckets[bucket].keys.clear()
    backend.delete_bucket(bucket)
    for model in models:
        for made in model.instances_tracked[before[model]:]:
            if isinstance(made, FakeKey):
                made.dispose()
        del model.instances_tracked[before[model]:]


@pytest.mark.timeout(900)  # ~1 min here, nearly all of it moto listing 20,000 versions
def test_inventory_of_20k_versions_grows_under_100_mb(s3_server: S3Server, big_bucket: str,
                                                      tmp_path: Path) -> None:
    targets = tmp_path / "targets"
    _client_file(targets, "bigco", [("bigco-nas", big_bucket, "", s3_server.url)])
    out = tmp_path / "big.parquet"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
               PYTHONPATH=str(Path(__file__).parent.parent))
    command = [sys.executable, "-c", MEASURE, sys.executable, "-m", "backupcheck", "inventory",
               "--targets", str(targets), "--format", "json", "--out", str(out)]

    started = time.monotonic()
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=840, check=False)
    elapsed = time.monotonic() - started

    assert done.returncode == 0, done.stderr
    peak = int(done.stderr.strip().splitlines()[-1])
    print(f"\ninventory of {BIG_ROWS} versions: peak RSS {peak / 2**20:.1f} MiB, "
          f"{elapsed:.1f} s")
    document = json.loads(done.stdout)
    big = document["clients"][0]["targets"][0]["inventory"]
    assert (big["versions"], big["objects"], big["delete_markers"]) == (BIG_ROWS, BIG_KEYS, 0)
    parquet = pq.ParquetFile(out)
    assert parquet.metadata.num_rows == BIG_ROWS
    latest = pq.read_table(out, columns=["is_latest"]).column("is_latest").to_pylist()
    assert sum(latest) == BIG_KEYS
    rest = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-c",
                           "import backupcheck.cli.app, backupcheck.backends.s3_backend"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False)
    baseline = int(rest.stderr.strip().splitlines()[-1])
    print(f"baseline {baseline / 2**20:.1f} MiB, growth {(peak - baseline) / 2**20:.1f} MiB")
    assert peak - baseline < MAX_GROWTH_BYTES, (
        f"peak RSS {peak / 2**20:.1f} MiB, {(peak - baseline) / 2**20:.1f} MiB over the "
        f"{baseline / 2**20:.1f} MiB of the process at rest")
