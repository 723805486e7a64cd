"""``verify`` end to end against a real S3 server (moto, server mode, loopback).

One bucket per state, each its own client file, so every state's statuses and exit code can
be asserted alone (``--client``) and all together.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from backupcheck.backends import s3_backend
from tests.conftest import S3Server, statuses, write_client

P = "vfy-"  # bucket names unique to this module (the server is shared by the session)
ALL_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
          "RestrictPublicBuckets": True}
ALL_PASS = dict.fromkeys(("s3.versioning", "s3.object_lock", "s3.object_lock.mode",
                          "s3.object_lock.retention", "s3.objects.locked",
                          "s3.objects.overwritten", "s3.lifecycle", "s3.bucket_policy",
                          "s3.encryption", "s3.objects.encrypted", "s3.delete_markers",
                          "s3.public_access", "s3.freshness"), "pass")
#: moto's account: what STS GetCallerIdentity answers for the test credentials
MOTO_ACCOUNT = "123456789012"
STALE_RPO_SECONDS = 1.0


@dataclass
class Estate:
    targets: Path
    url: str
    kms_key_id: str
    kms_key_arn: str
    stale_written_at: float


def _locked_bucket(s3: Any, name: str, mode: str | None, days: int | None) -> None:
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    config: dict[str, Any] = {"ObjectLockEnabled": "Enabled"}
    if mode:
        config["Rule"] = {"DefaultRetention": {"Mode": mode, "Days": days}}
    s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration=config)


def _encrypt(s3: Any, name: str, key_arn: str | None = None) -> None:
    default: dict[str, str] = {"SSEAlgorithm": "AES256"}
    if key_arn:
        default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": default,
                   "BucketKeyEnabled": bool(key_arn)}]})


def _block_public(s3: Any, name: str) -> None:
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=ALL_ON)


def _put(s3: Any, bucket: str, *keys: str) -> None:
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=f"backup data of {key}".encode())


def _add_default_retention_later(bucket: str, mode: str, days: int) -> None:
    """Add a default lock rule to a bucket that already holds objects.

    Real S3 allows this (it is exactly how "objects written before the lock rule" happen);
    moto refuses PutObjectLockConfiguration on a non-empty bucket, so the rule is set in the
    in-process server's state, as the API would have.
    """
    from moto.s3.models import s3_backends

    partition, account = s3_backends.bucket_accounts[bucket]
    state = s3_backends[account][partition].buckets[bucket]
    state.default_lock_mode, state.default_lock_days, state.default_lock_years = mode, days, 0


def _client_file(directory: Path, name: str, url: str, bucket: str, *, rpo: str = "26h",
                 policy: str = "", prefix: str = "") -> None:
    body = f'client = "{name}"\nrpo = "{rpo}"\nrto = "4h"\n'
    if policy:
        body += f"\n[policy]\n{policy}\n"
    body += (f'\n[[targets]]\nname = "{name}"\nkind = "s3"\nbucket = "{bucket}"\n'
             f'endpoint_url = "{url}"\nregion = "us-east-1"\n')
    if prefix:
        body += f'prefix = "{prefix}"\n'
    write_client(directory, name, body)


@pytest.fixture(scope="module")
def estate(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    s3 = s3_server.client()
    key = s3_server.client("kms").create_key(Description="backupcheck test key")["KeyMetadata"]
    targets = tmp_path_factory.mktemp("verify") / "targets"
    url = s3_server.url

    # stale first, so its newest object is as old as possible when the stale test runs
    _locked_bucket(s3, P + "stale", "COMPLIANCE", 30)
    _encrypt(s3, P + "stale")
    _block_public(s3, P + "stale")
    _put(s3, P + "stale", "Veeam/full.vbk")
    stale_written_at = time.monotonic()
    _client_file(targets, "stale", url, P + "stale", rpo=f"{STALE_RPO_SECONDS:.0f}s")

    # compliant: versioned, COMPLIANCE 30 d, SSE-KMS with the policy's key, public access blocked
    _locked_bucket(s3, P + "compliant", "COMPLIANCE", 30)
    _encrypt(s3, P + "compliant", key["Arn"])
    _block_public(s3, P + "compliant")
    _put(s3, P + "compliant", "Veeam/full.vbk", "Veeam/incr-1.vib", "Veeam/incr-2.vib")
    _client_file(targets, "compliant", url, P + "compliant",
                 policy=f'encryption = "aws:kms"\nkms_key_id = "{key["KeyId"]}"')

    # GOVERNANCE 7 d against the default policy (COMPLIANCE, 30 d)
    _locked_bucket(s3, P + "governance", "GOVERNANCE", 7)
    _encrypt(s3, P + "governance")
    _block_public(s3, P + "governance")
    _put(s3, P + "governance", "Veeam/full.vbk")
    _client_file(targets, "governance", url, P + "governance")

    # a plain versioned bucket: no Object Lock at all
    s3.create_bucket(Bucket=P + "nolock")
    s3.put_bucket_versioning(Bucket=P + "nolock", VersioningConfiguration={"Status": "Enabled"})
    _encrypt(s3, P + "nolock")
    _block_public(s3, P + "nolock")
    _put(s3, P + "nolock", "Veeam/full.vbk")
    _client_file(targets, "nolock", url, P + "nolock")

    # locked, but no default encryption: objects are stored unencrypted
    _locked_bucket(s3, P + "noenc", "COMPLIANCE", 30)
    _block_public(s3, P + "noenc")
    _put(s3, P + "noenc", "Veeam/full.vbk")
    _client_file(targets, "noenc", url, P + "noenc")

    # objects written before the lock rule existed: they carry no retention
    _locked_bucket(s3, P + "prelock", None, None)
    _encrypt(s3, P + "prelock")
    _block_public(s3, P + "prelock")
    _put(s3, P + "prelock", "old/full.vbk", "old/incr-1.vib")
    _add_default_retention_later(P + "prelock", "COMPLIANCE", 30)
    _put(s3, P + "prelock", "new/full.vbk")
    _client_file(targets, "prelock", url, P + "prelock")
    _client_file(targets, "prelock-new", url, P + "prelock", prefix="new/")

    # a backup hidden behind a delete marker
    _locked_bucket(s3, P + "deleted", "COMPLIANCE", 30)
    _encrypt(s3, P + "deleted")
    _block_public(s3, P + "deleted")
    _put(s3, P + "deleted", "Veeam/full.vbk", "Veeam/incr-1.vib")
    s3.delete_object(Bucket=P + "deleted", Key="Veeam/incr-1.vib")  # a marker, not a deletion
    _client_file(targets, "deleted", url, P + "deleted")

    # the writer's own per-object lock is weaker than the bucket default and the policy
    _locked_bucket(s3, P + "weaklock", "COMPLIANCE", 30)
    _encrypt(s3, P + "weaklock")
    _block_public(s3, P + "weaklock")
    _put(s3, P + "weaklock", "Veeam/full.vbk")
    soon = datetime.now(UTC) + timedelta(hours=1)
    for name in ("Veeam/incr-1.vib", "Veeam/incr-2.vib"):
        s3.put_object(Bucket=P + "weaklock", Key=name, Body=b"incremental",
                      ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=soon)
    _client_file(targets, "weaklock", url, P + "weaklock")

    # a lock undone by configuration: anyone may bypass governance retention and delete
    # versions, and a lifecycle rule expires current and noncurrent versions after a day.
    # (AWS refuses a public policy while BlockPublicPolicy is on, so the block is off here.)
    _locked_bucket(s3, P + "undone", "COMPLIANCE", 30)
    _encrypt(s3, P + "undone")
    _put(s3, P + "undone", "Veeam/full.vbk")
    s3.put_bucket_policy(Bucket=P + "undone", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Sid": "LetAnyoneClean", "Effect": "Allow", "Principal": "*",
            "Action": ["s3:BypassGovernanceRetention", "s3:DeleteObjectVersion"],
            "Resource": f"arn:aws:s3:::{P}undone/*"}]}))
    s3.put_bucket_lifecycle_configuration(Bucket=P + "undone", LifecycleConfiguration={
        "Rules": [{"ID": "cleanup", "Status": "Enabled", "Filter": {"Prefix": ""},
                   "Expiration": {"Days": 1},
                   "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})
    _client_file(targets, "undone", url, P + "undone")

    # the MSP's own backup role may delete versions: a warning, not a failure; a Deny for
    # everyone takes back what a broad grant gave; a lifecycle rule elsewhere is harmless
    _locked_bucket(s3, P + "ownpolicy", "COMPLIANCE", 30)
    _encrypt(s3, P + "ownpolicy")
    _block_public(s3, P + "ownpolicy")
    _put(s3, P + "ownpolicy", "Veeam/full.vbk")
    s3.put_bucket_policy(Bucket=P + "ownpolicy", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Sid": "BackupRole", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{MOTO_ACCOUNT}:role/veeam"},
             "Action": "s3:DeleteObjectVersion", "Resource": f"arn:aws:s3:::{P}ownpolicy/*"},
            {"Sid": "Partner", "Effect": "Allow",
             "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
             "Action": "s3:*", "Resource": f"arn:aws:s3:::{P}ownpolicy/*"},
            # moto enforces Deny statements whatever their principal, so this one names
            # only writes (a Deny of s3:* would lock the tool's own reads out)
            {"Sid": "NoLockChanges", "Effect": "Deny",
             "Principal": {"AWS": "444455556666"},
             "Action": ["s3:Delete*", "s3:PutObject*", "s3:BypassGovernanceRetention"],
             "Resource": f"arn:aws:s3:::{P}ownpolicy/*"}]}))
    s3.put_bucket_lifecycle_configuration(Bucket=P + "ownpolicy", LifecycleConfiguration={
        "Rules": [{"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
                   "Expiration": {"Days": 1}}]})
    _client_file(targets, "ownpolicy", url, P + "ownpolicy", prefix="Veeam/")

    # targets that cannot be checked at all
    _client_file(targets, "missing", url, P + "does-not-exist")
    _client_file(targets, "unreachable", "http://127.0.0.1:1", P + "compliant")

    yield Estate(targets=targets, url=url, kms_key_id=key["KeyId"], kms_key_arn=key["Arn"],
                 stale_written_at=stale_written_at)


def verify(cli: Any, estate: Estate, *clients: str) -> tuple[int, dict[str, Any]]:
    args = ["verify", "--targets", str(estate.targets), "--format", "json"]
    for client in clients:
        args += ["--client", client]
    result = cli(*args)
    assert "Traceback" not in result.stderr
    document = result.json()
    assert document["schema"] == "backupcheck.report/1"
    assert document["command"] == "verify"
    return result.exit_code, document


def checks_of(document: dict[str, Any], target: str) -> dict[str, dict[str, Any]]:
    for client in document["clients"]:
        for t in client["targets"]:
            if t["target"] == target:
                return {c["id"]: c for c in t["checks"]}
    raise KeyError(target)


def test_compliant_bucket_passes_everything(cli: Any, estate: Estate) -> None:
    code, document = verify(cli, estate, "compliant")
    assert statuses(document, "compliant") == ALL_PASS
    assert document["status"] == "pass"
    assert code == 0
    checks = checks_of(document, "compliant")
    assert checks["s3.object_lock.mode"]["evidence"]["default_mode"] == "COMPLIANCE"
    assert checks["s3.object_lock.retention"]["evidence"]["default_retention_days"] == 30
    encryption = checks["s3.encryption"]["evidence"]
    assert (encryption["algorithm"], encryption["kms_key_id"]) == ("aws:kms", estate.kms_key_arn)
    assert encryption["bucket_key_enabled"] is True
    assert checks["s3.objects.locked"]["evidence"]["checked"] == 3
    assert checks["s3.objects.locked"]["evidence"]["sampled"] is False
    assert checks["s3.objects.encrypted"]["evidence"]["algorithms"] == ["aws:kms"]
    assert checks["s3.freshness"]["evidence"]["newest_key"].startswith("Veeam/")


def test_governance_seven_days_fails_mode_and_retention(cli: Any, estate: Estate) -> None:
    code, document = verify(cli, estate, "governance")
    # the objects inherit the weak default: they too are locked weaker than the policy asks
    assert statuses(document, "governance") == {
        **ALL_PASS, "s3.object_lock.mode": "fail", "s3.object_lock.retention": "fail",
        "s3.objects.locked": "fail"}
    assert code == 1
    checks = checks_of(document, "governance")
    assert checks["s3.object_lock.mode"]["evidence"] == {
        "bucket": P + "governance", "default_mode": "GOVERNANCE", "required": "COMPLIANCE"}
    assert checks["s3.object_lock.retention"]["evidence"]["default_retention_days"] == 7
    assert "7 days" in checks["s3.object_lock.retention"]["message"]


def test_bucket_without_object_lock(cli: Any, estate: Estate) -> None:
    code, document = verify(cli, estate, "nolock")
    assert statuses(document, "nolock") == {
        **ALL_PASS, "s3.object_lock": "fail", "s3.object_lock.mode": "fail",
        "s3.object_lock.retention": "fail", "s3.objects.locked": "fail"}
    assert code == 1
    locked = checks_of(document, "nolock")["s3.objects.locked"]["evidence"]
    assert (locked["unlocked"], locked["unlocked_examples"]) == (1, ["Veeam/full.vbk"])


def test_bucket_without_default_encryption(cli: Any, estate: Estate) -> None:
    code, document = verify(cli, estate, "noenc")
    assert statuses(document, "noenc") == {
        **ALL_PASS, "s3.encryption": "fail", "s3.objects.encrypted": "fail"}
    assert code == 1
    checks = checks_of(document, "noenc")
    assert checks["s3.encryption"]["evidence"]["algorithm"] == ""
    assert checks["s3.objects.encrypted"]["evidence"]["unencrypted_examples"] == [
        "Veeam/full.vbk"]


def test_objects_written_before_the_lock_rule(cli: Any, estate: Estate) -> None:
    code, document = verify(cli, estate, "prelock", "prelock-new")
    assert statuses(document, "prelock") == {**ALL_PASS, "s3.objects.locked": "fail"}
    locked = checks_of(document, "prelock")["s3.objects.locked"]
    assert locked["evidence"]["unlocked"] == 2
    assert locked["evidence"]["current_versions"] == 3
    assert sorted(locked["evidence"]["unlocked_examples"]) == ["old/full.vbk", "old/incr-1.vib"]
    assert "2 of 3" in locked["message"]
    # the same bucket seen through a prefix holding only later objects is fine
    assert statuses(document, "prelock-new") == ALL_PASS
    assert checks_of(document, "prelock-new")["s3.objects.locked"]["evidence"]["checked"] == 1
    assert code == 1


def test_objects_written_with_a_weaker_lock_than_the_policy_fail(cli: Any,
                                                                 estate: Estate) -> None:
    """Per-object GOVERNANCE retention of one hour under a COMPLIANCE 30 d default: the objects
    are "locked" (unexpired retention), but anyone allowed to bypass governance retention can
    delete them, and in an hour anyone can."""
    code, document = verify(cli, estate, "weaklock")
    assert statuses(document, "weaklock") == {**ALL_PASS, "s3.objects.locked": "fail"}
    locked = checks_of(document, "weaklock")["s3.objects.locked"]
    evidence = locked["evidence"]
    assert (evidence["weaker_mode"], evidence["short_retention"]) == (2, 2)
    assert sorted(evidence["weaker_mode_examples"]) == ["Veeam/incr-1.vib", "Veeam/incr-2.vib"]
    assert evidence["unlocked"] == 0
    earliest = datetime.fromisoformat(evidence["earliest_retain_until"])
    assert earliest < datetime.now(UTC) + timedelta(hours=2)
    assert "2 of 3" in locked["message"]
    assert code == 1


def test_policy_and_lifecycle_that_undo_the_lock_fail(cli: Any, estate: Estate) -> None:
    code, document = verify(cli, estate, "undone")
    assert statuses(document, "undone") == {
        **ALL_PASS, "s3.lifecycle": "fail", "s3.bucket_policy": "fail",
        "s3.public_access": "warn"}
    checks = checks_of(document, "undone")
    lifecycle = checks["s3.lifecycle"]["evidence"]
    assert [(o["rule"], o["expires"], o["after_days"]) for o in lifecycle["offending"]] == [
        ("cleanup", "current versions", 1), ("cleanup", "noncurrent versions", 1)]
    policy = checks["s3.bucket_policy"]
    assert policy["evidence"]["grants"] == [{
        "statement": "LetAnyoneClean", "principal": "*", "scope": "anyone",
        "actions": ["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"],
        "conditional": False}]
    assert policy["evidence"]["is_public"] is True  # GetBucketPolicyStatus agrees
    assert "s3:BypassGovernanceRetention" in policy["message"]
    assert code == 1


def test_own_account_grant_warns_and_a_deny_cancels(cli: Any, estate: Estate) -> None:
    """The account comes from STS GetCallerIdentity (moto answers 123456789012)."""
    code, document = verify(cli, estate, "ownpolicy")
    assert statuses(document, "ownpolicy") == {**ALL_PASS, "s3.bucket_policy": "warn"}
    evidence = checks_of(document, "ownpolicy")["s3.bucket_policy"]["evidence"]
    assert evidence["own_account"] == MOTO_ACCOUNT
    assert [(g["statement"], g["scope"]) for g in evidence["grants"]] == [
        ("BackupRole", "same account")]
    assert any("Partner" in line for line in evidence["cancelled_by_deny"])
    lifecycle = checks_of(document, "ownpolicy")["s3.lifecycle"]["evidence"]
    assert lifecycle["rules"] == 1 and lifecycle["rules_applying"] == []
    assert code == 0


def test_key_hidden_behind_a_delete_marker_warns(cli: Any, estate: Estate) -> None:
    code, document = verify(cli, estate, "deleted")
    assert statuses(document, "deleted") == {**ALL_PASS, "s3.delete_markers": "warn"}
    evidence = checks_of(document, "deleted")["s3.delete_markers"]["evidence"]
    assert evidence["delete_markers"] == 1
    assert evidence["hidden_keys"] == 1
    assert evidence["hidden_examples"] == ["Veeam/incr-1.vib"]
    assert document["status"] == "warn"
    assert code == 0  # warnings are allowed


def test_stale_bucket_fails_freshness(cli: Any, estate: Estate) -> None:
    wait = STALE_RPO_SECONDS + 0.6 - (time.monotonic() - estate.stale_written_at)
    if wait > 0:
        time.sleep(wait)
    code, document = verify(cli, estate, "stale")
    assert statuses(document, "stale") == {**ALL_PASS, "s3.freshness": "fail"}
    evidence = checks_of(document, "stale")["s3.freshness"]["evidence"]
    assert evidence["rpo_seconds"] == STALE_RPO_SECONDS
    assert evidence["age_seconds"] > STALE_RPO_SECONDS
    assert evidence["newest_key"] == "Veeam/full.vbk"
    assert code == 1


def test_missing_bucket_is_error_and_exit_3(cli: Any, estate: Estate) -> None:
    code, document = verify(cli, estate, "missing")
    found = statuses(document, "missing")
    assert set(found) == set(ALL_PASS)
    assert set(found.values()) == {"error"}
    assert "does not exist" in checks_of(document, "missing")["s3.versioning"]["message"]
    assert document["status"] == "error"
    assert code == 3


def test_unreachable_endpoint_is_error_within_seconds(cli: Any, estate: Estate) -> None:
    started = time.monotonic()
    code, document = verify(cli, estate, "unreachable")
    elapsed = time.monotonic() - started
    assert set(statuses(document, "unreachable").values()) == {"error"}
    assert "127.0.0.1:1" in checks_of(document, "unreachable")["s3.versioning"]["message"]
    assert code == 3
    assert elapsed < 30, elapsed  # a sanity bound (short connect timeout), not a benchmark


def test_only_unreachable_targets_exit_3(cli: Any, estate: Estate) -> None:
    code, document = verify(cli, estate, "missing", "unreachable", "deleted")
    assert document["status"] == "error"
    assert code == 3


def test_whole_estate_every_target_gets_its_result(cli: Any, estate: Estate) -> None:
    code, document = verify(cli, estate)
    by_client = {c["client"]: c["status"] for c in document["clients"]}
    assert by_client == {
        "compliant": "pass", "deleted": "warn", "governance": "fail", "missing": "error",
        "noenc": "fail", "nolock": "fail", "prelock": "fail", "prelock-new": "pass",
        "stale": "fail", "unreachable": "error", "weaklock": "fail", "undone": "fail",
        "ownpolicy": "warn"}
    assert document["status"] == "fail"
    assert code == 1


def test_table_output_groups_by_client_with_hints(cli: Any, estate: Estate) -> None:
    result = cli("verify", "--targets", str(estate.targets), "--client", "governance",
                 "--client", "compliant")
    assert result.exit_code == 1
    out = result.stdout
    assert "governance" in out and "compliant" in out
    assert out.index("governance — FAIL") < out.index("compliant — PASS")  # failures first
    # the remediation hint under each failing check (the table wraps it in narrow terminals)
    assert "→ set the bucket's default" in out
    assert "→ raise the default" in out
    assert out.count("→") == 3  # passing checks carry no hint (mode, retention, objects)
    assert "overall: FAIL" in out


@pytest.mark.parametrize(("operation", "denied_checks"), [
    ("GetBucketEncryption", ("s3.encryption",)),
    ("GetBucketVersioning", ("s3.versioning",)),
    ("GetObjectLockConfiguration", ("s3.object_lock", "s3.object_lock.mode",
                                    "s3.object_lock.retention")),
    ("GetPublicAccessBlock", ("s3.public_access",)),
    ("GetBucketLifecycleConfiguration", ("s3.lifecycle",)),
    ("GetBucketPolicy", ("s3.bucket_policy",)),
    ("HeadObject", ("s3.objects.locked", "s3.objects.encrypted")),
    ("ListObjectVersions", ("s3.objects.locked", "s3.objects.overwritten",
                            "s3.objects.encrypted", "s3.delete_markers", "s3.freshness")),
])
def test_access_denied_on_one_call_is_error_for_its_checks_only(
        cli: Any, estate: Estate, monkeypatch: pytest.MonkeyPatch, operation: str,
        denied_checks: tuple[str, ...]) -> None:
    """Fault injection: the server answers one operation with 403 AccessDenied."""
    deny_operation(monkeypatch, operation)
    code, document = verify(cli, estate, "compliant")
    assert statuses(document, "compliant") == {**ALL_PASS,
                                               **dict.fromkeys(denied_checks, "error")}
    for check in denied_checks:
        assert "AccessDenied" in checks_of(document, "compliant")[check]["message"]
    assert document["status"] == "error"
    assert code == 3


def test_denied_listing_does_not_hide_bucket_failures(
        cli: Any, estate: Estate, monkeypatch: pytest.MonkeyPatch) -> None:
    """Objects unlistable, settings readable: a bucket without Object Lock still fails (exit 1)."""
    deny_operation(monkeypatch, "ListObjectVersions")
    code, document = verify(cli, estate, "nolock")
    assert statuses(document, "nolock") == {
        **ALL_PASS, "s3.object_lock": "fail", "s3.object_lock.mode": "fail",
        "s3.object_lock.retention": "fail", "s3.objects.locked": "error",
        "s3.objects.overwritten": "error", "s3.objects.encrypted": "error",
        "s3.delete_markers": "error", "s3.freshness": "error"}
    assert code == 1


def test_everything_denied_is_an_unavailable_target(
        cli: Any, estate: Estate, monkeypatch: pytest.MonkeyPatch) -> None:
    deny_operation(monkeypatch, "")
    code, document = verify(cli, estate, "compliant")
    assert set(statuses(document, "compliant").values()) == {"error"}
    message = checks_of(document, "compliant")["s3.versioning"]["message"]
    assert "AccessDenied" in message and P + "compliant" in message
    assert code == 3


def deny_operation(monkeypatch: pytest.MonkeyPatch, operation: str) -> None:
    """Fault injection: every S3 client the tool makes gets 403 AccessDenied for ``operation``
    (every operation when it is "").

    The client is real and guarded; only that one call is answered without reaching the server.
    """
    real_make_client = s3_backend.make_s3_client

    def deny(**_: Any) -> tuple[Any, dict[str, Any]]:
        parsed = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"},
                  "ResponseMetadata": {"HTTPStatusCode": 403}}
        return SimpleNamespace(status_code=403, headers={}), parsed

    def make_client(**kwargs: Any) -> Any:
        client = real_make_client(**kwargs)
        client.meta.events.register(f"before-call.s3.{operation}".rstrip("."), deny)
        return client

    monkeypatch.setattr(s3_backend, "make_s3_client", make_client)
