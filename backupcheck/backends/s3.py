"""S3 facts: bucket settings, a streamed scan of object versions, and per-object HEADs.

Nothing here judges anything; ``checks/s3.py`` does that from the facts gathered here.
Listings are streamed page by page: only counters, a few example keys and a bounded
reservoir sample of current versions stay in memory, whatever the bucket's size.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from backupcheck.backends.s3_facts import (
    EXAMPLES,
    BucketProtection,
    BucketSettings,
    HeadFacts,
    ObjectScan,
    ObjectVersion,
    S3Facts,
    lock_mode_text,
)
from backupcheck.errors import TargetUnavailable

#: the facts live in ``s3_facts``; importing them from here keeps working
__all__ = ["EXAMPLES", "HEAD_LIMIT", "SETTINGS", "BucketProtection", "BucketSettings",
           "HeadFacts", "ObjectScan", "ObjectVersion", "S3Facts", "describe", "error_code",
           "head_version", "iter_object_versions", "lock_mode_text", "read_bucket_settings",
           "scan_objects", "unsupported_reason"]

#: how many current versions :func:`scan_objects` HEADs at most unless told otherwise (the
#: backend passes the policy's ``max_object_heads``); beyond that a seeded random sample
HEAD_LIMIT = 10_000

#: error codes that mean "this setting is simply not configured"
_NOT_CONFIGURED = {
    "object_lock": {"ObjectLockConfigurationNotFoundError"},
    "encryption": {"ServerSideEncryptionConfigurationNotFoundError"},
    "public_access_block": {"NoSuchPublicAccessBlockConfiguration"},
}
_MISSING_BUCKET = {"NoSuchBucket", "404", "NotFound"}
#: what S3-compatible servers answer for an operation they do not implement
_UNSUPPORTED_CODES = {"NotImplemented", "XNotImplemented", "MethodNotAllowed", "501", "405"}
_UNSUPPORTED_STATUS = {501, 405}
#: the operation behind each setting (named in "server does not support ..." messages)
_OPERATIONS = {"versioning": "GetBucketVersioning", "object_lock": "GetObjectLockConfiguration",
               "encryption": "GetBucketEncryption",
               "public_access_block": "GetPublicAccessBlock"}
#: the bucket-level settings read by :func:`read_bucket_settings` (keys of ``errors``)
SETTINGS = ("versioning", "object_lock", "encryption", "public_access_block")


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


def unsupported_reason(exc: BaseException, operation: str) -> str:
    """``server does not support OPERATION`` when the server does not implement it,
    else "". What a server cannot tell is unknown, never "off"."""
    if not isinstance(exc, ClientError):
        return ""
    code = error_code(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _UNSUPPORTED_CODES or status in _UNSUPPORTED_STATUS:
        return f"server does not support {operation}"
    return ""


class VersionsUnsupported(Exception):
    """The server cannot list object versions (the message says which answer it gave)."""


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
            errors[name] = unsupported_reason(exc, _OPERATIONS[name]) or describe(exc)
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
        if reason := unsupported_reason(exc, "ListObjectVersions"):
            raise VersionsUnsupported(reason) from None
        if error_code(exc) in _MISSING_BUCKET:
            raise TargetUnavailable(f"bucket {bucket!r} does not exist") from None
        raise TargetUnavailable(f"cannot list bucket {bucket!r}: {describe(exc)}") from None
    except BotoCoreError as exc:
        raise TargetUnavailable(f"cannot list bucket {bucket!r}: {describe(exc)}") from None


def iter_current_objects(client: Any, bucket: str, prefix: str) -> Iterator[ObjectVersion]:
    """The current objects under ``prefix`` (ListObjectsV2), for servers without versions."""
    paginator = client.get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield ObjectVersion(
                    key=item["Key"], version_id="null", size=int(item.get("Size", 0)),
                    last_modified=item["LastModified"], is_latest=True,
                    is_delete_marker=False, storage_class=str(item.get("StorageClass", "")),
                    etag=str(item.get("ETag", "")).strip('"'))
    except ClientError as exc:
        if error_code(exc) in _MISSING_BUCKET:
            raise TargetUnavailable(f"bucket {bucket!r} does not exist") from None
        raise TargetUnavailable(f"cannot list bucket {bucket!r}: {describe(exc)}") from None
    except BotoCoreError as exc:
        raise TargetUnavailable(f"cannot list bucket {bucket!r}: {describe(exc)}") from None


def iter_listing(client: Any, bucket: str, prefix: str,
                 unknown: list[str] | None = None) -> Iterator[ObjectVersion]:
    """Every version and delete marker; on a server that cannot list versions, the current
    objects instead, with the reason appended to ``unknown``.

    Raises TargetUnavailable (also when versions stop being listable half-way through).
    """
    seen = 0
    try:
        for version in iter_object_versions(client, bucket, prefix):
            seen += 1
            yield version
    except VersionsUnsupported as exc:
        if seen:
            raise TargetUnavailable(f"cannot list bucket {bucket!r}: {exc}") from None
        if unknown is not None:
            unknown.append(str(exc))
        yield from iter_current_objects(client, bucket, prefix)


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
    listing: Iterable[ObjectVersion] | None = None,
) -> ObjectScan:
    """Stream the listing once, keep aggregates, then HEAD current versions in parallel.

    Up to ``head_limit`` current versions are all HEADed; beyond that a reservoir sample of
    ``head_limit`` chosen with ``seed`` (so the same seed HEADs the same objects, and another
    seed other ones). The listing groups a key's versions, newest first, so a current version
    standing on older ones (a key written again) is seen without remembering other keys.
    ``listing`` replaces the bucket's own (an S3 Inventory report); a version that carries
    its ``head`` facts is not HEADed.
    """
    scan = ObjectScan(seed=seed)
    rng = random.Random(seed)
    reservoir: list[ObjectVersion] = []
    unknown: list[str] = []
    previous_key: str | None = None
    latest_is_marker = False
    current: ObjectVersion | None = None  # the key's current version, if it is not a marker
    older: list[datetime] = []

    def flush() -> None:
        if current is not None and older:
            scan.stacked += 1
            if len(scan.stacked_examples) < EXAMPLES:
                scan.stacked_examples.append({
                    "key": current.key, "current": current.last_modified.isoformat(),
                    "older_versions": len(older),
                    "older": [d.isoformat() for d in older[:3]]})

    source = iter_listing(client, bucket, prefix, unknown) if listing is None else listing
    for version in source:
        if on_version is not None:
            on_version(version)
        if version.key != previous_key:
            flush()
            previous_key, latest_is_marker, current, older = version.key, False, None, []
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
            if current is not None:
                older.append(version.last_modified)
            continue
        current = version
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
    flush()
    scan.head_sampled = scan.current > head_limit
    scan.versions_unknown = unknown[0] if unknown else ""

    def head(version: ObjectVersion) -> HeadFacts | str:
        if version.head is not None:
            return version.head
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
