"""The one registry of checks: every check id and everything that belongs to it.

A check id's kind (which storage kind or stage reports it), the worst status it reports, what
it fails on, the remediation shown beside it, the plain-language sentences of the audit page,
the audit pillar it belongs to and the compliance controls it evidences all live here and
nowhere else. Commands, renderers, the audit verdict and ``list-checks`` read this table.

Adding a check: one :class:`CheckSpec` entry below, in the order the checks should be
reported, plus its judging function in ``checks/<kind>.py`` bound with ``@JUDGES.judge(id)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from backupcheck.checks import controls
from backupcheck.model import Finding, Status

Kind = Literal["s3", "restic", "restore", "client"]
Pillar = Literal["fresh", "immutable", "encrypted", "restorable", "rto"]


@dataclass(frozen=True)
class CheckSpec:
    id: str
    #: ``s3`` / ``restic``: judged from a backend's facts; ``restore``: by the drill;
    #: ``client``: about the client file itself
    kind: Kind
    #: the worst status the check reports when its condition holds (``warn`` for advisories)
    severity: Literal["fail", "warn", "error"]
    #: what the check fails on, as SPEC says it
    fails_on: str
    #: one-line remediation shown next to a failing (or warning, or error) finding
    hint: str
    #: what a pass proves, in words a client's IT manager understands
    plain: str
    #: the same, said as the problem it is when the check fails
    failed: str
    #: the audit page's pillar, or None for checks outside the five pillars
    pillar: Pillar | None
    #: a warning's own words, and advice where the failure's hint would mislead ("" = hint)
    warned: str = ""
    warned_hint: str = ""
    #: judges the bucket's configuration alone (also run on a restic repository's bucket)
    bucket_setting: bool = False
    #: compliance controls this check evidences
    controls: tuple[str, ...] = ()


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(
        "s3.versioning", "s3", "fail", "bucket versioning is not Enabled",
        "enable bucket versioning (required for Object Lock)",
        "Earlier versions of every backup file are kept (versioning)",
        "Earlier versions of backup files are not kept (versioning is off)",
        "immutable", controls=controls.IMMUTABLE, bucket_setting=True),
    CheckSpec(
        "s3.object_lock", "s3", "fail", "Object Lock is not enabled on the bucket",
        "Object Lock can only be enabled on a versioned bucket; create a locked bucket and "
        "move the backup repository there",
        "Backups are write-protected (Object Lock)",
        "Backups are not write-protected (no Object Lock)",
        "immutable", controls=controls.IMMUTABLE, bucket_setting=True),
    CheckSpec(
        "s3.object_lock.mode", "s3", "fail",
        "default retention mode is missing or weaker than the policy",
        "set the bucket's default retention to COMPLIANCE mode",
        "Nobody, not even an administrator, can delete backups early (COMPLIANCE mode)",
        "An administrator could delete backups early (lock mode too weak)",
        "immutable", controls=controls.IMMUTABLE, bucket_setting=True),
    CheckSpec(
        "s3.object_lock.retention", "s3", "fail",
        "default retention is shorter than min_retention_days",
        "raise the default retention to at least the policy's min_retention_days",
        "Backups stay protected long enough (retention period)",
        "Backups are protected for too short a time",
        "immutable", controls=controls.IMMUTABLE, bucket_setting=True),
    CheckSpec(
        "s3.objects.locked", "s3", "fail",
        "some current object version has no unexpired retention and no legal hold, or was "
        "written with a weaker mode or a shorter retention than the policy",
        "objects written before the lock rule have no retention, and a writer may set its own "
        "weaker per-object lock: fix the writer's Object Lock settings, then re-run a full "
        "backup or set per-object retention",
        "Every backup file is under write protection",
        "Some backup files are not write-protected",
        "immutable", controls=controls.IMMUTABLE),
    CheckSpec(
        "s3.objects.overwritten", "s3", "warn",
        "current versions stand on top of older versions of the same key",
        "compare the rewritten keys with the backup job's log: a rewrite the backup software "
        "did not make is tampering; the older version is still there to restore",
        "No backup file was rewritten after it was backed up",
        "Some backup files were rewritten after they were backed up",
        "immutable", controls=controls.IMMUTABLE),
    CheckSpec(
        "s3.lifecycle", "s3", "fail",
        "a lifecycle rule that applies to the set expires current or noncurrent versions "
        "sooner than min_retention_days",
        "lengthen the rule's expiration to at least min_retention_days, or narrow its filter "
        "away from the backups",
        "No lifecycle rule deletes backups early",
        "A lifecycle rule deletes backups as soon as their lock allows",
        "immutable", controls=controls.IMMUTABLE, bucket_setting=True),
    CheckSpec(
        "s3.bucket_policy", "s3", "fail",
        "the bucket policy lets any principal (*) or another account delete object versions, "
        "bypass governance retention, or change the lock, lifecycle or policy (warn: a named "
        "principal of the same account)",
        "remove the statements granting these actions, or add a Deny for everyone but a "
        "break-glass role",
        "Nobody outside the company can delete backups or loosen their protection",
        "The bucket policy lets others delete backups or loosen their protection",
        "immutable", controls=controls.IMMUTABLE, bucket_setting=True,
        warned="People in the company's own account may delete backups or loosen their "
               "protection",
        warned_hint="review the named principals: grant these actions to a break-glass role "
                    "only, or to nobody"),
    CheckSpec(
        "s3.encryption", "s3", "fail",
        "no default encryption, or it does not match encryption / kms_key_id",
        "configure default bucket encryption (SSE-S3 or SSE-KMS with the policy's key)",
        "Backups are encrypted at rest",
        "Backups are not encrypted as required",
        "encrypted", controls=controls.PROTECTED, bucket_setting=True),
    CheckSpec(
        "s3.objects.encrypted", "s3", "fail",
        "some object version is stored unencrypted or with another key",
        "re-write or re-backup the unencrypted objects; check the writer's SSE settings",
        "Every backup file is stored encrypted",
        "Some backup files are unencrypted or use another key",
        "encrypted", controls=controls.PROTECTED),
    CheckSpec(
        "s3.delete_markers", "s3", "warn",
        "current versions hidden behind delete markers",
        "investigate who deleted backups; restore by removing the delete markers",
        "No backup files have been deleted",
        "Some backup files have been deleted",
        "immutable", controls=controls.IMMUTABLE),
    CheckSpec(
        "s3.public_access", "s3", "warn", "the public access block is not fully on",
        "turn on all four public access block settings",
        "Backups cannot be made public",
        "Backups could be made public (public access block not fully on)",
        "encrypted", controls=controls.PROTECTED, bucket_setting=True),
    CheckSpec(
        "s3.freshness", "s3", "fail", "newest object in the set is older than rpo",
        "check that the backup job still runs and succeeds (schedule, logs, credentials, "
        "free space), then run it once and audit again",
        "The newest backup is recent enough (RPO)",
        "The newest backup is too old (RPO missed)",
        "fresh", controls=controls.FRESH),
    CheckSpec(
        "restic.access", "restic", "error",
        "repository cannot be opened (wrong password, missing, unreachable)",
        "check the repository string, the password source and the network",
        "The backup repository opens with its password",
        "The backup repository cannot be opened",
        "restorable", controls=controls.RESTORABLE),
    CheckSpec(
        "restic.keys", "restic", "fail", "more keys than max_restic_keys",
        "list keys with `restic key list` and remove the ones you did not add",
        "No unknown keys can open the repository",
        "More keys than expected can open the repository",
        "encrypted", controls=controls.PROTECTED),
    CheckSpec(
        "restic.storage.immutable", "restic", "fail",
        "the repository's storage is not immutable (bucket checks on an s3: repository's "
        "bucket; warn for local or sftp)",
        "store the repository in an Object-Lock bucket (COMPLIANCE mode)",
        "The repository's storage is write-protected",
        "The repository's storage is not write-protected",
        "immutable", controls=controls.IMMUTABLE,
        warned="The repository's storage is not write-protected"),
    CheckSpec(
        "restic.objects.locked", "restic", "fail",
        "for an s3: repository: some object a restore of the newest matching snapshot needs "
        "is not locked for at least min_lock_horizon from now (warn for local or sftp)",
        "old packs lose their lock while new snapshots still use them: extend the objects' "
        "retention (put-object-retention) or copy the repository to a fresh locked bucket",
        "Every file a restore needs stays locked until after the next drill",
        "Some files a restore needs are no longer locked (or not for long)",
        "immutable", controls=controls.IMMUTABLE,
        warned="Not every file a restore needs could be shown to stay locked",
        warned_hint="store the repository in an Object-Lock bucket, or raise max_object_heads "
                    "so every object is examined"),
    CheckSpec(
        "restic.freshness", "restic", "fail", "newest matching snapshot is older than rpo",
        "check that the backup job still runs and succeeds (schedule, logs, repository "
        "password, free space), then run it once and audit again",
        "The newest backup is recent enough (RPO)",
        "The newest backup is too old (RPO missed)",
        "fresh", controls=controls.FRESH),
    CheckSpec(
        "restic.snapshots", "restic", "fail", "fewer than min_snapshots matching snapshots",
        "fewer snapshots than min_snapshots: check the backup job and forget policy",
        "Enough backup versions are kept",
        "Too few backup versions are kept",
        "fresh", controls=controls.FRESH),
    CheckSpec(
        "restic.integrity", "restic", "fail",
        "restic check (with the plan's read_data_subset) reports errors",
        "run `restic check --read-data` and repair or re-backup the damaged data",
        "The repository passes its integrity check",
        "The repository's integrity check found errors",
        "restorable", controls=controls.RESTORABLE),
    CheckSpec(
        "restore.sample", "restore", "fail",
        "a sampled file could not be restored, or its digest / size differs from the ground "
        "truth, or a file the manifest lists is absent from the backup, or the manifest "
        "matches none of the backup's files (error: the manifest is missing or unreadable)",
        "compare each failing file (listed with its expected and actual digests) with its "
        "source: if the source changed after the "
        "backup, take a new backup and rebuild its manifest at backup time; if not, the "
        "backup is damaged: back up again and check the storage (restic check --read-data)",
        "Sampled files restore byte for byte",
        "Some sampled files did not restore correctly",
        "restorable", controls=controls.RESTORABLE,
        warned="Restored files could not be proven correct (no recorded digests)",
        warned_hint="record digests at backup time (backupcheck manifest build, or "
                    "x-amz-meta-xxh3-128 object metadata) and point the target's manifest at "
                    "them"),
    CheckSpec(
        "restore.rto", "restore", "fail",
        "the estimated full restore time exceeds rto (fail: even its low end; warn: only its "
        "high end)",
        "a full restore at the measured speed would exceed the RTO: restore from faster "
        "storage or over a faster link, keep less data in this backup set, or renegotiate "
        "the RTO",
        "A full restore finishes within the agreed recovery time (RTO)",
        "A full restore would take longer than the agreed RTO",
        "rto", controls=controls.RECOVERY_TIME,
        warned="A full restore may take longer than the agreed RTO (the estimate's upper end "
               "exceeds it)",
        warned_hint="the estimate's range straddles the RTO: time a real full restore to "
                    "settle it, or agree an RTO with headroom"),
    CheckSpec(
        "config", "client", "error", "the client file could not be loaded",
        "fix the client file at the line and key the message names",
        "The client's configuration loads",
        "The client's configuration could not be loaded",
        None),
)

BY_ID: Mapping[str, CheckSpec] = {spec.id: spec for spec in CHECKS}


def spec(check_id: str) -> CheckSpec:
    """The registry entry of ``check_id``; an unregistered id is a bug (KeyError)."""
    try:
        return BY_ID[check_id]
    except KeyError:
        raise KeyError(f"unregistered check id {check_id!r}") from None


def ids_of(kind: Kind) -> tuple[str, ...]:
    """The check ids ``kind`` reports, in report order."""
    return tuple(s.id for s in CHECKS if s.kind == kind)


def finding(check_id: str, status: Status, message: str,
            evidence: Mapping[str, Any] | None = None) -> Finding:
    """A finding for a registered check id, with its remediation hint when not passing."""
    hint = spec(check_id).hint if status is not Status.PASS else ""
    return Finding(id=check_id, status=status, message=message, evidence=dict(evidence or {}),
                   hint=hint)


#: remediation hint per check id (a view of the registry, for renderers and tests)
HINTS: Mapping[str, str] = {s.id: s.hint for s in CHECKS}
