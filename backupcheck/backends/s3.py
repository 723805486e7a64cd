"""S3 facts: bucket settings, a streamed scan of object versions, and per-object HEADs.

Nothing here judges anything; ``checks/s3.py`` does that from the facts gathered here.
Listings are streamed page by page: only counters, a few example keys and a bounded
reservoir sample of current versions stay in memory, whatever the bucket's size.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from backupcheck.errors import TargetUnavailable
from backupcheck.model import Policy

#: how many current versions are HEADed at most (beyond that a seeded random sample)
HEAD_LIMIT = 10_000
EXAMPLES = 5

#: error codes that mean "this setting is simply not configured"
_NOT_CONFIGURED = {
    "object_lock": {"ObjectLockConfigurationNotFoundError"},
    "encryption": {"ServerSideEncryptionConfigurationNotFoundError"},
    "public_access_block": {"NoSuchPublicAccessBlockConfiguration"},
}
_MISSING_BUCKET = {"NoSuchBucket", "404", "NotFound"}
#: the bucket-level settings read by :func:`read_bucket_settings` (keys of ``errors``)
SETTINGS = ("versioning", "object_lock", "encryption", "public_access_block")


@dataclass(frozen=True)
class BucketSettings:
    """What the bucket's configuration says. A key in ``errors`` means that setting is unknown."""

    bucket: str
    versioning: str = ""  # "Enabled" | "Suspended" | "" (never enabled)
    object_lock_enabled: bool = False
    lock_mode: str = ""
    lock_days: int | None = None
    encryption_algorithm: str = ""
    kms_key_id: str = ""
    bucket_key_enabled: bool = False
    public_access_block: dict[str, bool] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectVersion:
    key: str
    version_id: str
    size: int
    last_modified: datetime
    is_latest: bool
    is_delete_marker: bool
    storage_class: str
    etag: str


@dataclass(frozen=True)
class HeadFacts:
    key: str
    version_id: str
    lock_mode: str
    retain_until: datetime | None
    legal_hold: bool
    encryption: str
    kms_key_id: str
    metadata: dict[str, str]
    #: when the version was written (HEAD's Last-Modified): where its retention starts
    last_modified: datetime | None = None


@dataclass
class ObjectScan:
    """Aggregates of one streamed listing, plus HEAD facts for (a sample of) current versions."""

    versions: int = 0
    delete_markers: int = 0
    current: int = 0
    current_bytes: int = 0
    all_bytes: int = 0
    hidden_by_delete_marker: int = 0
    hidden_examples: list[str] = field(default_factory=list)
    newest: datetime | None = None
    oldest: datetime | None = None
    newest_key: str = ""
    heads: list[HeadFacts] = field(default_factory=list)
    head_errors: list[str] = field(default_factory=list)
    head_sampled: bool = False
    seed: int = 0


@dataclass(frozen=True)
class S3Facts:
    """Everything the ``s3.*`` checks judge, fetched beforehand by the backend."""

    policy: Policy
    rpo_seconds: float
    now: datetime
    settings: BucketSettings
    #: None when only bucket settings were read (the storage of a restic repository)
    scan: ObjectScan | None = None
    #: why the objects could not be listed (the settings could): object checks are ``error``
    listing_error: str = ""


def lock_mode_text(settings: BucketSettings) -> str:
    """The bucket's default lock mode as shown to people: the mode, "none" or "no default"."""
    if settings.lock_mode:
        return settings.lock_mode
    return "none" if not settings.object_lock_enabled else "no default"


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or "ClientError"
    return type(exc).__name__


def describe(exc: BaseException) -> str:
    """One line for an S3 failure, without request signatures or credentials."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {err.get('Message', '')}".strip(": ")
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__



def read_bucket_settings(client: Any, bucket: str) -> BucketSettings:
    """Read every bucket-level setting; a missing bucket or dead endpoint raises.

    Raises TargetUnavailable when the bucket is missing or the endpoint cannot be reached;
    an AccessDenied on a single setting is recorded in ``errors`` so that only the checks
    that need it become ``error``.
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}

    def fetch(name: str, fn: Callable[..., Any]) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = fn(Bucket=bucket)
            return result
        except ClientError as exc:
            code = error_code(exc)
            if code in _MISSING_BUCKET:
                raise TargetUnavailable(f"bucket {bucket!r} does not exist") from None
            if code in _NOT_CONFIGURED.get(name, set()):
                return None
            errors[name] = describe(exc)
            return None
        except BotoCoreError as exc:
            raise TargetUnavailable(f"cannot reach S3 for bucket {bucket!r}: "
                                    f"{describe(exc)}") from None

    versioning = fetch("versioning", client.get_bucket_versioning)
    if versioning is not None:
        values["versioning"] = versioning.get("Status", "")
    lock = fetch("object_lock", client.get_object_lock_configuration)
    if lock is not None:
        config = lock.get("ObjectLockConfiguration", {})
        values["object_lock_enabled"] = config.get("ObjectLockEnabled") == "Enabled"
        retention = config.get("Rule", {}).get("DefaultRetention", {})
        values["lock_mode"] = retention.get("Mode", "")
        if "Days" in retention or "Years" in retention:
            # some servers send both, the unused one as 0 (moto: Days=0, Years=1)
            values["lock_days"] = (int(retention.get("Days") or 0)
                                   + int(retention.get("Years") or 0) * 365)
    encryption = fetch("encryption", client.get_bucket_encryption)
    if encryption is not None:
        rules = encryption.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        if rules:
            default = rules[0].get("ApplyServerSideEncryptionByDefault", {})
            values["encryption_algorithm"] = default.get("SSEAlgorithm", "")
            values["kms_key_id"] = default.get("KMSMasterKeyID", "")
            values["bucket_key_enabled"] = bool(rules[0].get("BucketKeyEnabled", False))
    pab = fetch("public_access_block", client.get_public_access_block)
    if pab is not None:
        values["public_access_block"] = {
            k: bool(v) for k, v in pab.get("PublicAccessBlockConfiguration", {}).items()
        }
    return BucketSettings(bucket=bucket, errors=errors, **values)


def iter_object_versions(client: Any, bucket: str, prefix: str) -> Iterator[ObjectVersion]:
    """Every object version and delete marker under ``prefix``, page by page, in key order."""
    paginator = client.get_paginator("list_object_versions")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            # a page lists versions and markers separately; merge them back into key order
            entries: list[ObjectVersion] = []
            for item in page.get("Versions", []):
                entries.append(ObjectVersion(
                    key=item["Key"], version_id=str(item.get("VersionId") or "null"),
                    size=int(item.get("Size", 0)), last_modified=item["LastModified"],
                    is_latest=bool(item.get("IsLatest")), is_delete_marker=False,
                    storage_class=str(item.get("StorageClass", "")),
                    etag=str(item.get("ETag", "")).strip('"')))
            for item in page.get("DeleteMarkers", []):
                entries.append(ObjectVersion(
                    key=item["Key"], version_id=str(item.get("VersionId") or "null"),
                    size=0, last_modified=item["LastModified"],
                    is_latest=bool(item.get("IsLatest")), is_delete_marker=True,
                    storage_class="", etag=""))
            entries.sort(key=lambda e: (e.key, not e.is_latest, -e.last_modified.timestamp()))
            yield from entries
    except ClientError as exc:
        if error_code(exc) in _MISSING_BUCKET:
            raise TargetUnavailable(f"bucket {bucket!r} does not exist") from None
        raise TargetUnavailable(f"cannot list bucket {bucket!r}: {describe(exc)}") from None
    except BotoCoreError as exc:
        raise TargetUnavailable(f"cannot list bucket {bucket!r}: {describe(exc)}") from None


def head_version(client: Any, bucket: str, key: str, version_id: str) -> HeadFacts:
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id and version_id != "null":
        kwargs["VersionId"] = version_id
    head = client.head_object(**kwargs)
    return HeadFacts(
        key=key,
        version_id=version_id,
        lock_mode=str(head.get("ObjectLockMode", "")),
        retain_until=head.get("ObjectLockRetainUntilDate"),
        legal_hold=head.get("ObjectLockLegalHoldStatus") == "ON",
        encryption=str(head.get("ServerSideEncryption", "")),
        kms_key_id=str(head.get("SSEKMSKeyId", "")),
        metadata={str(k).lower(): str(v) for k, v in head.get("Metadata", {}).items()},
        last_modified=head.get("LastModified"),
    )


def scan_objects(
    client: Any,
    bucket: str,
    prefix: str,
    *,
    seed: int = 0,
    on_version: Callable[[ObjectVersion], None] | None = None,
    head_limit: int = HEAD_LIMIT,
    workers: int = 16,
) -> ObjectScan:
    """Stream the listing once, keep aggregates, then HEAD current versions in parallel.

    Up to ``head_limit`` current versions are all HEADed; beyond that a reservoir sample of
    ``head_limit`` chosen with ``seed`` (so the same seed HEADs the same objects).
    """
    scan = ObjectScan(seed=seed)
    rng = random.Random(seed)
    reservoir: list[ObjectVersion] = []
    previous_key: str | None = None
    latest_is_marker = False
    for version in iter_object_versions(client, bucket, prefix):
        if on_version is not None:
            on_version(version)
        if version.key != previous_key:
            previous_key, latest_is_marker = version.key, False
        if version.is_delete_marker:
            scan.delete_markers += 1
            latest_is_marker = latest_is_marker or version.is_latest
            continue
        scan.versions += 1
        scan.all_bytes += version.size
        if latest_is_marker and not version.is_latest:
            # the first real version under a latest delete marker: a hidden backup
            scan.hidden_by_delete_marker += 1
            if len(scan.hidden_examples) < EXAMPLES:
                scan.hidden_examples.append(version.key)
            latest_is_marker = False
        if not version.is_latest:
            continue
        scan.current += 1
        scan.current_bytes += version.size
        if scan.newest is None or version.last_modified > scan.newest:
            scan.newest, scan.newest_key = version.last_modified, version.key
        if scan.oldest is None or version.last_modified < scan.oldest:
            scan.oldest = version.last_modified
        if len(reservoir) < head_limit:
            reservoir.append(version)
        else:
            slot = rng.randrange(scan.current)
            if slot < head_limit:
                reservoir[slot] = version
    scan.head_sampled = scan.current > head_limit

    def head(version: ObjectVersion) -> HeadFacts | str:
        try:
            return head_version(client, bucket, version.key, version.version_id)
        except (ClientError, BotoCoreError) as exc:
            return f"{version.key}: {describe(exc)}"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for outcome in pool.map(head, reservoir):
            if isinstance(outcome, HeadFacts):
                scan.heads.append(outcome)
            else:
                scan.head_errors.append(outcome)
    return scan
