"""Restore drills against S3 targets on a real (moto) server: digests, ground truth, RTO."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest
import xxhash

from backupcheck.manifest.build import build_manifest
from tests.conftest import S3Server, statuses, write_client

LOCK = {"ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}}}
PAB = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
       "RestrictPublicBuckets": True}


def make_bucket(s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=LOCK)
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=PAB)


def make_files(root: Path, seed: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    files = {f"docs/file{i:02d}.bin": rng.randbytes(rng.randint(1, 64 * 1024))
             for i in range(12)}
    files["images/big.img"] = rng.randbytes(20 * 1024 * 1024 + 123)  # ranged GET path
    files["empty.txt"] = b""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


@pytest.fixture
def estate(s3_server: S3Server, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    """A bucket with backup objects under a prefix, and their manifest made at backup time."""
    s3 = s3_server.client()
    bucket = f"drill-{request.node.name.replace('_', '-')[:40].lower()}"
    make_bucket(s3, bucket)
    source = tmp_path / "source"
    files = make_files(source, seed=len(bucket))
    for rel, data in files.items():
        s3.put_object(Bucket=bucket, Key=f"backup/{rel}", Body=data, ChecksumAlgorithm="SHA256")
    manifest = tmp_path / "targets" / "manifest.parquet"
    (tmp_path / "targets").mkdir()
    build_manifest(source, manifest)
    return {"s3": s3, "bucket": bucket, "files": files, "dir": tmp_path,
            "targets": tmp_path / "targets", "manifest": manifest}


def client_file(estate: dict[str, Any], s3_server: S3Server, *, manifest: str | None,
                rto: str = "4h") -> Path:
    line = f'manifest = "{manifest}"\n' if manifest else ""
    return write_client(estate["targets"], "acme", f'''
client = "acme"
rpo = "26h"
rto = "{rto}"
[[targets]]
name = "acme-s3"
kind = "s3"
bucket = "{estate['bucket']}"
prefix = "backup/"
endpoint_url = "{s3_server.url}"
{line}''')


def plan_file(directory: Path, files: int = 50, max_bytes: str = "1GiB") -> Path:
    path = directory / "plan.toml"
    path.write_text(f'name = "test"\nfiles = {files}\nmax_bytes = "{max_bytes}"\n'
                    'read_data_subset = ""\njobs = 4\n')
    return path


def drill(cli: Any, estate: dict[str, Any], *extra: str) -> Any:
    return cli("drill", "--targets", str(estate["targets"]), "--format", "json",
               "--plan", str(plan_file(estate["dir"])),
               "--history", str(estate["dir"] / "history"), *extra)


def restore_of(document: dict[str, Any]) -> dict[str, Any]:
    restore: dict[str, Any] = document["clients"][0]["targets"][0]["restore"]
    return restore


def test_all_good_with_manifest(cli: Any, estate: dict[str, Any], s3_server: S3Server) -> None:
    client_file(estate, s3_server, manifest="manifest.parquet")
    result = drill(cli, estate)
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = result.json()
    checks = statuses(doc, "acme-s3")
    assert checks["restore.sample"] == "pass"
    assert checks["restore.rto"] == "pass"
    restore = restore_of(doc)
    assert restore["sampled"] == len(estate["files"]) == restore["verified"]
    assert restore["mismatched"] == restore["unreadable"] == 0
    assert restore["bytes"] == sum(len(d) for d in estate["files"].values())
    assert restore["coverage"] == pytest.approx(1.0)
    big = next(f for f in restore["files"] if f["path"] == "images/big.img")
    assert big["xxh3_128"] == xxhash.xxh3_128(estate["files"]["images/big.img"]).hexdigest()
    assert big["truth"] == "manifest"
    assert restore["estimated_full_restore_seconds"] > 0
    assert restore["estimate_method"]["total_files"] == len(estate["files"])


def test_replaced_object_version_is_a_digest_mismatch(cli: Any, estate: dict[str, Any],
                                                      s3_server: S3Server) -> None:
    client_file(estate, s3_server, manifest="manifest.parquet")
    victim = "docs/file03.bin"
    original = estate["files"][victim]
    estate["s3"].put_object(Bucket=estate["bucket"], Key=f"backup/{victim}",
                            Body=bytes(b ^ 0xFF for b in original), ChecksumAlgorithm="SHA256")
    result = drill(cli, estate)
    assert result.exit_code == 1
    doc = result.json()
    assert statuses(doc, "acme-s3")["restore.sample"] == "fail"
    problems = restore_of(doc)["problems"]
    assert [(p["path"], p["reason"]) for p in problems] == [(victim, "digest")]
    assert problems[0]["expected"] == xxhash.xxh3_128(original).hexdigest()


def test_no_ground_truth_is_a_warning(cli: Any, estate: dict[str, Any],
                                      s3_server: S3Server) -> None:
    client_file(estate, s3_server, manifest=None)
    result = drill(cli, estate)
    assert result.exit_code == 0
    doc = result.json()
    assert statuses(doc, "acme-s3")["restore.sample"] == "warn"
    assert restore_of(doc)["unproven"] == len(estate["files"])


def test_object_metadata_is_ground_truth(cli: Any, estate: dict[str, Any],
                                         s3_server: S3Server) -> None:
    client_file(estate, s3_server, manifest=None)
    s3, bucket = estate["s3"], estate["bucket"]
    for rel, data in estate["files"].items():
        digest = xxhash.xxh3_128(data).hexdigest()
        if rel == "docs/file05.bin":
            digest = "0" * 32  # metadata that does not match the bytes
        s3.put_object(Bucket=bucket, Key=f"backup/{rel}", Body=data,
                      Metadata={"xxh3-128": digest}, ChecksumAlgorithm="SHA256")
    result = drill(cli, estate)
    assert result.exit_code == 1
    restore = restore_of(result.json())
    assert {f["truth"] for f in restore["files"]} == {"metadata"}
    assert [(p["path"], p["reason"]) for p in restore["problems"]] == [
        ("docs/file05.bin", "digest")]


def test_rto_breach_fails(cli: Any, estate: dict[str, Any], s3_server: S3Server) -> None:
    # a network round trip alone takes longer than a millisecond
    client_file(estate, s3_server, manifest="manifest.parquet", rto="1ms")
    result = drill(cli, estate)
    assert result.exit_code == 1
    doc = result.json()
    assert statuses(doc, "acme-s3")["restore.rto"] == "fail"
    assert statuses(doc, "acme-s3")["restore.sample"] == "pass"


def test_same_seed_same_sample(cli: Any, estate: dict[str, Any], s3_server: S3Server) -> None:
    client_file(estate, s3_server, manifest="manifest.parquet")
    plan = estate["dir"] / "small.toml"
    plan.write_text('files = 4\nmax_bytes = "1MiB"\ninclude_newest = false\n'
                    'prefer_unverified = false\n')

    def sample(seed: str) -> list[str]:
        result = cli("drill", "--targets", str(estate["targets"]), "--format", "json",
                     "--plan", str(plan), "--seed", seed, "--no-history")
        restore = restore_of(result.json())
        assert restore["seed"] == int(seed)
        return [f["path"] for f in restore["files"]]

    first = sample("42")
    assert sample("42") == first
    assert len(first) == 4
    assert any(sample(str(s)) != first for s in (43, 44, 45))
    assert not (estate["dir"] / "history").exists()


def test_two_drills_two_history_rows_and_growing_coverage(cli: Any, estate: dict[str, Any],
                                                          s3_server: S3Server) -> None:
    client_file(estate, s3_server, manifest="manifest.parquet")
    plan = estate["dir"] / "small.toml"
    plan.write_text('files = 4\nmax_bytes = "1MiB"\ninclude_newest = false\n')
    history = estate["dir"] / "history"
    coverages = []
    for _ in range(2):
        result = cli("drill", "--targets", str(estate["targets"]), "--format", "json",
                     "--plan", str(plan), "--history", str(history))
        assert result.exit_code == 0, result.stderr
        coverages.append(restore_of(result.json())["coverage"])
    assert coverages[1] > coverages[0] > 0
    runs = ds.dataset(history / "runs", format="parquet", partitioning="hive").to_table()
    assert runs.num_rows == 2
    assert set(runs.column("target").to_pylist()) == {"acme-s3"}
    files = ds.dataset(history / "files", format="parquet", partitioning="hive").to_table()
    assert files.num_rows == 8
    duckdb = pytest.importorskip("duckdb")
    count = duckdb.sql(f"select count(*) from read_parquet('{history}/runs/*/*.parquet', "
                       "hive_partitioning=true) where client = 'acme'").fetchall()
    assert count == [(2,)]
    assert not [p for p in history.rglob("*") if p.name.startswith(".")]
    assert os.access(history, os.W_OK)
