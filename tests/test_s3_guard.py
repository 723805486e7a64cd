"""The read-only guard: a client from ``make_s3_client`` refuses every write before sending it."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from backupcheck.backends.s3guard import is_read_operation, make_s3_client, make_sts_client
from backupcheck.errors import ReadOnlyViolation
from tests.conftest import S3Server

BUCKET = "guard-bucket"


@pytest.fixture(scope="module")
def setup(s3_server: S3Server) -> Any:
    """An unguarded client (the test's own) with one existing object."""
    plain = s3_server.client()
    plain.create_bucket(Bucket=BUCKET)
    plain.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    plain.put_object(Bucket=BUCKET, Key="existing.vbk", Body=b"precious backup")
    return plain


@pytest.fixture
def guarded(s3_server: S3Server, setup: Any) -> Any:
    client = make_s3_client(endpoint_url=s3_server.url, region="us-east-1")
    yield client
    client.close()


def keys_and_versions(plain: Any) -> list[tuple[str, str, bool]]:
    listing = plain.list_object_versions(Bucket=BUCKET)
    entries = [(v["Key"], v["VersionId"], False) for v in listing.get("Versions", [])]
    entries += [(m["Key"], m["VersionId"], True) for m in listing.get("DeleteMarkers", [])]
    return sorted(entries)


WRITES: dict[str, Callable[[Any], Any]] = {
    "PutObject": lambda c: c.put_object(Bucket=BUCKET, Key="planted.txt", Body=b"x"),
    "DeleteObject": lambda c: c.delete_object(Bucket=BUCKET, Key="existing.vbk"),
    "DeleteObjects": lambda c: c.delete_objects(
        Bucket=BUCKET, Delete={"Objects": [{"Key": "existing.vbk"}]}),
    "CopyObject": lambda c: c.copy_object(Bucket=BUCKET, Key="copy.vbk",
                                          CopySource={"Bucket": BUCKET, "Key": "existing.vbk"}),
    "PutObjectLockConfiguration": lambda c: c.put_object_lock_configuration(
        Bucket=BUCKET, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}),
    "PutBucketVersioning": lambda c: c.put_bucket_versioning(
        Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"}),
    "CreateMultipartUpload": lambda c: c.create_multipart_upload(Bucket=BUCKET,
                                                                 Key="planted.bin"),
    "CreateBucket": lambda c: c.create_bucket(Bucket="guard-planted-bucket"),
    "DeleteBucket": lambda c: c.delete_bucket(Bucket=BUCKET),
    "PutObjectRetention": lambda c: c.put_object_retention(
        Bucket=BUCKET, Key="existing.vbk", Retention={"Mode": "GOVERNANCE",
                                                      "RetainUntilDate": "2030-01-01"}),
    "upload_fileobj": lambda c: c.upload_fileobj(io.BytesIO(b"x"), BUCKET, "planted2.txt"),
}


@pytest.mark.parametrize("operation", sorted(WRITES))
def test_writes_are_refused_before_sending(guarded: Any, setup: Any, operation: str) -> None:
    before = keys_and_versions(setup)
    with pytest.raises(ReadOnlyViolation, match="read-only"):
        WRITES[operation](guarded)
    # nothing reached the server: same objects, same versions, no markers, no new bucket
    assert keys_and_versions(setup) == before
    assert [k for k, _, marker in before if not marker] == ["existing.vbk"]
    assert setup.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    buckets = {b["Name"] for b in setup.list_buckets()["Buckets"]}
    assert "guard-planted-bucket" not in buckets
    assert BUCKET in buckets


def test_refusal_names_the_operation(guarded: Any) -> None:
    with pytest.raises(ReadOnlyViolation) as caught:
        guarded.delete_object(Bucket=BUCKET, Key="existing.vbk")
    assert "DeleteObject" in str(caught.value)
    assert caught.value.exit_code == 1


def test_the_unguarded_client_can_write(setup: Any) -> None:
    """Proves the refusals above come from the guard, not from the server or the setup."""
    setup.put_object(Bucket=BUCKET, Key="unguarded.txt", Body=b"y")
    assert any(k == "unguarded.txt" for k, _, _ in keys_and_versions(setup))
    version = setup.head_object(Bucket=BUCKET, Key="unguarded.txt")["VersionId"]
    setup.delete_object(Bucket=BUCKET, Key="unguarded.txt", VersionId=version)


def test_reads_work(guarded: Any) -> None:
    assert guarded.get_object(Bucket=BUCKET, Key="existing.vbk")["Body"].read() == (
        b"precious backup")
    assert guarded.head_object(Bucket=BUCKET, Key="existing.vbk")["ContentLength"] == 15
    assert guarded.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    keys = [o["Key"] for o in guarded.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert "existing.vbk" in keys
    pages = guarded.get_paginator("list_object_versions").paginate(Bucket=BUCKET)
    assert any(v["Key"] == "existing.vbk" for page in pages for v in page.get("Versions", []))
    with pytest.raises(ClientError) as missing:
        guarded.get_object(Bucket=BUCKET, Key="nope")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"


def test_every_client_is_guarded(s3_server: S3Server, setup: Any) -> None:
    """Two clients, two registrations: closing or creating one never unguards another."""
    first = make_s3_client(endpoint_url=s3_server.url)
    second = make_s3_client(endpoint_url=s3_server.url)
    first.close()
    with pytest.raises(ReadOnlyViolation):
        second.put_object(Bucket=BUCKET, Key="planted.txt", Body=b"x")
    second.close()


@pytest.mark.parametrize(("name", "allowed"), [
    ("GetObject", True), ("HeadObject", True), ("ListObjectVersions", True),
    ("GetObjectLockConfiguration", True), ("PutObject", False), ("DeleteObject", False),
    ("CopyObject", False), ("RestoreObject", False), ("SelectObjectContent", False),
    ("WriteGetObjectResponse", False), ("UploadPart", False),
    ("CompleteMultipartUpload", False), ("AbortMultipartUpload", False),
])
def test_allow_list(name: str, allowed: bool) -> None:
    assert is_read_operation(name) is allowed


def test_the_sts_client_asks_get_caller_identity_and_nothing_else(s3_server: S3Server) -> None:
    """The one STS question (which account are these credentials?) passes; every other STS
    operation, the credential-minting ones included, is refused before sending."""
    sts = make_sts_client(endpoint_url=s3_server.url, region="us-east-1")
    try:
        assert sts.get_caller_identity()["Account"] == "123456789012"  # moto's account
        for call in (lambda: sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/x",
                                             RoleSessionName="s"),
                     lambda: sts.get_session_token(),
                     lambda: sts.get_federation_token(Name="x"),
                     lambda: sts.get_access_key_info(AccessKeyId="AKIAIOSFODNN7EXAMPLE")):
            with pytest.raises(ReadOnlyViolation, match="GetCallerIdentity"):
                call()
    finally:
        sts.close()
