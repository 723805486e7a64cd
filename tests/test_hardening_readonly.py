"""Read-only proof: a full run changes no byte, version or setting of any bucket.

Every object version and delete marker of every bucket on the S3 server (the restic
repositories' buckets included) is listed before and after ``drill``, ``verify`` and
``inventory`` over an estate of S3 and restic-on-S3 targets, and must be identical. A
restic that wrote a lock, a guard that let a PUT through, a ``DeleteObject`` sent by
mistake: each leaves a new version or a delete marker behind in a versioned bucket. The
guard itself is shown to refuse every non-read operation of the S3 API before a byte
leaves the process.
"""

from __future__ import annotations

import io
import random
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from backupcheck.backends.s3guard import make_s3_client
from backupcheck.errors import ReadOnlyViolation
from backupcheck.manifest.build import build_manifest
from tests.conftest import S3Server, run_cli, write_client
from tests.faultproxy import FaultProxy
from tests.restic_helpers import init_s3_repo, make_tree, target_toml

MiB = 1024 * 1024
LOCK = {"ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}}}
#: bucket-level settings a run must not change either (None: not configured)
SETTINGS = ("get_bucket_versioning", "get_object_lock_configuration", "get_bucket_encryption",
            "get_public_access_block", "get_bucket_policy", "get_bucket_lifecycle_configuration")


def _setting(s3: Any, bucket: str, getter: str) -> Any:
    try:
        answer = getattr(s3, getter)(Bucket=bucket)
    except ClientError as exc:
        return ("not configured", exc.response.get("Error", {}).get("Code"))
    answer.pop("ResponseMetadata", None)
    return answer


def server_state(s3: Any) -> dict[str, Any]:
    """Every bucket: its settings, every version and delete marker (key, version id, etag,
    size, last modified, latest)."""
    state: dict[str, Any] = {}
    for bucket in sorted(b["Name"] for b in s3.list_buckets()["Buckets"]):
        versions: list[tuple[Any, ...]] = []
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            versions += [("version", v["Key"], v["VersionId"], v["ETag"], v["Size"],
                          v["LastModified"], v["IsLatest"]) for v in page.get("Versions", [])]
            versions += [("marker", m["Key"], m["VersionId"], "", 0, m["LastModified"],
                          m["IsLatest"]) for m in page.get("DeleteMarkers", [])]
        state[bucket] = {"versions": sorted(versions, key=repr),
                         "settings": {g: _setting(s3, bucket, g) for g in SETTINGS}}
    return state


@pytest.fixture(scope="module")
def estate(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An object-locked S3 target (a ranged-GET-sized object, a manifest on S3) and a restic
    repository in an object-locked bucket."""
    s3 = s3_server.client()
    root = tmp_path_factory.mktemp("readonly")
    rng = random.Random(4)
    files = {"big.vbk": rng.randbytes(17 * MiB), "inc/1.vib": rng.randbytes(300_000),
             "inc/2.vib": rng.randbytes(5000)}
    source = make_tree(root / "source", files)
    bucket = "hardening-readonly"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=LOCK)
    for rel, data in files.items():
        s3.put_object(Bucket=bucket, Key=f"veeam/{rel}", Body=data)
    s3.delete_object(Bucket=bucket, Key="veeam/inc/2.vib")  # a delete marker, hiding one
    s3.put_object(Bucket=bucket, Key="veeam/inc/2.vib", Body=files["inc/2.vib"])
    # a policy and a lifecycle configuration, so that reading them is shown to change neither
    s3.put_bucket_policy(Bucket=bucket, Policy=(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": '
        '"arn:aws:iam::123456789012:role/veeam"}, "Action": "s3:GetObject", "Resource": '
        f'"arn:aws:s3:::{bucket}/*"}}]}}'))
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "uploads", "Status": "Enabled", "Filter": {"Prefix": ""},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]})
    build_manifest(source, root / "m.parquet", workers=1)
    s3.put_object(Bucket=bucket, Key="manifests/veeam.parquet",
                  Body=(root / "m.parquet").read_bytes())
    repo = init_s3_repo(s3_server, "hardening-readonly-restic", root / "restic")
    repo.backup(make_tree(root / "fileserver", {"share/q3.xlsx": rng.randbytes(2 * MiB),
                                                "share/notes.txt": b"notes\n" * 100}))
    targets = root / "targets"
    write_client(targets, "lockedclient", f'''client = "lockedclient"
rpo = "26h"
rto = "4h"
[[targets]]
name = "veeam"
kind = "s3"
bucket = "{bucket}"
prefix = "veeam/"
endpoint_url = "{s3_server.url}"
manifest = "s3://{bucket}/manifests/veeam.parquet"
''')
    write_client(targets, "resticclient", target_toml("resticclient", repo))
    plan = root / "plan.toml"
    plan.write_text('name = "proof"\nfiles = 20\nmax_bytes = "1GiB"\nread_data_subset = "100%"'
                    '\njobs = 4\n', encoding="utf-8")
    return {"targets": targets, "plan": plan, "root": root}


def test_a_full_run_changes_nothing_on_the_server(s3_server: S3Server,
                                                  estate: dict[str, Any]) -> None:
    s3 = s3_server.client()
    before = server_state(s3)
    assert {"hardening-readonly", "hardening-readonly-restic"} <= set(before)
    assert any(v[0] == "marker" for v in before["hardening-readonly"]["versions"])
    targets, plan = str(estate["targets"]), str(estate["plan"])
    history = str(estate["root"] / "history")

    drill = run_cli("drill", "--targets", targets, "--plan", plan, "--history", history,
                    "--format", "json")
    # the drill read every pack (read_data_subset 100%); the others check the structure
    verify = run_cli("verify", "--targets", targets, "--plan", plan, "--format", "json",
                     "--read-data-subset", "")
    inventory = run_cli("inventory", "--targets", targets, "--format", "json",
                        "--out", str(estate["root"] / "inventory.parquet"))

    after = server_state(s3)
    # the runs really read everything they could (a vacuous run proves nothing)
    restores = {t["target"]: t["restore"] for c in drill.json()["clients"]
                for t in c["targets"]}
    assert drill.exit_code in (0, 1), drill.stderr
    assert restores["veeam"]["verified"] == 3, restores["veeam"]
    assert restores["resticclient"]["sampled"] == 2
    assert restores["resticclient"]["unreadable"] == 0
    checks = {c["id"]: c for c in drill.json()["clients"][1]["targets"][0]["checks"]}
    assert checks["restic.integrity"]["status"] == "pass"  # read all data: 100%
    assert verify.exit_code in (0, 1), verify.stderr
    assert inventory.exit_code in (0, 1), inventory.stderr
    policy_checks = {c["id"]: c for c in verify.json()["clients"][0]["targets"][0]["checks"]}
    assert policy_checks["s3.bucket_policy"]["evidence"]["policy"] is True
    assert policy_checks["s3.lifecycle"]["evidence"]["rules"] == 1
    # ... and changed nothing: same buckets, versions, delete markers, settings
    assert set(after) == set(before)
    for bucket in before:
        assert after[bucket] == before[bucket], bucket


def test_the_guard_refuses_every_non_read_operation_before_sending(
        s3_server: S3Server) -> None:
    """All of the S3 API that does not start with Get/Head/List: refused, nothing sent."""
    proxy = FaultProxy(s3_server.host, s3_server.port)
    client = make_s3_client(endpoint_url=proxy.url, region="us-east-1")
    try:
        names = client.meta.service_model.operation_names
        writes = [name for name in names if not name.startswith(("Get", "Head", "List"))]
        assert {"RestoreObject", "PutObjectRetention", "DeleteObjects", "CreateMultipartUpload",
                "PutObject", "DeleteObject", "CopyObject", "PutBucketVersioning",
                "PutObjectLegalHold", "DeleteBucket", "SelectObjectContent",
                "WriteGetObjectResponse", "CreateSession"} <= set(writes)
        for name in writes:
            with pytest.raises(ReadOnlyViolation, match=name):
                # parameters do not matter: the guard runs before botocore even checks them
                getattr(client, xform_name(name))(Bucket="hardening-guard", Key="k")
        # boto3's managed transfers are built on the same operations
        with pytest.raises(ReadOnlyViolation):
            client.upload_fileobj(io.BytesIO(b"x"), "hardening-guard", "k")
        assert proxy.requests == []  # not one byte reached the server
        client.list_buckets()  # a read goes through the same proxy, and is seen there
        assert [r.method for r in proxy.requests] == ["GET"]
    finally:
        client.close()
        proxy.close()
