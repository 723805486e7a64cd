"""Policy checks: one small pure function per SPEC check id, grouped by storage kind.

``HINTS`` is the single list of check ids with the one-line remediation shown next to a
failing check; ``checks/s3.py`` and ``checks/restic.py`` hold the judging functions.
"""

HINTS: dict[str, str] = {
    "s3.versioning": "enable bucket versioning (required for Object Lock)",
    "s3.object_lock": "Object Lock can only be enabled on a versioned bucket; "
    "create a locked bucket and move the backup repository there",
    "s3.object_lock.mode": "set the bucket's default retention to COMPLIANCE mode",
    "s3.object_lock.retention": "raise the default retention to at least the policy's "
    "min_retention_days",
    "s3.objects.locked": "objects written before the lock rule have no retention: re-run a full "
    "backup or set per-object retention",
    "s3.encryption": "configure default bucket encryption (SSE-S3 or SSE-KMS with the "
    "policy's key)",
    "s3.objects.encrypted": "re-write or re-backup the unencrypted objects; check the "
    "writer's SSE settings",
    "s3.delete_markers": "investigate who deleted backups; restore by removing the delete "
    "markers",
    "s3.public_access": "turn on all four public access block settings",
    "s3.freshness": "the newest backup is older than the RPO: check the backup job",
    "restic.access": "check the repository string, the password source and the network",
    "restic.keys": "list keys with `restic key list` and remove the ones you did not add",
    "restic.storage.immutable": "store the repository in an Object-Lock bucket (COMPLIANCE mode)",
    "restic.freshness": "the newest snapshot is older than the RPO: check the backup job",
    "restic.snapshots": "fewer snapshots than min_snapshots: check the backup job and "
    "forget policy",
    "restic.integrity": "run `restic check --read-data` and repair or re-backup the "
    "damaged data",
    "restore.sample": "a sampled file did not restore correctly: investigate the backup and "
    "the ground truth",
    "restore.rto": "the full restore would exceed the RTO: faster storage/link, more parallel "
    "streams, or renegotiate the RTO",
}
