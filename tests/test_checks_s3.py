"""Every ``s3.*`` check as a pure function over hand-built facts: pass, fail, error."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backupcheck.backends.s3 import BucketProtection, BucketSettings, HeadFacts, ObjectScan
from backupcheck.checks import s3 as checks
from backupcheck.checks.registry import HINTS
from backupcheck.checks.s3 import S3Facts
from backupcheck.model import Policy, Status

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:eu-central-1:111122223333:key/{KEY_ID}"
OTHER_ARN = "arn:aws:kms:eu-central-1:111122223333:key/ffffffff-0000-0000-0000-000000000000"
ALL_ON = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
          "RestrictPublicBuckets": True}


def good_settings(**changes: Any) -> BucketSettings:
    settings = BucketSettings(
        bucket="acme-veeam", versioning="Enabled", object_lock_enabled=True,
        lock_mode="COMPLIANCE", lock_days=30, encryption_algorithm="aws:kms",
        kms_key_id=KEY_ARN, bucket_key_enabled=True, public_access_block=dict(ALL_ON))
    return replace(settings, **changes)


def head(key: str, **changes: Any) -> HeadFacts:
    facts = HeadFacts(key=key, version_id=f"v-{key}", lock_mode="COMPLIANCE",
                      retain_until=NOW + timedelta(days=20), legal_hold=False,
                      encryption="aws:kms", kms_key_id=KEY_ARN, metadata={})
    return replace(facts, **changes)


def good_scan(**changes: Any) -> ObjectScan:
    heads = [head(f"Veeam/blk{i}.vbk") for i in range(3)]
    scan = ObjectScan(versions=4, delete_markers=0, current=3, current_bytes=300, all_bytes=400,
                      newest=NOW - timedelta(hours=5), oldest=NOW - timedelta(days=40),
                      newest_key="Veeam/blk2.vbk", heads=heads, seed=7)
    for name, value in changes.items():
        setattr(scan, name, value)
    return scan


def facts(settings: BucketSettings | None = None, scan: ObjectScan | None = None,
          policy: Policy | None = None, rpo_seconds: float = 26 * 3600,
          protection: BucketProtection | None = None, prefix: str = "Veeam/") -> S3Facts:
    return S3Facts(policy=policy or Policy(), rpo_seconds=rpo_seconds, now=NOW,
                   settings=settings or good_settings(), scan=scan or good_scan(),
                   prefix=prefix, protection=protection or BucketProtection())


def test_all_checks_pass_on_a_compliant_bucket_in_spec_order() -> None:
    findings = checks.run_all(facts(policy=Policy(encryption="aws:kms", kms_key_id=KEY_ID)))
    assert [f.id for f in findings] == [
        "s3.versioning", "s3.object_lock", "s3.object_lock.mode", "s3.object_lock.retention",
        "s3.objects.locked", "s3.objects.overwritten", "s3.lifecycle", "s3.bucket_policy",
        "s3.encryption", "s3.objects.encrypted", "s3.delete_markers", "s3.public_access",
        "s3.freshness"]
    assert {f.id: str(f.status) for f in findings} == {f.id: "pass" for f in findings}
    assert all(f.hint == "" and f.message for f in findings)
    assert all(f.evidence["bucket"] == "acme-veeam" for f in findings)


def test_every_check_id_has_a_hint() -> None:
    for finding in checks.run_all(facts()):
        assert HINTS[finding.id]


def test_bucket_checks_are_the_settings_only_subset() -> None:
    ids = [f.id for f in checks.run_bucket_checks(facts())]
    assert ids == ["s3.versioning", "s3.object_lock", "s3.object_lock.mode",
                   "s3.object_lock.retention", "s3.lifecycle", "s3.bucket_policy",
                   "s3.encryption", "s3.public_access"]


# ---------------------------------------------------------------- versioning


@pytest.mark.parametrize(("state", "words"), [("Suspended", "Suspended"),
                                              ("", "never enabled")])
def test_versioning_fails(state: str, words: str) -> None:
    finding = checks.versioning(facts(good_settings(versioning=state)))
    assert finding.status is Status.FAIL
    assert words in finding.message
    assert finding.evidence == {"bucket": "acme-veeam", "versioning": state}
    assert finding.hint == HINTS["s3.versioning"]


def test_versioning_passes() -> None:
    finding = checks.versioning(facts())
    assert finding.status is Status.PASS
    assert finding.evidence["versioning"] == "Enabled"


def test_versioning_error_when_unreadable() -> None:
    settings = good_settings(errors={"versioning": "AccessDenied: Access Denied"})
    finding = checks.versioning(facts(settings))
    assert finding.status is Status.ERROR
    assert "AccessDenied" in finding.message
    assert finding.evidence["error"] == "AccessDenied: Access Denied"


# ---------------------------------------------------------------- object lock


def test_object_lock() -> None:
    assert checks.object_lock(facts()).status is Status.PASS
    off = checks.object_lock(facts(good_settings(object_lock_enabled=False)))
    assert off.status is Status.FAIL
    assert off.evidence["object_lock_enabled"] is False
    denied = good_settings(errors={"object_lock": "AccessDenied: Access Denied"})
    for check in (checks.object_lock, checks.object_lock_mode, checks.object_lock_retention):
        assert check(facts(denied)).status is Status.ERROR


@pytest.mark.parametrize(("mode", "required", "status"), [
    ("COMPLIANCE", "COMPLIANCE", Status.PASS),
    ("GOVERNANCE", "COMPLIANCE", Status.FAIL),
    ("GOVERNANCE", "GOVERNANCE", Status.PASS),
    ("COMPLIANCE", "GOVERNANCE", Status.PASS),
    ("GOVERNANCE", "any", Status.PASS),
    ("COMPLIANCE", "any", Status.PASS),
    ("", "any", Status.FAIL),
    ("", "COMPLIANCE", Status.FAIL),
    ("UNKNOWN", "GOVERNANCE", Status.FAIL),
])
def test_object_lock_mode(mode: str, required: Any, status: Status) -> None:
    finding = checks.object_lock_mode(facts(good_settings(lock_mode=mode),
                                            policy=Policy(object_lock_mode=required)))
    assert finding.status is status, finding.message
    assert finding.evidence["default_mode"] == mode
    assert finding.evidence["required"] == required


def test_object_lock_mode_message_names_both_modes() -> None:
    finding = checks.object_lock_mode(facts(good_settings(lock_mode="GOVERNANCE")))
    assert "GOVERNANCE" in finding.message and "COMPLIANCE" in finding.message


@pytest.mark.parametrize(("days", "minimum", "status"), [
    (30, 30, Status.PASS), (365, 30, Status.PASS), (29, 30, Status.FAIL),
    (7, 30, Status.FAIL), (None, 30, Status.FAIL), (1, 0, Status.PASS),
])
def test_object_lock_retention(days: int | None, minimum: int, status: Status) -> None:
    finding = checks.object_lock_retention(facts(good_settings(lock_days=days),
                                                 policy=Policy(min_retention_days=minimum)))
    assert finding.status is status, finding.message
    assert finding.evidence["default_retention_days"] == days
    assert finding.evidence["min_retention_days"] == minimum


# ---------------------------------------------------------------- per-object retention


def test_objects_locked_passes_with_retention_or_legal_hold() -> None:
    heads = [head("a"), head("b", lock_mode="", retain_until=None, legal_hold=True)]
    finding = checks.objects_locked(facts(scan=good_scan(heads=heads, current=2)))
    assert finding.status is Status.PASS
    assert finding.evidence["checked"] == 2
    assert finding.evidence["unlocked"] == 0


def test_objects_locked_fails_on_missing_or_expired_retention() -> None:
    heads = [head("ok"),
             head("never", lock_mode="", retain_until=None),
             head("expired", retain_until=NOW - timedelta(seconds=1)),
             head("until-now", retain_until=NOW)]
    finding = checks.objects_locked(facts(scan=good_scan(heads=heads, current=4)))
    assert finding.status is Status.FAIL
    assert finding.evidence["unlocked"] == 3
    assert finding.evidence["unlocked_examples"] == ["never", "expired", "until-now"]
    assert finding.evidence["current_versions"] == 4
    assert "3 of 4" in finding.message


def test_objects_locked_examples_are_capped_and_sampling_is_reported() -> None:
    heads = [head(f"k{i}", lock_mode="", retain_until=None) for i in range(50)]
    scan = good_scan(heads=heads, current=20_000, head_sampled=True, seed=42)
    finding = checks.objects_locked(facts(scan=scan))
    assert finding.status is Status.FAIL
    assert finding.evidence["unlocked"] == 50
    assert len(finding.evidence["unlocked_examples"]) == 5
    assert (finding.evidence["sampled"], finding.evidence["seed"]) == (True, 42)
    assert "sample" in finding.message


def test_objects_locked_error_when_heads_failed() -> None:
    scan = good_scan(head_errors=["a: AccessDenied: Access Denied"])
    finding = checks.objects_locked(facts(scan=scan))
    assert finding.status is Status.ERROR
    assert finding.evidence["head_errors"] == 1
    assert "AccessDenied" in finding.message


def test_objects_locked_failure_outranks_head_errors() -> None:
    scan = good_scan(heads=[head("x", lock_mode="", retain_until=None)],
                     head_errors=["y: AccessDenied"])
    assert checks.objects_locked(facts(scan=scan)).status is Status.FAIL


# ---------------------------------------------------------------- bucket encryption


@pytest.mark.parametrize(("algorithm", "key", "policy", "status"), [
    ("aws:kms", KEY_ARN, Policy(), Status.PASS),
    ("AES256", "", Policy(), Status.PASS),
    ("AES256", "", Policy(encryption="AES256"), Status.PASS),
    ("AES256", "", Policy(encryption="aws:kms"), Status.FAIL),
    ("aws:kms", KEY_ARN, Policy(encryption="AES256"), Status.FAIL),
    ("aws:kms", KEY_ARN, Policy(encryption="aws:kms", kms_key_id=KEY_ID), Status.PASS),
    ("aws:kms", KEY_ID, Policy(encryption="aws:kms", kms_key_id=KEY_ARN), Status.PASS),
    ("aws:kms", KEY_ARN, Policy(kms_key_id=KEY_ARN), Status.PASS),
    ("aws:kms", OTHER_ARN, Policy(kms_key_id=KEY_ID), Status.FAIL),
    ("aws:kms", "", Policy(kms_key_id=KEY_ID), Status.FAIL),
    ("AES256", "", Policy(kms_key_id=KEY_ID), Status.FAIL),
    ("", "", Policy(), Status.FAIL),
])
def test_encryption(algorithm: str, key: str, policy: Policy, status: Status) -> None:
    settings = good_settings(encryption_algorithm=algorithm, kms_key_id=key)
    finding = checks.encryption(facts(settings, policy=policy))
    assert finding.status is status, finding.message
    assert finding.evidence["algorithm"] == algorithm
    assert finding.evidence["kms_key_id"] == key
    assert finding.evidence["required"] == policy.encryption
    assert finding.evidence["required_kms_key_id"] == policy.kms_key_id
    assert finding.evidence["bucket_key_enabled"] is True


def test_encryption_error_when_unreadable() -> None:
    settings = good_settings(errors={"encryption": "AccessDenied: Access Denied"})
    finding = checks.encryption(facts(settings))
    assert finding.status is Status.ERROR
    assert finding.evidence["error"] == "AccessDenied: Access Denied"
    # only the checks that need the setting become error
    others = {f.id: f.status for f in checks.run_all(facts(settings))}
    assert [i for i, s in others.items() if s is not Status.PASS] == ["s3.encryption"]


# ---------------------------------------------------------------- object encryption


def test_objects_encrypted_passes() -> None:
    finding = checks.objects_encrypted(facts(policy=Policy(kms_key_id=KEY_ID)))
    assert finding.status is Status.PASS
    assert finding.evidence["algorithms"] == ["aws:kms"]
    assert finding.evidence["checked"] == 3


def test_objects_encrypted_fails_on_unencrypted_and_other_key() -> None:
    heads = [head("good"), head("plain", encryption="", kms_key_id=""),
             head("foreign", kms_key_id=OTHER_ARN), head("sse-s3", encryption="AES256",
                                                         kms_key_id="")]
    finding = checks.objects_encrypted(facts(scan=good_scan(heads=heads),
                                             policy=Policy(kms_key_id=KEY_ID)))
    assert finding.status is Status.FAIL
    assert finding.evidence["unencrypted"] == 1
    assert finding.evidence["unencrypted_examples"] == ["plain"]
    assert finding.evidence["other_encryption"] == 2
    assert finding.evidence["other_encryption_examples"] == ["foreign", "sse-s3"]
    assert finding.evidence["algorithms"] == ["AES256", "aws:kms", "none"]


def test_objects_encrypted_algorithm_policy() -> None:
    heads = [head("a", encryption="AES256", kms_key_id="")]
    scan = good_scan(heads=heads)
    assert checks.objects_encrypted(facts(scan=scan)).status is Status.PASS
    failed = checks.objects_encrypted(facts(scan=scan, policy=Policy(encryption="aws:kms")))
    assert failed.status is Status.FAIL
    assert failed.evidence["other_encryption_examples"] == ["a"]


def test_objects_encrypted_error_when_heads_failed() -> None:
    finding = checks.objects_encrypted(facts(scan=good_scan(head_errors=["a: 403"])))
    assert finding.status is Status.ERROR
    assert finding.evidence["head_errors"] == 1


# ---------------------------------------------------------------- delete markers


def test_delete_markers_pass_when_markers_hide_nothing() -> None:
    finding = checks.delete_markers(facts(scan=good_scan(delete_markers=2)))
    assert finding.status is Status.PASS
    assert finding.evidence["delete_markers"] == 2
    assert finding.evidence["hidden_keys"] == 0


def test_delete_markers_warn_when_backups_are_hidden() -> None:
    scan = good_scan(delete_markers=3, hidden_by_delete_marker=2,
                     hidden_examples=["Veeam/a.vbk", "Veeam/b.vib"])
    finding = checks.delete_markers(facts(scan=scan))
    assert finding.status is Status.WARN
    assert finding.evidence == {"bucket": "acme-veeam", "delete_markers": 3, "hidden_keys": 2,
                                "hidden_examples": ["Veeam/a.vbk", "Veeam/b.vib"]}
    assert finding.hint == HINTS["s3.delete_markers"]


# ---------------------------------------------------------------- public access


def test_public_access() -> None:
    assert checks.public_access(facts()).status is Status.PASS
    partly = dict(ALL_ON, RestrictPublicBuckets=False)
    finding = checks.public_access(facts(good_settings(public_access_block=partly)))
    assert finding.status is Status.WARN
    assert finding.evidence["off"] == ["RestrictPublicBuckets"]
    assert finding.evidence["public_access_block"] == partly
    none = checks.public_access(facts(good_settings(public_access_block={})))
    assert none.status is Status.WARN
    assert len(none.evidence["off"]) == 4


def test_public_access_error_when_unreadable() -> None:
    settings = good_settings(errors={"public_access_block": "AccessDenied: Access Denied"})
    finding = checks.public_access(facts(settings))
    assert finding.status is Status.ERROR
    assert finding.evidence["error"] == "AccessDenied: Access Denied"


# ---------------------------------------------------------------- freshness


def test_freshness_passes_within_rpo() -> None:
    finding = checks.freshness(facts())
    assert finding.status is Status.PASS
    assert finding.evidence["age_seconds"] == 5 * 3600
    assert finding.evidence["rpo_seconds"] == 26 * 3600
    assert finding.evidence["newest"] == "2026-11-21T22:00:00+00:00"
    assert finding.evidence["newest_key"] == "Veeam/blk2.vbk"
    assert finding.message == "newest object 5h old (rpo 26h)"


def test_freshness_fails_beyond_rpo() -> None:
    scan = good_scan(newest=NOW - timedelta(hours=27))
    finding = checks.freshness(facts(scan=scan))
    assert finding.status is Status.FAIL
    assert finding.evidence["age_seconds"] == 27 * 3600
    assert finding.hint == HINTS["s3.freshness"]


def test_freshness_fails_on_an_empty_set() -> None:
    finding = checks.freshness(facts(scan=good_scan(newest=None, current=0, heads=[])))
    assert finding.status is Status.FAIL
    assert finding.evidence["newest"] is None


def test_evidence_is_json_serialisable() -> None:
    import json

    settings = good_settings(versioning="Suspended", errors={"encryption": "AccessDenied"})
    scan = good_scan(heads=[head("x", lock_mode="", retain_until=None)], head_sampled=True,
                     stacked=1, stacked_examples=[{"key": "x", "current": "2026-11-21",
                                                   "older_versions": 1, "older": ["2026"]}])
    protection = BucketProtection(
        lifecycle_rules=({"ID": "d", "Status": "Enabled",
                          "Expiration": {"Date": datetime(2027, 1, 1, tzinfo=UTC)}},),
        policy='{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:*", '
               '"Resource": "*"}}', own_account="111122223333", policy_public=True)
    for finding in checks.run_all(facts(settings, scan, protection=protection)):
        json.dumps(finding.to_json())


def test_listing_error_makes_only_the_object_checks_error() -> None:
    broken = S3Facts(policy=Policy(), rpo_seconds=3600, now=NOW,
                     settings=good_settings(versioning="Suspended"), scan=None,
                     listing_error="cannot list bucket 'acme-veeam': AccessDenied",
                     protection=BucketProtection())
    found = {f.id: f for f in checks.run_all(broken)}
    assert {i: str(f.status) for i, f in found.items()} == {
        "s3.versioning": "fail", "s3.object_lock": "pass", "s3.object_lock.mode": "pass",
        "s3.object_lock.retention": "pass", "s3.objects.locked": "error",
        "s3.objects.overwritten": "error", "s3.lifecycle": "pass", "s3.bucket_policy": "pass",
        "s3.encryption": "pass", "s3.objects.encrypted": "error", "s3.delete_markers": "error",
        "s3.public_access": "pass", "s3.freshness": "error"}
    assert found["s3.freshness"].evidence["error"] == (
        "cannot list bucket 'acme-veeam': AccessDenied")
    assert "AccessDenied" in found["s3.objects.locked"].message


# ---------------------------------------------------------------- weaker per-object locks (#15)


def test_objects_locked_fails_on_weaker_mode_and_shorter_retention_than_the_policy() -> None:
    """Bucket default and policy COMPLIANCE 30 d; the writer set explicit per-object
    GOVERNANCE retention ending an hour after the write. Unexpired retention is not enough:
    the mode and the period the object was written with are judged against the policy."""
    written = NOW - timedelta(minutes=10)
    heads = [head("good", last_modified=written, retain_until=written + timedelta(days=30)),
             head("weak", lock_mode="GOVERNANCE", last_modified=written,
                  retain_until=written + timedelta(hours=1)),
             head("short", last_modified=written, retain_until=written + timedelta(days=2)),
             head("held", lock_mode="", retain_until=None, legal_hold=True,
                  last_modified=written)]
    finding = checks.objects_locked(facts(scan=good_scan(heads=heads, current=4)))
    assert finding.status is Status.FAIL, finding.message
    evidence = finding.evidence
    assert evidence["weaker_mode"] == 1
    assert evidence["weaker_mode_examples"] == ["weak"]
    assert evidence["short_retention"] == 2
    assert evidence["short_retention_examples"] == ["weak", "short"]
    assert evidence["unlocked"] == 0
    assert evidence["earliest_retain_until"] == (written + timedelta(hours=1)).isoformat()
    assert (evidence["required_mode"], evidence["min_retention_days"]) == ("COMPLIANCE", 30)
    assert "GOVERNANCE" in finding.message and "30" in finding.message
    assert "2 of 4" in finding.message


@pytest.mark.parametrize(("mode", "required", "weak"), [
    ("GOVERNANCE", "COMPLIANCE", True), ("COMPLIANCE", "COMPLIANCE", False),
    ("GOVERNANCE", "GOVERNANCE", False), ("COMPLIANCE", "GOVERNANCE", False),
    ("GOVERNANCE", "any", False),
])
def test_objects_locked_mode_against_the_policy(mode: str, required: Any, weak: bool) -> None:
    heads = [head("k", lock_mode=mode, last_modified=NOW - timedelta(days=1),
                  retain_until=NOW + timedelta(days=29))]
    finding = checks.objects_locked(facts(scan=good_scan(heads=heads, current=1),
                                          policy=Policy(object_lock_mode=required)))
    assert finding.status is (Status.FAIL if weak else Status.PASS), finding.message
    assert finding.evidence["weaker_mode"] == int(weak)


def test_objects_locked_retention_period_is_measured_from_the_write() -> None:
    """30 days from the write is enough, even if only 1 day of it is left now; a minute
    short of the period (clock noise) is tolerated, a day short is not."""
    written = NOW - timedelta(days=29)
    heads = [head("ok", last_modified=written, retain_until=written + timedelta(days=30)),
             head("noise", last_modified=written,
                  retain_until=written + timedelta(days=30) - timedelta(seconds=60)),
             head("short", last_modified=written,
                  retain_until=written + timedelta(days=29, hours=12))]
    finding = checks.objects_locked(facts(scan=good_scan(heads=heads, current=3)))
    assert finding.evidence["short_retention_examples"] == ["short"]
    assert finding.evidence["shortest_retention_days"] == 29.5
    assert finding.status is Status.FAIL


def test_objects_locked_legal_hold_counts_as_locked() -> None:
    heads = [head("held", lock_mode="GOVERNANCE", legal_hold=True,
                  last_modified=NOW - timedelta(days=1), retain_until=NOW - timedelta(hours=1))]
    finding = checks.objects_locked(facts(scan=good_scan(heads=heads, current=1)))
    assert finding.status is Status.PASS, finding.message
    assert finding.evidence["legal_hold"] == 1


# ---------------------------------------------------------------- lifecycle (#15)


def rule(**fields: Any) -> dict[str, Any]:
    return {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, **fields}


def lifecycle_of(*rules: dict[str, Any], prefix: str = "Veeam/", days: int = 30) -> Any:
    return checks.lifecycle(facts(protection=BucketProtection(lifecycle_rules=rules),
                                  prefix=prefix, policy=Policy(min_retention_days=days)))


def test_lifecycle_passes_without_a_configuration() -> None:
    finding = checks.lifecycle(facts())
    assert finding.status is Status.PASS
    assert "no lifecycle configuration" in finding.message
    assert finding.evidence["rules"] == 0


def test_lifecycle_rule_that_expires_versions_after_a_day_fails() -> None:
    """The issue's rule: current and noncurrent versions expire after one day."""
    finding = lifecycle_of(rule(ID="cleanup", Expiration={"Days": 1},
                                NoncurrentVersionExpiration={"NoncurrentDays": 1}))
    assert finding.status is Status.FAIL
    offending = finding.evidence["offending"]
    assert [(o["rule"], o["expires"], o["after_days"]) for o in offending] == [
        ("cleanup", "current versions", 1), ("cleanup", "noncurrent versions", 1)]
    assert "cleanup" in finding.message and "30" in finding.message


@pytest.mark.parametrize(("fields", "status"), [
    ({"Expiration": {"Days": 30}}, Status.PASS),
    ({"Expiration": {"Days": 29}}, Status.FAIL),
    ({"NoncurrentVersionExpiration": {"NoncurrentDays": 365}}, Status.PASS),
    ({"NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 3}},
     Status.FAIL),
    ({"Expiration": {"Date": datetime(2027, 1, 1, tzinfo=UTC)}}, Status.FAIL),
    ({"Expiration": {"ExpiredObjectDeleteMarker": True}}, Status.PASS),
    ({"Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}, Status.PASS),
    ({"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}, Status.PASS),
])
def test_lifecycle_actions(fields: dict[str, Any], status: Status) -> None:
    assert lifecycle_of(rule(**fields)).status is status


@pytest.mark.parametrize(("filters", "applies"), [
    ({"Filter": {"Prefix": ""}}, True),
    ({"Filter": {}}, True),
    ({"Filter": {"Prefix": "Veeam/"}}, True),
    ({"Filter": {"Prefix": "Veeam/Job1/"}}, True),  # part of the set
    ({"Filter": {"Prefix": "Vee"}}, True),
    ({"Filter": {"Prefix": "logs/"}}, False),
    ({"Prefix": "Veeam/"}, True),  # the legacy top-level prefix
    ({"Prefix": "logs/"}, False),
    ({"Filter": {"Tag": {"Key": "tier", "Value": "temp"}}}, True),  # some objects
    ({"Filter": {"ObjectSizeLessThan": 1024}}, True),
    ({"Filter": {"And": {"Prefix": "Veeam/", "Tags": [{"Key": "a", "Value": "b"}]}}}, True),
    ({"Filter": {"And": {"Prefix": "logs/", "ObjectSizeGreaterThan": 5}}}, False),
])
def test_lifecycle_filters_that_apply_to_the_set(filters: dict[str, Any], applies: bool) -> None:
    body = {"ID": "r", "Status": "Enabled", "Expiration": {"Days": 1}, **filters}
    finding = lifecycle_of(body)
    assert finding.status is (Status.FAIL if applies else Status.PASS), finding.message


def test_lifecycle_disabled_rules_are_listed_not_judged() -> None:
    finding = lifecycle_of(rule(Status="Disabled", Expiration={"Days": 1}))
    assert finding.status is Status.PASS
    assert finding.evidence["disabled_rules"] == ["r"]


def test_lifecycle_whole_bucket_set_is_reached_by_any_prefix() -> None:
    finding = lifecycle_of(rule(Filter={"Prefix": "logs/"}, Expiration={"Days": 1}), prefix="")
    assert finding.status is Status.FAIL


def test_lifecycle_error_when_unreadable() -> None:
    protection = BucketProtection(errors={"lifecycle": "AccessDenied: Access Denied"})
    finding = checks.lifecycle(facts(protection=protection))
    assert finding.status is Status.ERROR
    assert "AccessDenied" in finding.message
    others = {f.id: f.status for f in checks.run_all(facts(protection=protection))}
    assert [i for i, s in others.items() if s is not Status.PASS] == ["s3.lifecycle"]


def test_lifecycle_and_policy_error_when_not_read() -> None:
    unread = S3Facts(policy=Policy(), rpo_seconds=3600, now=NOW, settings=good_settings(),
                     scan=good_scan())
    assert checks.lifecycle(unread).status is Status.ERROR
    assert checks.bucket_policy(unread).status is Status.ERROR


# ---------------------------------------------------------------- bucket policy (#15)

OWN_ACCOUNT = "111122223333"


def policy_facts(statements: list[dict[str, Any]], **protection: Any) -> S3Facts:
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    fields: dict[str, Any] = {"policy": document, "own_account": OWN_ACCOUNT,
                              "own_account_note": "STS GetCallerIdentity",
                              "policy_public": False}
    fields.update(protection)
    return facts(protection=BucketProtection(**fields))


def test_bucket_policy_passes_without_a_policy() -> None:
    finding = checks.bucket_policy(facts())
    assert finding.status is Status.PASS
    assert "no bucket policy" in finding.message
    assert finding.evidence["policy"] is False


def test_bucket_policy_letting_anyone_bypass_governance_and_delete_versions_fails() -> None:
    statement = {"Sid": "Open", "Effect": "Allow", "Principal": "*",
                 "Action": ["s3:BypassGovernanceRetention", "s3:DeleteObjectVersion"],
                 "Resource": "arn:aws:s3:::acme-veeam/*"}
    finding = checks.bucket_policy(policy_facts([statement], policy_public=True))
    assert finding.status is Status.FAIL
    grants = finding.evidence["grants"]
    assert grants == [{"statement": "Open", "principal": "*", "scope": "anyone",
                       "actions": ["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"],
                       "conditional": False}]
    assert finding.evidence["is_public"] is True
    assert "anyone" in finding.message and "s3:DeleteObjectVersion" in finding.message


def test_bucket_policy_other_account_fails_same_account_warns() -> None:
    other = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
             "Action": "s3:PutLifecycleConfiguration", "Resource": "arn:aws:s3:::acme-veeam"}
    assert checks.bucket_policy(policy_facts([other])).status is Status.FAIL
    same = dict(other, Principal={"AWS": f"arn:aws:iam::{OWN_ACCOUNT}:role/veeam"})
    finding = checks.bucket_policy(policy_facts([same]))
    assert finding.status is Status.WARN
    assert finding.evidence["grants"][0]["scope"] == "same account"


def test_bucket_policy_unknown_own_account_fails_and_says_so() -> None:
    same = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWN_ACCOUNT}:role/veeam"},
            "Action": "s3:DeleteObjectVersion", "Resource": "arn:aws:s3:::acme-veeam/*"}
    finding = checks.bucket_policy(policy_facts(
        [same], own_account="", own_account_note="STS GetCallerIdentity failed: AccessDenied"))
    assert finding.status is Status.FAIL
    assert "own account" in finding.message and "AccessDenied" in finding.message
    assert finding.evidence["own_account"] == ""


def test_bucket_policy_condition_makes_a_warning() -> None:
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:DeleteObjectVersion",
                 "Resource": "arn:aws:s3:::acme-veeam/*",
                 "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}}
    finding = checks.bucket_policy(policy_facts([statement]))
    assert finding.status is Status.WARN
    assert "condition" in finding.message


def test_bucket_policy_public_by_the_servers_word_fails() -> None:
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                 "Resource": "arn:aws:s3:::acme-veeam/*"}
    finding = checks.bucket_policy(policy_facts([statement], policy_public=True))
    assert finding.status is Status.FAIL
    assert "public" in finding.message
    assert checks.bucket_policy(policy_facts([statement])).status is Status.PASS


def test_bucket_policy_cancelled_by_deny_passes_with_evidence() -> None:
    grant = {"Effect": "Allow", "Principal": "*", "Action": "s3:*",
             "Resource": "arn:aws:s3:::acme-veeam/*"}
    refuse = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}
    finding = checks.bucket_policy(policy_facts([grant, refuse]))
    assert finding.status is Status.PASS, finding.message
    assert finding.evidence["cancelled_by_deny"]


def test_bucket_policy_errors() -> None:
    denied = BucketProtection(errors={"bucket_policy": "AccessDenied: Access Denied"})
    finding = checks.bucket_policy(facts(protection=denied))
    assert finding.status is Status.ERROR
    assert "AccessDenied" in finding.message
    others = {f.id: f.status for f in checks.run_all(facts(protection=denied))}
    assert [i for i, s in others.items() if s is not Status.PASS] == ["s3.bucket_policy"]
    garbled = checks.bucket_policy(facts(protection=BucketProtection(policy="{not json")))
    assert garbled.status is Status.ERROR


# ---------------------------------------------------------------- overwritten (#15)


def test_overwritten_passes_when_no_key_was_written_twice() -> None:
    finding = checks.objects_overwritten(facts())
    assert finding.status is Status.PASS
    assert finding.evidence["stacked"] == 0


def test_overwritten_warns_and_names_keys_with_their_version_dates() -> None:
    examples = [{"key": "Veeam/full.vbk", "current": "2026-11-21T22:00:00+00:00",
                 "older_versions": 1, "older": ["2026-11-01T22:00:00+00:00"]}]
    finding = checks.objects_overwritten(facts(scan=good_scan(stacked=1,
                                                              stacked_examples=examples)))
    assert finding.status is Status.WARN
    assert finding.evidence["stacked"] == 1
    assert finding.evidence["examples"] == examples
    assert "Veeam/full.vbk" in finding.message
    # why the stored digest is no comfort: the attacker writes a matching one
    assert "x-amz-meta-xxh3-128" in finding.evidence["note"]
    assert finding.hint == HINTS["s3.objects.overwritten"]


def test_overwritten_is_error_when_the_server_cannot_list_versions() -> None:
    reason = "server does not support ListObjectVersions (NotImplemented)"
    finding = checks.objects_overwritten(facts(scan=good_scan(versions_unknown=reason)))
    assert finding.status is Status.ERROR
    assert reason in finding.message
    markers = checks.delete_markers(facts(scan=good_scan(versions_unknown=reason)))
    assert markers.status is Status.ERROR and reason in markers.message


# ---------------------------------------------------------------- sampled sets (#15)


def test_a_clean_sample_is_a_warning_never_a_pass() -> None:
    """More current versions than max_object_heads: only a sample was HEADed, so "all
    locked" / "all encrypted" would be a claim about objects nobody looked at."""
    scan = good_scan(current=60, head_sampled=True, seed=1234)
    policy = Policy(max_object_heads=3)
    locked = checks.objects_locked(facts(scan=scan, policy=policy))
    assert locked.status is Status.WARN, locked.message
    assert "examined 3 of 60" in locked.message
    assert "seed 1234" in locked.message
    assert (locked.evidence["max_object_heads"], locked.evidence["seed"]) == (3, 1234)
    encrypted = checks.objects_encrypted(facts(scan=scan, policy=policy))
    assert encrypted.status is Status.WARN
    assert "examined 3 of 60" in encrypted.message


def test_a_sample_with_a_problem_still_fails() -> None:
    heads = [head("k0"), head("k1", lock_mode="", retain_until=None), head("k2")]
    scan = good_scan(heads=heads, current=60, head_sampled=True)
    assert checks.objects_locked(facts(scan=scan)).status is Status.FAIL


def test_freshness_fails_on_an_object_from_the_future() -> None:
    scan = good_scan(newest=NOW + timedelta(days=2), newest_key="Veeam/forged.vbk")
    finding = checks.freshness(facts(scan=scan))
    assert finding.status is Status.FAIL, finding.message
    assert "future" in finding.message and "Veeam/forged.vbk" in finding.message
    skew = checks.freshness(facts(scan=good_scan(newest=NOW + timedelta(minutes=4))))
    assert skew.status is Status.PASS
