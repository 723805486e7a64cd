"""The ``restic.*`` checks: pure functions of already-fetched repository facts.

Each function takes :class:`ResticFacts` and returns one :class:`Finding` whose evidence holds
the raw values it judged. A fact that could not be fetched is named in ``facts.errors`` (by
check id) and makes only that check ``error``; a repository that cannot be opened at all
never gets here (the backend raises TargetUnavailable and every check becomes ``error``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from backupcheck.backends.restic_facts import ResticFacts, StorageFacts
from backupcheck.backends.s3 import S3Facts
from backupcheck.backends.s3_facts import EXAMPLES, count_by_folder
from backupcheck.checks.common import FUTURE_TOLERANCE, Judges, finding
from backupcheck.checks.s3 import (
    bucket_policy,
    lifecycle,
    object_lock,
    object_lock_mode,
    object_lock_retention,
    versioning,
)
from backupcheck.clock import iso_full
from backupcheck.model import Finding, Status
from backupcheck.units import format_duration, human_bytes

__all__ = ["JUDGES", "ResticFacts", "StorageFacts", "run_all"]

JUDGES: Judges[ResticFacts] = Judges("restic")

#: the bucket checks that together make a repository's storage immutable: the lock itself,
#: and no lifecycle rule or policy grant that undoes it
IMMUTABILITY_CHECKS = (versioning, object_lock, object_lock_mode, object_lock_retention,
                       lifecycle, bucket_policy)


def _unknown(check_id: str, facts: ResticFacts) -> Finding | None:
    if check_id in facts.errors:
        return finding(check_id, Status.ERROR, facts.errors[check_id],
                       {"repository": facts.location, "error": facts.errors[check_id]})
    return None


@JUDGES.judge("restic.access")
def access(facts: ResticFacts) -> Finding:
    config = facts.config
    version = ".".join(map(str, facts.restic_version))
    compression = "compression-capable" if config.compression else "no compression"
    evidence = {"repository": facts.location, "repository_id": config.id,
                "repository_version": config.version, "compression": config.compression,
                "restic_version": version}
    return finding("restic.access", Status.PASS,
                   f"repository opened (format v{config.version}, {compression}; "
                   f"restic {version})", evidence)


@JUDGES.judge("restic.keys")
def keys(facts: ResticFacts) -> Finding:
    check_id = "restic.keys"
    if unknown := _unknown(check_id, facts):
        return unknown
    assert facts.keys is not None
    count, allowed = facts.keys.count, facts.policy.max_restic_keys
    evidence = {"repository": facts.location, "keys": count, "max_restic_keys": allowed,
                "key_list": [{"id": k.id, "user": k.username, "host": k.hostname,
                              "created": k.created} for k in facts.keys.keys]}
    if count > allowed:
        return finding(check_id, Status.FAIL,
                       f"{count} keys can open the repository, policy allows {allowed}",
                       evidence)
    return finding(check_id, Status.PASS, f"{count} key(s) (policy allows {allowed})", evidence)


@JUDGES.judge("restic.storage.immutable")
def storage_immutable(facts: ResticFacts) -> Finding:
    check_id = "restic.storage.immutable"
    storage = facts.storage
    evidence: dict[str, Any] = {"repository": storage.location, "storage": storage.kind}
    if storage.kind != "s3":
        return finding(check_id, Status.WARN, f"{storage.kind} storage is not immutable-capable "
                       "/ its immutability cannot be verified", evidence)
    evidence.update(bucket=storage.bucket, prefix=storage.prefix,
                    endpoint_url=storage.endpoint_url)
    if storage.settings is None:
        evidence["error"] = storage.error
        what = f"the settings of bucket {storage.bucket}" if storage.bucket else "the bucket"
        return finding(check_id, Status.ERROR, f"cannot read {what}: {storage.error}",
                       evidence)
    # the repository's objects live under its prefix: lifecycle rules and policy grants
    # are judged for that prefix
    s3_facts = S3Facts(policy=facts.policy, rpo_seconds=facts.rpo_seconds, now=facts.now,
                       settings=storage.settings, protection=storage.protection,
                       prefix=f"{storage.prefix.strip('/')}/" if storage.prefix.strip("/")
                       else "")
    subs = [check(s3_facts) for check in IMMUTABILITY_CHECKS]
    evidence["bucket_checks"] = [{"id": f.id, "status": str(f.status), "message": f.message}
                                 for f in subs]
    failed = [f for f in subs if f.status is Status.FAIL]
    unknown = [f for f in subs if f.status is Status.ERROR]
    warned = [f for f in subs if f.status is Status.WARN]
    if failed:
        return finding(check_id, Status.FAIL, f"bucket {storage.bucket} is not immutable: "
                       + "; ".join(f.message for f in failed), evidence)
    if unknown:
        return finding(check_id, Status.ERROR, f"cannot verify bucket {storage.bucket}: "
                       + "; ".join(f.message for f in unknown), evidence)
    if warned:
        return finding(check_id, Status.WARN, f"bucket {storage.bucket}: "
                       + "; ".join(f.message for f in warned), evidence)
    return finding(check_id, Status.PASS, f"bucket {storage.bucket}: "
                   + ", ".join(f.message for f in subs[2:]), evidence)


_MODE_STRENGTH = {"GOVERNANCE": 1, "COMPLIANCE": 2}


def _kinds(keys: list[str], root: str) -> str:
    """``3 packs (data/), 1 index file`` — what kinds of repository objects ``keys`` are."""
    names = {"data": "pack", "index": "index file", "snapshots": "snapshot file",
             "keys": "key file", "config": "config"}
    counts = count_by_folder(keys, root)
    return ", ".join(f"{n} {names.get(top, top)}{'s' if n > 1 and top != 'config' else ''}"
                     for top, n in counts.most_common())


@JUDGES.judge("restic.objects.locked")
def objects_locked(facts: ResticFacts) -> Finding:
    check_id = "restic.objects.locked"
    storage, policy = facts.storage, facts.policy
    evidence: dict[str, Any] = {"repository": storage.location, "storage": storage.kind}
    if storage.kind != "s3":
        return finding(check_id, Status.WARN, f"{storage.kind} storage: objects cannot be "
                       "locked (or their lock cannot be read), so nothing stops their deletion",
                       evidence)
    if unknown := _unknown(check_id, facts):
        return unknown
    if facts.locks is None:
        return finding(check_id, Status.ERROR, f"cannot read the objects of bucket "
                       f"{storage.bucket or '?'}: {storage.error or 'no bucket'}", evidence)
    scan, root = facts.locks, f"{storage.prefix.strip('/')}/" if storage.prefix.strip("/") else ""
    horizon = facts.now + timedelta(seconds=policy.min_lock_horizon_seconds)
    needed = _MODE_STRENGTH.get(policy.object_lock_mode, 0)
    short: list[str] = []
    weaker: list[str] = []
    held = 0
    earliest: datetime | None = None
    for head in scan.heads:
        if head.retain_until is not None and head.lock_mode:
            earliest = min(earliest, head.retain_until) if earliest else head.retain_until
        if head.legal_hold:
            held += 1
            continue
        if not (head.lock_mode and head.retain_until and head.retain_until >= horizon):
            short.append(head.key)
        elif _MODE_STRENGTH.get(head.lock_mode, 0) < needed:
            weaker.append(head.key)
    short_bytes = sum(scan.sizes.get(k, 0) for k in short)
    evidence.update(
        bucket=storage.bucket, prefix=storage.prefix, source=scan.source, exact_set=scan.exact,
        objects=scan.objects, bytes=scan.bytes, examined=len(scan.heads) + len(scan.missing),
        sampled=scan.sampled, seed=scan.seed, max_object_heads=policy.max_object_heads,
        min_lock_horizon=format_duration(policy.min_lock_horizon_seconds),
        min_lock_horizon_seconds=policy.min_lock_horizon_seconds,
        locked_until_at_least=iso_full(horizon), required_mode=policy.object_lock_mode,
        short=len(short), short_bytes=short_bytes, short_examples=short[:EXAMPLES],
        weaker_mode=len(weaker), weaker_mode_examples=weaker[:EXAMPLES], legal_hold=held,
        missing=len(scan.missing), missing_examples=scan.missing[:EXAMPLES],
        earliest_retain_until=iso_full(earliest), head_errors=len(scan.head_errors),
        head_error_examples=scan.head_errors[:EXAMPLES])
    if scan.sampled:
        evidence["examined_keys"] = sorted(h.key for h in scan.heads)[:10]
    examined = evidence["examined"]
    of = (f"{examined} of {scan.objects} objects (a sample, seed {scan.seed})" if scan.sampled
          else f"{scan.objects} objects")
    horizon_text = format_duration(policy.min_lock_horizon_seconds)
    problems = []
    if short:
        problems.append(f"{len(short)} ({_kinds(short, root)}; {human_bytes(short_bytes)}) are "
                        f"not locked until {iso_full(horizon)} (min_lock_horizon {horizon_text}),"
                        f" e.g. {short[0]}")
    if weaker:
        problems.append(f"{len(weaker)} are locked in GOVERNANCE mode, which anyone allowed to "
                        f"bypass governance retention can delete (policy "
                        f"{policy.object_lock_mode})")
    if scan.missing:
        problems.append(f"{len(scan.missing)} are missing from the bucket, e.g. "
                        f"{scan.missing[0]}")
    earliest_text = f"earliest retain-until {iso_full(earliest) or 'none'}"
    if problems:
        return finding(check_id, Status.FAIL, f"of {of} a restore needs: " + "; ".join(problems)
                       + f" ({earliest_text}; from HEAD; set: {scan.source})", evidence)
    if scan.head_errors:
        return finding(check_id, Status.ERROR, f"could not read the retention of "
                       f"{len(scan.head_errors)} of {scan.objects} objects: "
                       f"{scan.head_errors[0]}", evidence)
    locked = f"locked until at least {iso_full(horizon)} ({earliest_text}; from HEAD)"
    if scan.sampled:
        return finding(check_id, Status.WARN, f"examined {examined} of {scan.objects} objects a "
                       f"restore needs (max_object_heads {policy.max_object_heads}; the sample "
                       f"rotates with the seed): all {locked}; the rest unproven", evidence)
    return finding(check_id, Status.PASS, f"all {scan.objects} objects a restore needs "
                   f"({human_bytes(scan.bytes)}) are {locked}; set: {scan.source}", evidence)


@JUDGES.judge("restic.freshness")
def freshness(facts: ResticFacts) -> Finding:
    check_id = "restic.freshness"
    if unknown := _unknown(check_id, facts):
        return unknown
    evidence: dict[str, Any] = {"repository": facts.location, "rpo_seconds": facts.rpo_seconds,
                                "filters": dict(facts.filters)}
    future = [s for s in facts.snapshots if s.time > facts.now + FUTURE_TOLERANCE]
    counted = [s for s in facts.snapshots if s not in future]
    evidence.update(future_snapshots=len(future),
                    future_examples=[s.short_id for s in future[-EXAMPLES:]])
    rpo = format_duration(facts.rpo_seconds)
    if not counted:
        evidence["newest"] = None
    if not counted and not future:
        return finding(check_id, Status.FAIL, "no matching snapshot", evidence)
    text = ""
    age = 0.0
    if counted:
        newest = max(counted, key=lambda s: s.time)
        age = (facts.now - newest.time).total_seconds()
        evidence.update(newest=iso_full(newest.time), snapshot=newest.short_id,
                        age_seconds=round(age, 1))
        text = f"newest snapshot {format_duration(max(age, 0.0))} old (rpo {rpo})"
    if future:
        ahead = max(future, key=lambda s: s.time)
        evidence["newest_future"] = iso_full(ahead.time)
        lead = format_duration((ahead.time - facts.now).total_seconds())
        return finding(check_id, Status.FAIL, f"{len(future)} snapshot(s) dated in the future "
                       f"(up to {ahead.short_id} at {iso_full(ahead.time)}, {lead} ahead of "
                       "this machine's clock): a wrong clock or a forged time, never fresh; "
                       + (text or "no other matching snapshot"), evidence)
    return finding(check_id, Status.FAIL if age > facts.rpo_seconds else Status.PASS, text,
                   evidence)


@JUDGES.judge("restic.snapshots")
def snapshots(facts: ResticFacts) -> Finding:
    check_id = "restic.snapshots"
    if unknown := _unknown(check_id, facts):
        return unknown
    count, minimum = len(facts.snapshots), facts.policy.min_snapshots
    evidence: dict[str, Any] = {"repository": facts.location, "snapshots": count,
                                "min_snapshots": minimum, "filters": dict(facts.filters)}
    if facts.snapshots:
        evidence["oldest"] = iso_full(min(s.time for s in facts.snapshots))
        evidence["newest"] = iso_full(max(s.time for s in facts.snapshots))
    if count < minimum:
        return finding(check_id, Status.FAIL,
                       f"{count} matching snapshots, policy requires at least {minimum}",
                       evidence)
    return finding(check_id, Status.PASS, f"{count} matching snapshots (minimum {minimum})",
                   evidence)


@JUDGES.judge("restic.integrity")
def integrity(facts: ResticFacts) -> Finding:
    check_id = "restic.integrity"
    if unknown := _unknown(check_id, facts):
        return unknown
    outcome = facts.integrity
    assert outcome is not None
    scope = (f"structure and {outcome.read_data_subset} of the data"
             if outcome.read_data_subset else "structure only")
    evidence: dict[str, Any] = {
        "repository": facts.location, "read_data_subset": outcome.read_data_subset,
        "scope": scope, "exit_code": outcome.exit_code, "errors": list(outcome.errors),
        "error_count": outcome.error_count, "seconds": outcome.seconds}
    cycle = ""
    if facts.rotation is not None:
        rotation = facts.rotation
        evidence["rotation"] = rotation.evidence()
        scope = f"structure and slice {rotation.slice} of {rotation.of} of the data"
        cycle = f"; {rotation.cycle()}"
    if not outcome.ok:
        first = outcome.errors[0] if outcome.errors else "restic check failed"
        return finding(check_id, Status.FAIL, f"restic check ({scope}) reports "
                       f"{outcome.error_count} error(s): {first}{cycle}", evidence)
    return finding(check_id, Status.PASS, f"restic check ({scope}): no errors{cycle}",
                   evidence)


def run_all(facts: ResticFacts) -> list[Finding]:
    """Every ``restic.*`` check, in registry order."""
    return JUDGES.run(facts)
