"""The ``s3.*`` checks: pure functions of already-fetched bucket facts.

Each function takes :class:`S3Facts` and returns one :class:`Finding` whose evidence holds the
raw values it judged. No I/O happens here, so every check is tested with hand-built facts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from backupcheck.backends.s3 import EXAMPLES, ObjectScan, S3Facts
from backupcheck.checks import s3_rules
from backupcheck.checks.common import FUTURE_TOLERANCE, Judges, finding
from backupcheck.checks.registry import spec
from backupcheck.checks.s3_report import from_report
from backupcheck.clock import iso_full
from backupcheck.model import Finding, Status
from backupcheck.units import format_duration

__all__ = ["JUDGES", "S3Facts", "run_all", "run_bucket_checks"]

_MODE_STRENGTH = {"": 0, "GOVERNANCE": 1, "COMPLIANCE": 2}
JUDGES: Judges[S3Facts] = Judges("s3")
#: a retention this much shorter than the policy's is clock noise between the write time the
#: listing shows and the moment the server computed the retain-until date, not a weaker lock
RETENTION_SLACK = timedelta(minutes=5)


def _unknown(check_id: str, facts: S3Facts, setting: str) -> Finding | None:
    if setting in facts.settings.errors:
        return finding(check_id, Status.ERROR,
                       f"cannot read {setting.replace('_', ' ')}: {facts.settings.errors[setting]}",
                       {"bucket": facts.settings.bucket, "error": facts.settings.errors[setting]})
    return None


def _unlisted(check_id: str, facts: S3Facts, *, versions: bool = False) -> Finding | None:
    """``error`` when the objects (or, with ``versions``, their versions) are unknown."""
    if facts.listing_error:
        return finding(check_id, Status.ERROR, f"cannot list objects: {facts.listing_error}",
                       {"bucket": facts.settings.bucket, "error": facts.listing_error})
    unknown = _scan(facts).versions_unknown
    if versions and unknown:
        return finding(check_id, Status.ERROR, f"object versions are unknown: {unknown}; only "
                       "current objects were listed (ListObjectsV2)",
                       {"bucket": facts.settings.bucket, "error": unknown})
    return None


@JUDGES.judge("s3.versioning")
def versioning(facts: S3Facts) -> Finding:
    check_id = "s3.versioning"
    if unknown := _unknown(check_id, facts, "versioning"):
        return unknown
    state = facts.settings.versioning or "never enabled"
    evidence = {"bucket": facts.settings.bucket, "versioning": facts.settings.versioning}
    if facts.settings.versioning == "Enabled":
        return finding(check_id, Status.PASS, "versioning is Enabled", evidence)
    return finding(check_id, Status.FAIL, f"versioning is {state}", evidence)


@JUDGES.judge("s3.object_lock")
def object_lock(facts: S3Facts) -> Finding:
    check_id = "s3.object_lock"
    if unknown := _unknown(check_id, facts, "object_lock"):
        return unknown
    evidence = {"bucket": facts.settings.bucket,
                "object_lock_enabled": facts.settings.object_lock_enabled}
    if facts.settings.object_lock_enabled:
        return finding(check_id, Status.PASS, "Object Lock is enabled", evidence)
    return finding(check_id, Status.FAIL, "Object Lock is not enabled on the bucket", evidence)


@JUDGES.judge("s3.object_lock.mode")
def object_lock_mode(facts: S3Facts) -> Finding:
    check_id = "s3.object_lock.mode"
    if unknown := _unknown(check_id, facts, "object_lock"):
        return unknown
    mode, required = facts.settings.lock_mode, facts.policy.object_lock_mode
    evidence = {"bucket": facts.settings.bucket, "default_mode": mode, "required": required}
    if not mode:
        return finding(check_id, Status.FAIL, "no default retention mode is set", evidence)
    needed = 1 if required == "any" else _MODE_STRENGTH[required]
    if _MODE_STRENGTH.get(mode, 0) < needed:
        return finding(check_id, Status.FAIL,
                       f"default retention mode is {mode}, policy requires {required}", evidence)
    return finding(check_id, Status.PASS, f"default retention mode is {mode}", evidence)


@JUDGES.judge("s3.object_lock.retention")
def object_lock_retention(facts: S3Facts) -> Finding:
    check_id = "s3.object_lock.retention"
    if unknown := _unknown(check_id, facts, "object_lock"):
        return unknown
    days, minimum = facts.settings.lock_days, facts.policy.min_retention_days
    evidence = {"bucket": facts.settings.bucket, "default_retention_days": days,
                "min_retention_days": minimum}
    if days is None:
        return finding(check_id, Status.FAIL, "no default retention period is set", evidence)
    if days < minimum:
        return finding(check_id, Status.FAIL,
                       f"default retention is {days} days, policy requires {minimum}", evidence)
    return finding(check_id, Status.PASS,
                   f"default retention is {days} days (policy {minimum})", evidence)


@JUDGES.judge("s3.objects.locked")
def objects_locked(facts: S3Facts) -> Finding:
    """Every examined current version must be locked now, in the policy's mode, for at least
    ``min_retention_days`` from when it was written (or be under legal hold).

    Unexpired retention alone is not enough: a writer (or an attacker with its keys) may set
    per-object GOVERNANCE retention of an hour, which the bucket default does not override.
    """
    check_id = "s3.objects.locked"
    if unlisted := _unlisted(check_id, facts):
        return unlisted
    scan, policy = _scan(facts), facts.policy
    needed = 1 if policy.object_lock_mode == "any" else _MODE_STRENGTH[policy.object_lock_mode]
    period = timedelta(days=policy.min_retention_days)
    unlocked: list[str] = []
    weaker: list[str] = []
    short: list[str] = []
    held = 0
    shortest: timedelta | None = None
    earliest: datetime | None = None
    for h in scan.heads:
        if h.legal_hold:
            held += 1
            continue
        if not (h.lock_mode and h.retain_until and h.retain_until > facts.now):
            unlocked.append(h.key)
            continue
        earliest = min(earliest, h.retain_until) if earliest else h.retain_until
        if _MODE_STRENGTH.get(h.lock_mode, 0) < needed:
            weaker.append(h.key)
        if h.last_modified is not None:
            length = h.retain_until - h.last_modified
            shortest = min(shortest, length) if shortest is not None else length
            if length + RETENTION_SLACK < period:
                short.append(h.key)
    evidence = {
        "bucket": facts.settings.bucket, "current_versions": scan.current,
        "checked": len(scan.heads), "sampled": scan.head_sampled, "seed": scan.seed,
        "max_object_heads": policy.max_object_heads, "required_mode": policy.object_lock_mode,
        "min_retention_days": policy.min_retention_days,
        "unlocked": len(unlocked), "unlocked_examples": unlocked[:EXAMPLES],
        "weaker_mode": len(weaker), "weaker_mode_examples": weaker[:EXAMPLES],
        "short_retention": len(short), "short_retention_examples": short[:EXAMPLES],
        "legal_hold": held, "earliest_retain_until": iso_full(earliest),
        "shortest_retention_days": (round(shortest.total_seconds() / 86400, 2)
                                    if shortest is not None else None),
        "head_errors": len(scan.head_errors), "head_error_examples": scan.head_errors[:EXAMPLES],
    }
    how = (f"a sample of {len(scan.heads)} (seed {scan.seed}) of {scan.current} current "
           "versions" if scan.head_sampled else f"{len(scan.heads)} current versions")
    problems = []
    if unlocked:
        problems.append(f"{len(unlocked)} have no active retention or legal hold")
    if weaker:
        problems.append(f"{len(weaker)} are locked in a weaker mode than the policy's "
                        f"{policy.object_lock_mode} (GOVERNANCE can be bypassed)")
    if short:
        problems.append(f"{len(short)} were locked for less than the policy's "
                        f"{policy.min_retention_days} days from their write")
    if problems:
        bad = len(set(unlocked) | set(weaker) | set(short))
        return finding(check_id, Status.FAIL, f"{bad} of {how} are not locked as the policy "
                       f"requires: {'; '.join(problems)} (earliest retain-until "
                       f"{iso_full(earliest) or 'none'}, from HEAD)", evidence)
    if scan.head_errors:
        return finding(check_id, Status.ERROR,
                       f"could not read retention of {len(scan.head_errors)} objects: "
                       f"{scan.head_errors[0]}", evidence)
    locked = (f"locked ({policy.object_lock_mode}, at least {policy.min_retention_days} days "
              "from the write, or legal hold)")
    if scan.head_sampled:
        return finding(check_id, Status.WARN, f"{_sample_text(facts)}: all {locked}", evidence)
    return finding(check_id, Status.PASS, f"all {how} are {locked}", evidence)


@JUDGES.judge("s3.objects.overwritten")
def objects_overwritten(facts: S3Facts) -> Finding:
    check_id = "s3.objects.overwritten"
    if unlisted := _unlisted(check_id, facts, versions=True):
        return unlisted
    scan = _scan(facts)
    evidence = {
        "bucket": facts.settings.bucket, "prefix": facts.prefix, "current_versions": scan.current,
        "stacked": scan.stacked, "examples": scan.stacked_examples,
        "note": "anyone with the writer's credentials can overwrite every object with garbage "
                "and a matching x-amz-meta-xxh3-128: metadata proves a version is consistent "
                "with itself, not that it is the backup; the older versions are the evidence"}
    if scan.stacked:
        named = ", ".join(f"{e['key']} (now {e['current']}, over {e['older_versions']} older)"
                          for e in scan.stacked_examples)
        return finding(check_id, Status.WARN, f"{scan.stacked} of {scan.current} current "
                       f"versions stand on older versions of the same key (ListObjectVersions):"
                       f" rewritten after they were backed up: {named}", evidence)
    return finding(check_id, Status.PASS, f"none of {scan.current} current versions stands on "
                   "an older version of its key (ListObjectVersions)", evidence)


#: what could undo the lock without breaking it (judged in ``s3_rules``)
lifecycle = JUDGES.judge("s3.lifecycle")(s3_rules.lifecycle)
bucket_policy = JUDGES.judge("s3.bucket_policy")(s3_rules.bucket_policy)


def _same_key(configured: str, actual: str) -> bool:
    """KMS keys may be named by ARN or by id; compare the key id part."""
    def key_id(text: str) -> str:
        return text.rsplit("/", 1)[-1] if "/" in text else text.rsplit(":", 1)[-1]
    return bool(actual) and key_id(configured) == key_id(actual)


@JUDGES.judge("s3.encryption")
def encryption(facts: S3Facts) -> Finding:
    check_id = "s3.encryption"
    if unknown := _unknown(check_id, facts, "encryption"):
        return unknown
    s, policy = facts.settings, facts.policy
    evidence = {"bucket": s.bucket, "algorithm": s.encryption_algorithm,
                "kms_key_id": s.kms_key_id, "bucket_key_enabled": s.bucket_key_enabled,
                "required": policy.encryption, "required_kms_key_id": policy.kms_key_id}
    if not s.encryption_algorithm:
        return finding(check_id, Status.FAIL, "no default encryption is configured", evidence)
    if policy.encryption != "any" and s.encryption_algorithm != policy.encryption:
        return finding(check_id, Status.FAIL, f"default encryption is {s.encryption_algorithm}, "
                       f"policy requires {policy.encryption}", evidence)
    if policy.kms_key_id and not _same_key(policy.kms_key_id, s.kms_key_id):
        return finding(check_id, Status.FAIL, f"default KMS key is {s.kms_key_id or 'none'}, "
                       f"policy requires {policy.kms_key_id}", evidence)
    key = f" with key {s.kms_key_id}" if s.kms_key_id else ""
    return finding(check_id, Status.PASS, f"default encryption is {s.encryption_algorithm}{key}",
                   evidence)


@JUDGES.judge("s3.objects.encrypted")
def objects_encrypted(facts: S3Facts) -> Finding:
    check_id = "s3.objects.encrypted"
    if unlisted := _unlisted(check_id, facts):
        return unlisted
    scan, policy = _scan(facts), facts.policy
    unencrypted = [h.key for h in scan.heads if not h.encryption]
    other = [h.key for h in scan.heads if h.encryption and (
        (policy.encryption != "any" and h.encryption != policy.encryption)
        or (policy.kms_key_id and not _same_key(policy.kms_key_id, h.kms_key_id)))]
    evidence = {
        "bucket": facts.settings.bucket, "checked": len(scan.heads),
        "sampled": scan.head_sampled, "seed": scan.seed,
        "max_object_heads": policy.max_object_heads, "current_versions": scan.current,
        "unencrypted": len(unencrypted), "unencrypted_examples": unencrypted[:EXAMPLES],
        "other_encryption": len(other), "other_encryption_examples": other[:EXAMPLES],
        "algorithms": sorted({h.encryption or "none" for h in scan.heads}),
        "head_errors": len(scan.head_errors),
    }
    if unencrypted or other:
        parts = [f"{len(unencrypted)} unencrypted"] if unencrypted else []
        parts += [f"{len(other)} with another algorithm or key"] if other else []
        return finding(check_id, Status.FAIL,
                       f"{' and '.join(parts)} of {len(scan.heads)} checked objects", evidence)
    if scan.head_errors:
        return finding(check_id, Status.ERROR, f"could not read encryption of "
                       f"{len(scan.head_errors)} objects: {scan.head_errors[0]}", evidence)
    if scan.head_sampled:
        return finding(check_id, Status.WARN, f"{_sample_text(facts)}: all encrypted",
                       evidence)
    return finding(check_id, Status.PASS,
                   f"all {len(scan.heads)} checked objects are encrypted", evidence)


@JUDGES.judge("s3.delete_markers")
def delete_markers(facts: S3Facts) -> Finding:
    check_id = "s3.delete_markers"
    if unlisted := _unlisted(check_id, facts, versions=True):
        return unlisted
    scan = _scan(facts)
    evidence = {"bucket": facts.settings.bucket, "delete_markers": scan.delete_markers,
                "hidden_keys": scan.hidden_by_delete_marker,
                "hidden_examples": scan.hidden_examples}
    if scan.hidden_by_delete_marker:
        return finding(check_id, Status.WARN, f"{scan.hidden_by_delete_marker} keys are hidden "
                       "behind delete markers: something deleted backups", evidence)
    return finding(check_id, Status.PASS, "no backups hidden behind delete markers", evidence)


@JUDGES.judge("s3.public_access")
def public_access(facts: S3Facts) -> Finding:
    check_id = "s3.public_access"
    if unknown := _unknown(check_id, facts, "public_access_block"):
        return unknown
    block = facts.settings.public_access_block
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    off = [f for f in flags if not block.get(f)]
    evidence = {"bucket": facts.settings.bucket, "public_access_block": block, "off": off}
    if off:
        return finding(check_id, Status.WARN,
                       f"public access block is not fully on (off: {', '.join(off)})", evidence)
    return finding(check_id, Status.PASS, "public access block is fully on", evidence)


@JUDGES.judge("s3.freshness")
def freshness(facts: S3Facts) -> Finding:
    check_id = "s3.freshness"
    if unlisted := _unlisted(check_id, facts):
        return unlisted
    scan = _scan(facts)
    evidence = {"bucket": facts.settings.bucket, "rpo_seconds": facts.rpo_seconds,
                "newest": iso_full(scan.newest),
                "newest_key": scan.newest_key}
    if scan.newest is None:
        return finding(check_id, Status.FAIL, "no objects in the backup set", evidence)
    age = (facts.now - scan.newest).total_seconds()
    evidence["age_seconds"] = round(age, 1)
    if scan.newest > facts.now + FUTURE_TOLERANCE:
        return finding(check_id, Status.FAIL, f"newest object {scan.newest_key} is dated "
                       f"{iso_full(scan.newest)}, {format_duration(-age)} in the future "
                       "(LastModified vs this machine's clock): a wrong clock or a forged "
                       "time, never fresh", evidence)
    text = (f"newest object {format_duration(max(age, 0.0))} old "
            f"(rpo {format_duration(facts.rpo_seconds)})")
    return finding(check_id, Status.FAIL if age > facts.rpo_seconds else Status.PASS, text,
                   evidence)


def _sample_text(facts: S3Facts) -> str:
    """What a sampled check saw: never a claim about the objects it did not examine."""
    scan = _scan(facts)
    how = "inventory report" if scan.report else "HEAD"
    return (f"examined {len(scan.heads)} of {scan.current} current versions ({how}): more than "
            f"max_object_heads {facts.policy.max_object_heads}, so a sample (seed {scan.seed},"
            " another each run)")


def _scan(facts: S3Facts) -> ObjectScan:
    return facts.scan if facts.scan is not None else ObjectScan()


def run_bucket_checks(facts: S3Facts) -> list[Finding]:
    """The checks of the bucket's configuration alone (also run on a restic repository's)."""
    return JUDGES.run(facts, only=lambda check_id: spec(check_id).bucket_setting)


def run_all(facts: S3Facts) -> list[Finding]:
    """Every ``s3.*`` check, in registry order (from an inventory report: see
    :mod:`backupcheck.checks.s3_report`)."""
    return from_report(facts, JUDGES.run(facts),
                       lambda check_id, again: JUDGES.run(again, only=lambda i: i == check_id)[0])
