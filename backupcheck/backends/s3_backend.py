"""The ``s3`` backend: a bucket (and prefix) of backup objects behind a guarded client."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from backupcheck.backends.base import ByteStream, Catalog, CatalogEntry, FileUnreadable, RowSink
from backupcheck.backends.s3 import (
    SETTINGS,
    ObjectScan,
    ObjectVersion,
    S3Facts,
    describe,
    head_version,
    iter_listing,
    lock_mode_text,
    read_bucket_settings,
    scan_objects,
)
from backupcheck.backends.s3_facts import unknown_text
from backupcheck.backends.s3_inventory import InventoryReport, read_report, report_versions
from backupcheck.backends.s3_protection import caller_account, read_protection
from backupcheck.backends.s3guard import make_s3_client, make_sts_client
from backupcheck.backends.s3stream import open_object
from backupcheck.clock import iso_full
from backupcheck.errors import TargetUnavailable
from backupcheck.model import Client, InventorySummary, Plan, S3Target

DIGEST_METADATA = "xxh3-128"


def version_row(version: ObjectVersion) -> dict[str, Any]:
    """One inventory row (the ``--out`` Parquet schema) for an object version or marker."""
    return {
        "key": version.key,
        "version_id": version.version_id,
        "size": version.size,
        "last_modified": version.last_modified.astimezone(UTC),
        "is_latest": version.is_latest,
        "is_delete_marker": version.is_delete_marker,
        "storage_class": version.storage_class,
        "etag": version.etag,
    }


class S3Backend:
    kind = "s3"
    #: every object of a real restore is one GET that waits its time to first byte
    ttfb_paid = "per_file"

    def __init__(self, client: Client, target: S3Target, *, seed: int = 0) -> None:
        self.client, self.target, self.seed = client, target, seed
        self.s3 = make_s3_client(endpoint_url=target.endpoint_url, region=target.region,
                                 profile=target.profile)
        self._inventory: InventoryReport | None = None

    def own_account(self) -> str:
        """The account of this target's credentials (STS GetCallerIdentity). Raises."""
        t = self.target
        sts = make_sts_client(endpoint_url=t.endpoint_url, region=t.region, profile=t.profile)
        try:
            return caller_account(sts)
        finally:
            sts.close()

    def _report(self) -> InventoryReport | None:
        """The target's S3 Inventory report (read once), None without ``inventory_report``."""
        if self.target.inventory_report is None:
            return None
        if self._inventory is None:
            self._inventory = read_report(self.s3, self.target.inventory_report,
                                          self.target.bucket, self.target.prefix)
        return self._inventory

    def policy_facts(self, plan: Plan, now: datetime) -> S3Facts:
        settings = read_bucket_settings(self.s3, self.target.bucket)
        protection = read_protection(self.s3, self.target.bucket, self.own_account)
        try:
            report = self._report()
            scan: ObjectScan | None = scan_objects(
                self.s3, self.target.bucket, self.target.prefix, seed=self.seed,
                head_limit=self.client.policy.max_object_heads,
                listing=None if report is None else report_versions(report))
            if report is not None and scan is not None:
                scan.report = report.evidence(now)
            listing_error = ""
        except TargetUnavailable as exc:
            if set(settings.errors) >= set(SETTINGS):
                raise  # nothing at all could be read: the target is unavailable
            # some settings were readable: still judge them, so a denied listing cannot hide
            # a bucket without Object Lock behind an ``error``
            scan, listing_error = None, str(exc)
        return S3Facts(policy=self.client.policy, rpo_seconds=self.client.rpo_seconds, now=now,
                       settings=settings, scan=scan, listing_error=listing_error,
                       prefix=self.target.prefix, protection=protection)

    def inventory(self, on_row: RowSink | None) -> InventorySummary:
        settings = read_bucket_settings(self.s3, self.target.bucket)
        sink = (lambda v: on_row(version_row(v))) if on_row else None
        scan = scan_objects(self.s3, self.target.bucket, self.target.prefix, seed=self.seed,
                            on_version=sink, head_limit=0)
        versions_unknown = f"unknown ({scan.versions_unknown})" if scan.versions_unknown else ""
        return InventorySummary(
            location=f"s3://{self.target.bucket}/{self.target.prefix}",
            size_bytes=scan.current_bytes, count=scan.current, count_name="objects",
            newest=iso_full(scan.newest), oldest=iso_full(scan.oldest),
            lock_mode=lock_mode_text(settings),
            retention_days=settings.lock_days,
            versioning=(unknown_text(settings, "versioning") or settings.versioning
                        or "never enabled"),
            encryption=(unknown_text(settings, "encryption") or settings.encryption_algorithm
                        or "none"),
            details={
                "endpoint_url": self.target.endpoint_url,
                # what the server cannot tell is unknown, never 0 or false
                "all_versions_bytes": versions_unknown or scan.all_bytes,
                "versions": versions_unknown or scan.versions,
                "delete_markers": versions_unknown or scan.delete_markers,
                "object_lock_enabled": (unknown_text(settings, "object_lock")
                                        or settings.object_lock_enabled),
                "kms_key_id": settings.kms_key_id,
                "bucket_key_enabled": settings.bucket_key_enabled,
                "setting_errors": dict(settings.errors),
            })

    def catalog(self, plan: Plan, seed: int, now: datetime) -> Catalog:
        """Current versions under the prefix; paths are keys relative to the prefix."""
        entries: list[CatalogEntry] = []
        newest: datetime | None = None
        prefix = self.target.prefix
        report = self._report()
        listing = (iter_listing(self.s3, self.target.bucket, prefix) if report is None
                   else report_versions(report))
        for version in listing:
            if not version.is_latest or version.is_delete_marker:
                continue
            if version.key.endswith("/") and version.size == 0:
                continue  # a "folder" placeholder, not a backup file
            entries.append(CatalogEntry(path=version.key[len(prefix):], size=version.size,
                                        mtime=version.last_modified, locator=version.version_id,
                                        version_id=version.version_id))
            newest = max(newest, version.last_modified) if newest else version.last_modified
        return Catalog(backup_id="current versions", backup_time=newest,
                       total_files=len(entries), total_bytes=sum(e.size for e in entries),
                       entries=entries)

    def manifest_s3_client(self) -> Any:
        """The manifest lives beside the backup: same endpoint, region and profile."""
        t = self.target
        return make_s3_client(endpoint_url=t.endpoint_url, region=t.region, profile=t.profile)

    def stored_digest(self, entry: CatalogEntry) -> str:
        """The ``x-amz-meta-xxh3-128`` user metadata of one object version, if any.

        A HEAD that fails (throttled, denied, gone) is this file's problem: FileUnreadable
        with S3's reason, never an exception that takes the whole target down.
        """
        key = self.target.prefix + entry.path
        try:
            head = head_version(self.s3, self.target.bucket, key, entry.locator)
        except (ClientError, BotoCoreError) as exc:
            raise FileUnreadable(f"{key}: HEAD failed: {describe(exc)}") from None
        return head.metadata.get(DIGEST_METADATA, "").lower()

    def open_file(self, catalog: Catalog, entry: CatalogEntry) -> ByteStream:
        return open_object(self.s3, self.target.bucket, self.target.prefix + entry.path,
                           version_id=entry.locator, size=entry.size)

    def close(self) -> None:
        self.s3.close()
