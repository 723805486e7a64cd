"""``restic.objects.locked``: every object a restore needs stays locked long enough.

Situation 1 of issue #15: a bucket's default retention protects only what is written while it
is in force, and restic never extends a retention. A repository whose first backup was written
before the bucket had a default retention (the same as packs whose 30 days ran out: an old pack
is unlocked either way) keeps those packs in use by every later snapshot that deduplicates
onto them. The bucket's settings say COMPLIANCE 30 d, so ``restic.storage.immutable`` passes;
only reading each object's own retention (a HEAD per object, on the real moto server, which
applies the bucket's default retention to each new object the way AWS does) finds them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import S3Server, write_client
from tests.restic_helpers import (
    create_bucket,
    init_local_repo,
    init_s3_repo,
    make_tree,
    target_toml,
)

FILES = {"q3.xlsx": b"quarterly figures\n" * 5000, "contracts/a.pdf": b"%PDF contract\n" * 900}


def _checks(result: Any) -> dict[str, dict[str, Any]]:
    assert "Traceback" not in result.stderr, result.stderr
    target = result.json()["clients"][0]["targets"][0]
    return {c["id"]: c for c in target["checks"]}


def _verify(cli: Any, targets: Path) -> Any:
    return cli("verify", "--targets", str(targets), "--format", "json",
               "--read-data-subset", "")


def _copy_aged(s3: Any, source: str, bucket: str, until: datetime) -> int:
    """Copy every object of ``source`` into ``bucket`` with a retention ending at ``until``.

    What a 30-day-old repository looks like: its first packs were locked for 30 days when
    written, and that lock now ends within the hour. (moto refuses to change the default
    retention of a non-empty bucket, which AWS allows; explicit per-object retention is the
    same state on both.)
    """
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=source):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=source, Key=item["Key"])["Body"].read()
            s3.put_object(Bucket=bucket, Key=item["Key"], Body=body,
                          ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
            count += 1
    return count


def test_old_packs_whose_lock_runs_out_fail(
        cli: Any, s3_server: S3Server, tmp_path: Path) -> None:
    s3 = s3_server.client()
    bucket = "restic-aged-lock"
    staging = init_s3_repo(s3_server, "restic-aged-staging", tmp_path / "staging",
                           lock_mode=None)
    share = make_tree(tmp_path / "share", FILES)
    staging.backup(share)
    create_bucket(s3, bucket)  # COMPLIANCE 30 d default: the bucket checks pass
    aged = _copy_aged(s3, "restic-aged-staging", bucket, datetime.now(UTC) + timedelta(hours=1))
    repo = init_s3_repo(s3_server, bucket, tmp_path / "repo", create=False, init=False)
    (share / "new.txt").write_bytes(b"written thirty days later\n")
    repo.backup(share)  # deduplicates onto the first backup's packs
    targets = tmp_path / "targets"
    write_client(targets, "aged-lock", target_toml("aged-lock", repo))

    result = _verify(cli, targets)
    checks = _checks(result)
    assert checks["restic.storage.immutable"]["status"] == "pass"  # the bucket looks fine
    locked = checks["restic.objects.locked"]
    assert locked["status"] == "fail", locked["message"]
    evidence = locked["evidence"]
    assert evidence["short"] >= aged - 1  # all but the first snapshot file are still needed
    assert evidence["short_bytes"] > 0
    assert any(k.startswith("restic/data/") for k in evidence["short_examples"])
    assert evidence["examined"] == evidence["objects"] > evidence["short"]
    assert evidence["exact_set"] is True and "exact set" in evidence["source"]
    assert evidence["min_lock_horizon_seconds"] == 7 * 86400
    earliest = datetime.fromisoformat(evidence["earliest_retain_until"].replace("Z", "+00:00"))
    assert earliest < datetime.now(UTC) + timedelta(hours=2)
    assert result.exit_code == 1


def test_a_repository_written_under_the_lock_passes_with_counts(
        cli: Any, s3_server: S3Server, tmp_path: Path) -> None:
    repo = init_s3_repo(s3_server, "restic-locked-all", tmp_path / "repo")
    repo.backup(make_tree(tmp_path / "share", FILES))
    targets = tmp_path / "targets"
    write_client(targets, "locked-all", target_toml("locked-all", repo))
    locked = _checks(_verify(cli, targets))["restic.objects.locked"]
    assert locked["status"] == "pass", locked["message"]
    evidence = locked["evidence"]
    assert evidence["short"] == 0 and evidence["objects"] == evidence["examined"] >= 4
    assert evidence["earliest_retain_until"]
    assert str(evidence["objects"]) in locked["message"]


def test_a_lock_ending_inside_the_horizon_fails(
        cli: Any, s3_server: S3Server, tmp_path: Path) -> None:
    # COMPLIANCE for 2 days: locked today, but not through the next weekly drill
    repo = init_s3_repo(s3_server, "restic-short-lock", tmp_path / "repo", lock_days=2)
    repo.backup(make_tree(tmp_path / "share", FILES))
    targets = tmp_path / "targets"
    write_client(targets, "short-lock", target_toml("short-lock", repo,
                                                    policy="min_retention_days = 1"))
    locked = _checks(_verify(cli, targets))["restic.objects.locked"]
    assert locked["status"] == "fail", locked["message"]
    assert locked["evidence"]["short"] == locked["evidence"]["objects"]

    write_client(targets, "short-lock", target_toml(
        "short-lock", repo, policy='min_retention_days = 1\nmin_lock_horizon = "1d"'))
    locked = _checks(_verify(cli, targets))["restic.objects.locked"]
    assert locked["status"] == "pass", locked["message"]


def test_governance_objects_under_a_compliance_policy_fail(
        cli: Any, s3_server: S3Server, tmp_path: Path) -> None:
    repo = init_s3_repo(s3_server, "restic-governance", tmp_path / "repo",
                        lock_mode="GOVERNANCE")
    repo.backup(make_tree(tmp_path / "share", FILES))
    targets = tmp_path / "targets"
    write_client(targets, "gov", target_toml("gov", repo))
    locked = _checks(_verify(cli, targets))["restic.objects.locked"]
    assert locked["status"] == "fail", locked["message"]
    assert locked["evidence"]["weaker_mode"] == locked["evidence"]["objects"]
    assert "GOVERNANCE" in locked["message"]


def test_more_objects_than_max_object_heads_is_a_rotating_sample_never_pass(
        cli: Any, s3_server: S3Server, tmp_path: Path) -> None:
    repo = init_s3_repo(s3_server, "restic-many-objects", tmp_path / "repo")
    repo.backup(make_tree(tmp_path / "share", FILES))
    targets = tmp_path / "targets"
    write_client(targets, "many", target_toml("many", repo, policy="max_object_heads = 2"))
    seen = []
    for seed in ("1", "2"):
        result = cli("verify", "--targets", str(targets), "--format", "json",
                     "--read-data-subset", "", "--seed", seed)
        locked = _checks(result)["restic.objects.locked"]
        assert locked["status"] == "warn", locked["message"]
        assert locked["evidence"]["examined"] == 2 < locked["evidence"]["objects"]
        assert f"examined 2 of {locked['evidence']['objects']}" in locked["message"]
        seen.append(tuple(locked["evidence"]["examined_keys"]))
    assert seen[0] != seen[1]  # another run's seed examines other objects


def test_a_local_repository_is_a_warning(cli: Any, tmp_path: Path) -> None:
    repo = init_local_repo(tmp_path)
    repo.backup(make_tree(tmp_path / "share", FILES))
    targets = tmp_path / "targets"
    write_client(targets, "local", target_toml("local", repo))
    locked = _checks(_verify(cli, targets))["restic.objects.locked"]
    assert locked["status"] == "warn"
    assert "local" in locked["message"]


def test_the_exact_set_ignores_objects_a_restore_does_not_read(
        cli: Any, s3_server: S3Server, tmp_path: Path) -> None:
    """An unreferenced pack with a lock that runs out: not needed by the snapshot, so the
    native reader's exact set passes; through the restic binary (reader = "restic") the set
    is every object under the prefix, a superset, and the check says so and fails."""
    s3 = s3_server.client()
    repo = init_s3_repo(s3_server, "restic-exact-set", tmp_path / "repo")
    repo.backup(make_tree(tmp_path / "share", FILES))
    stray = "restic/data/ff/" + "f" * 64
    s3.put_object(Bucket="restic-exact-set", Key=stray, Body=b"not a pack",
                  ObjectLockMode="COMPLIANCE",
                  ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(hours=1))
    targets = tmp_path / "targets"
    write_client(targets, "exact", target_toml("exact", repo))
    locked = _checks(_verify(cli, targets))["restic.objects.locked"]
    assert locked["status"] == "pass", locked["message"]
    assert locked["evidence"]["exact_set"] is True
    assert stray not in str(locked["evidence"])

    write_client(targets, "exact", target_toml("exact", repo, extra='reader = "restic"\n'))
    locked = _checks(_verify(cli, targets))["restic.objects.locked"]
    assert locked["status"] == "fail", locked["message"]
    assert locked["evidence"]["exact_set"] is False and "superset" in locked["evidence"]["source"]
    assert locked["evidence"]["short_examples"] == [stray]
