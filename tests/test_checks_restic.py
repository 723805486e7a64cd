"""The ``restic.*`` checks as pure functions over hand-built facts (no restic, no S3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from backupcheck.backends.restic import CheckOutcome, KeyInfo, Keys, RepoConfig, Snapshot
from backupcheck.backends.s3 import BucketProtection, BucketSettings
from backupcheck.checks import restic as checks
from backupcheck.checks.restic import ResticFacts, StorageFacts
from backupcheck.model import Policy, Status

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
LOCKED = BucketSettings(bucket="acme-restic", versioning="Enabled", object_lock_enabled=True,
                        lock_mode="COMPLIANCE", lock_days=30)


def snap(hours_ago: float, n: int = 0) -> Snapshot:
    return Snapshot(id=f"{n:02d}" * 32, short_id=f"{n:02d}" * 4,
                    time=NOW - timedelta(hours=hours_ago), hostname="fs1", username="root",
                    paths=("/srv/share",), tags=())


def facts(**changes: object) -> ResticFacts:
    base = ResticFacts(
        policy=Policy(), rpo_seconds=26 * 3600, now=NOW, location="/backups/acme",
        restic_version=(0, 14, 0), config=RepoConfig(2, "ab" * 32),
        storage=StorageFacts(kind="local", location="/backups/acme"),
        keys=Keys((KeyInfo("95895c80", "root", "fs1", "2026-01-01T00:00:00Z"),)),
        snapshots=(snap(30, 1), snap(5, 2)),
        integrity=CheckOutcome(True, 0, (), 0, "2%", 1.5))
    return replace(base, **changes)  # type: ignore[arg-type]


def statuses(f: ResticFacts) -> dict[str, Status]:
    return {finding.id: finding.status for finding in checks.run_all(f)}


def test_healthy_local_repository_passes_except_storage_warn() -> None:
    assert statuses(facts()) == {
        "restic.access": Status.PASS, "restic.keys": Status.PASS,
        "restic.storage.immutable": Status.WARN, "restic.objects.locked": Status.WARN,
        "restic.freshness": Status.PASS, "restic.snapshots": Status.PASS,
        "restic.integrity": Status.PASS}


def test_findings_come_in_spec_order() -> None:
    assert [f.id for f in checks.run_all(facts())] == [
        "restic.access", "restic.keys", "restic.storage.immutable", "restic.objects.locked",
        "restic.freshness", "restic.snapshots", "restic.integrity"]


def test_access_evidence_names_format_and_compression() -> None:
    found = checks.access(facts(config=RepoConfig(1, "cd" * 32)))
    assert found.status is Status.PASS
    assert found.evidence["repository_version"] == 1
    assert found.evidence["compression"] is False
    assert "no compression" in found.message


def test_more_keys_than_allowed_fails_and_lists_them() -> None:
    two = Keys((KeyInfo("aaaa1111", "root", "fs1", "c1"), KeyInfo("bbbb2222", "eve", "x", "c2")))
    found = checks.keys(facts(keys=two))
    assert found.status is Status.FAIL
    assert [k["user"] for k in found.evidence["key_list"]] == ["root", "eve"]
    assert found.hint
    assert checks.keys(facts(keys=two, policy=Policy(max_restic_keys=2))).status is Status.PASS


@pytest.mark.parametrize("kind", ["local", "sftp", "rest", "b2"])
def test_storage_that_cannot_be_immutable_warns(kind: str) -> None:
    found = checks.storage_immutable(facts(storage=StorageFacts(kind=kind, location="x")))
    assert found.status is Status.WARN
    assert found.evidence["storage"] == kind


def _s3(settings: BucketSettings | None, error: str = "") -> StorageFacts:
    return StorageFacts(kind="s3", location="s3:https://s3.example/acme-restic",
                        bucket="acme-restic", prefix="repo", endpoint_url="https://s3.example",
                        settings=settings, error=error, protection=BucketProtection())


def test_locked_bucket_passes() -> None:
    found = checks.storage_immutable(facts(storage=_s3(LOCKED)))
    assert found.status is Status.PASS
    assert [c["id"] for c in found.evidence["bucket_checks"]] == [
        "s3.versioning", "s3.object_lock", "s3.object_lock.mode", "s3.object_lock.retention",
        "s3.lifecycle", "s3.bucket_policy"]
    assert [c["status"] for c in found.evidence["bucket_checks"]] == ["pass"] * 6


@pytest.mark.parametrize("settings", [
    BucketSettings(bucket="acme-restic"),
    replace(LOCKED, lock_mode="GOVERNANCE"),
    replace(LOCKED, lock_days=7),
    replace(LOCKED, versioning="Suspended"),
])
def test_bucket_that_is_not_immutable_fails(settings: BucketSettings) -> None:
    found = checks.storage_immutable(facts(storage=_s3(settings)))
    assert found.status is Status.FAIL
    assert "not immutable" in found.message


def test_governance_is_enough_when_policy_says_any() -> None:
    relaxed = facts(storage=_s3(replace(LOCKED, lock_mode="GOVERNANCE")),
                    policy=Policy(object_lock_mode="any"))
    assert checks.storage_immutable(relaxed).status is Status.PASS


def test_unreadable_bucket_is_error() -> None:
    found = checks.storage_immutable(facts(storage=_s3(None, "bucket 'x' does not exist")))
    assert found.status is Status.ERROR
    denied = replace(LOCKED, errors={"object_lock": "AccessDenied: no"})
    assert checks.storage_immutable(facts(storage=_s3(denied))).status is Status.ERROR


def test_freshness() -> None:
    assert checks.freshness(facts()).status is Status.PASS
    stale = checks.freshness(facts(snapshots=(snap(100),)))
    assert stale.status is Status.FAIL
    assert "rpo 26h" in stale.message
    none = checks.freshness(facts(snapshots=()))
    assert none.status is Status.FAIL
    assert none.message == "no matching snapshot"


def test_snapshot_count_against_min_snapshots() -> None:
    assert checks.snapshots(facts(policy=Policy(min_snapshots=2))).status is Status.PASS
    found = checks.snapshots(facts(policy=Policy(min_snapshots=3)))
    assert found.status is Status.FAIL
    assert found.evidence["snapshots"] == 2


def test_integrity_failure_summarises_restic_errors() -> None:
    outcome = CheckOutcome(False, 1, ("Pack ID does not match, want 1, got 2",), 1, "100%", 3.0)
    found = checks.integrity(facts(integrity=outcome))
    assert found.status is Status.FAIL
    assert "Pack ID does not match" in found.message
    assert found.evidence["read_data_subset"] == "100%"
    assert found.evidence["errors"] == ["Pack ID does not match, want 1, got 2"]


def test_integrity_scope_without_data_subset() -> None:
    found = checks.integrity(facts(integrity=CheckOutcome(True, 0, (), 0, "", 0.2)))
    assert found.status is Status.PASS
    assert "structure only" in found.message


def test_a_fact_that_could_not_be_fetched_makes_only_its_check_error() -> None:
    result = statuses(facts(keys=None, integrity=None,
                            errors={"restic.keys": "restic list failed",
                                    "restic.integrity": "restic check got no answer"}))
    assert result["restic.keys"] is Status.ERROR
    assert result["restic.integrity"] is Status.ERROR
    assert result["restic.freshness"] is Status.PASS


def test_a_snapshot_from_the_future_fails_and_is_never_fresh() -> None:
    """A snapshot dated a day ahead (a wrong clock, or a forged ``restic backup --time``)
    would otherwise make a repository look fresh for ever."""
    future = checks.freshness(facts(snapshots=(snap(100, 1), snap(-24, 2))))
    assert future.status is Status.FAIL, future.message
    assert "future" in future.message
    assert future.evidence["future_snapshots"] == 1
    assert future.evidence["future_examples"] == ["02020202"]
    # beside a genuinely fresh one it still fails: it is itself the finding
    also_fresh = checks.freshness(facts(snapshots=(snap(5, 1), snap(-24, 2))))
    assert also_fresh.status is Status.FAIL
    # the newest snapshot that counts is the fresh one, not the one from the future
    assert also_fresh.evidence["snapshot"] == "01010101"


def test_a_few_minutes_of_clock_skew_is_not_the_future() -> None:
    skewed = checks.freshness(facts(snapshots=(snap(-4 / 60, 1),)))
    assert skewed.status is Status.PASS, skewed.message
    assert skewed.evidence["future_snapshots"] == 0


def _guarded(protection: BucketProtection) -> StorageFacts:
    return replace(_s3(LOCKED), protection=protection)


def test_a_lifecycle_rule_or_policy_that_undoes_the_lock_makes_storage_mutable() -> None:
    """The repository's bucket is locked, but a lifecycle rule expires the packs after a day,
    or the bucket policy lets anyone delete versions: not immutable storage."""
    expiring = BucketProtection(lifecycle_rules=({
        "ID": "cleanup", "Status": "Enabled", "Filter": {"Prefix": ""},
        "Expiration": {"Days": 1}},))
    found = checks.storage_immutable(facts(storage=_guarded(expiring)))
    assert found.status is Status.FAIL, found.message
    assert "cleanup" in found.message
    open_policy = BucketProtection(policy=(
        '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:Delete*", '
        '"Resource": "arn:aws:s3:::acme-restic/repo/*"}]}'), own_account="111122223333")
    found = checks.storage_immutable(facts(storage=_guarded(open_policy)))
    assert found.status is Status.FAIL, found.message
    own = BucketProtection(policy=(
        '{"Statement": [{"Effect": "Allow", "Principal": {"AWS": '
        '"arn:aws:iam::111122223333:role/backup"}, "Action": "s3:DeleteObjectVersion", '
        '"Resource": "arn:aws:s3:::acme-restic/*"}]}'), own_account="111122223333")
    found = checks.storage_immutable(facts(storage=_guarded(own)))
    assert found.status is Status.WARN, found.message
    unread = checks.storage_immutable(facts(storage=replace(_s3(LOCKED), protection=None)))
    assert unread.status is Status.ERROR
