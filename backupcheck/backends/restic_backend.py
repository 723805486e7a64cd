"""The ``restic`` backend: one repository behind the :class:`Restic` adapter.

Snapshots are filtered by the target's ``host``/``paths``/``tags``. Catalog paths follow the
manifest convention (SPEC): for a snapshot of one directory, relative to that directory; of
several, the absolute path without its leading ``/``. restic stores a relative backup path
``data`` as ``/data/…`` but an absolute one as ``/srv/share/…``, so both prefixes are tried.
"""

from __future__ import annotations

import posixpath
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError

from backupcheck.backends.base import ByteStream, Catalog, CatalogEntry, RowSink
from backupcheck.backends.restic import (
    Restic,
    Snapshot,
    parse_s3_repository,
    storage_kind,
)
from backupcheck.backends.restic_facts import ResticFacts, StorageFacts
from backupcheck.backends.restic_locks import (
    LockScan,
    NeededObject,
    current_objects,
    exact_source,
    scan_locks,
)
from backupcheck.backends.s3 import lock_mode_text, read_bucket_settings
from backupcheck.backends.s3_protection import caller_account, read_protection
from backupcheck.backends.s3guard import make_s3_client, make_sts_client
from backupcheck.clock import iso_full
from backupcheck.errors import TargetUnavailable
from backupcheck.model import Client, InventorySummary, Plan, ResticTarget
from backupcheck.rotation import rotation_slices

if TYPE_CHECKING:  # the native reader (cryptography, zstd) loads with the first restic target
    from backupcheck.backends.restic_native import NativeReader

ENCRYPTION = "restic (AES-256-CTR + Poly1305)"
#: inventory only counts keys: never pay a key derivation per key for details
KEYS_WITHOUT_DETAILS = 1 << 30
T = TypeVar("T")


def relative_path(node_path: str, roots: Sequence[str]) -> str:
    """A snapshot node path in the manifest's convention (see the module docstring)."""
    def under(path: str, prefix: str) -> str | None:
        prefix = prefix.rstrip("/")
        if path == prefix:
            return ""
        if path.startswith(prefix + "/"):
            return path[len(prefix) + 1:]
        return None

    if len(roots) == 1:
        root = roots[0].rstrip("/")
        for prefix in (root, "/" + posixpath.basename(root)):
            rest = under(node_path, prefix) if prefix not in ("", "/") else None
            if rest is not None:
                return rest or posixpath.basename(node_path)  # the root itself was a file
        return node_path.lstrip("/")
    for root in sorted(roots, key=len, reverse=True):
        if under(node_path, root) is not None:
            return node_path.lstrip("/")
    for root in roots:
        rest = under(node_path, "/" + posixpath.basename(root.rstrip("/")))
        if rest is not None:  # backed up as a relative path: put the absolute root back
            return posixpath.join(root.rstrip("/"), rest).rstrip("/").lstrip("/")
    return node_path.lstrip("/")


def snapshot_row(snapshot: Snapshot, newest: bool) -> dict[str, Any]:
    """One inventory row (the ``--out`` Parquet schema) for a snapshot."""
    return {
        "key": snapshot.id, "version_id": "", "size": None,
        "last_modified": snapshot.time.astimezone(UTC), "is_latest": newest,
        "is_delete_marker": False, "storage_class": "", "etag": "",
        "hostname": snapshot.hostname, "paths": list(snapshot.paths),
        "tags": list(snapshot.tags),
    }


class ResticBackend:
    kind = "restic"

    def __init__(self, client: Client, target: ResticTarget, *, seed: int = 0,
                 restic: Restic | None = None) -> None:
        self.client, self.target, self.seed = client, target, seed
        self.restic = restic or Restic(target)
        #: reader = auto/native: snapshots, trees, files, config, keys and stats read natively
        from backupcheck.backends.restic_native import NativeReader, uses_native

        self.native = NativeReader(target) if uses_native(target) else None
        #: how the RTO model counts a file's time to first byte (``restore/estimate.py``):
        #: with ``restic dump`` per file it is restic's start-up and index load, which a real
        #: ``restic restore`` pays once; the native reader's first byte comes with its first
        #: pack fetch, and its start-up is the repository's opening (``startup_seconds``)
        self.ttfb_paid = "once" if self.native is None else "fetch"
        self._full_ids: dict[str, str] = {}
        # one command run on one backend: listed once, reused by checks, inventory, catalog
        self._snapshot_cache: list[Snapshot] | None = None

    # ------------------------------------------------------------ facts

    def _snapshots(self) -> list[Snapshot]:
        if self._snapshot_cache is None:
            t = self.target
            if self.native is not None:
                found = self.native.snapshots(t.host, t.paths, t.tags)
            else:
                found = self.restic.snapshots(host=t.host, paths=t.paths, tags=t.tags)
            self._full_ids.update({s.short_id: s.id for s in found})
            self._snapshot_cache = found
        return self._snapshot_cache

    def _filters(self) -> dict[str, Any]:
        t = self.target
        return {"host": t.host, "paths": list(t.paths), "tags": list(t.tags)}

    def storage_facts(self) -> StorageFacts:
        kind = storage_kind(self.target.repository)
        location = self.restic.location
        s3 = parse_s3_repository(self.target.repository)
        if s3 is None:
            error = "cannot find endpoint and bucket in the repository string" \
                if kind == "s3" else ""
            return StorageFacts(kind=kind, location=location, error=error)
        facts = StorageFacts(kind="s3", location=location, bucket=s3.bucket,
                                           prefix=s3.prefix, endpoint_url=s3.endpoint_url)
        env = self.target.env
        try:
            client = make_s3_client(endpoint_url=s3.endpoint_url, profile=env.get("AWS_PROFILE"),
                                    region=s3.region or env.get("AWS_DEFAULT_REGION"))
            try:
                settings = read_bucket_settings(client, s3.bucket)
                protection = read_protection(client, s3.bucket, lambda: self._own_account(s3))
            finally:
                client.close()
        except (TargetUnavailable, BotoCoreError, ValueError) as exc:
            return replace(facts, error=str(exc).splitlines()[0] if str(exc) else repr(exc))
        return replace(facts, settings=settings, protection=protection)

    def _own_account(self, s3: Any) -> str:
        """The account of the credentials restic uses for the bucket (STS). Raises."""
        env = self.target.env
        sts = make_sts_client(endpoint_url=s3.endpoint_url, profile=env.get("AWS_PROFILE"),
                              region=s3.region or env.get("AWS_DEFAULT_REGION"))
        try:
            return caller_account(sts)
        finally:
            sts.close()

    @staticmethod
    def _attempt(errors: dict[str, str], check_ids: Sequence[str],
                 fetch: Callable[[], T]) -> T | None:
        """Fetch one fact; a failure makes only the checks that need it ``error``."""
        try:
            return fetch()
        except TargetUnavailable as exc:
            for check_id in check_ids:
                errors[check_id] = str(exc)
            return None

    # ------------------------------------------------------------ Backend protocol

    def policy_facts(self, plan: Plan, now: datetime) -> ResticFacts:
        version = self.restic.version()
        # cannot open the repository: the target is unavailable
        reader = self.native or self.restic
        config = reader.config()
        errors: dict[str, str] = {}
        keys = self._attempt(errors, ("restic.keys",), lambda: reader.keys(
            details_above=self.client.policy.max_restic_keys))
        snapshots = self._attempt(errors, ("restic.freshness", "restic.snapshots"),
                                  self._snapshots)
        subset = plan.read_data_subset
        if (slices := rotation_slices(subset)) is not None:
            subset = f"1/{slices}"  # the caller resolves the slice; restic never sees rotate/
        integrity = self._attempt(errors, ("restic.integrity",),
                                  lambda: self.restic.check(subset))
        storage = self.storage_facts()
        locks = None
        if storage.kind == "s3" and storage.bucket:
            locks = self._attempt(errors, ("restic.objects.locked",),
                                  lambda: self._lock_scan(storage, snapshots or []))
        return ResticFacts(
            policy=self.client.policy, rpo_seconds=self.client.rpo_seconds, now=now,
            location=self.restic.location, restic_version=version, config=config,
            storage=storage, keys=keys, snapshots=tuple(snapshots or ()),
            filters=self._filters(), integrity=integrity, locks=locks, errors=errors)

    def _lock_scan(self, storage: StorageFacts, snapshots: Sequence[Snapshot]) -> LockScan:
        """HEAD the objects a restore of the newest matching snapshot needs: its exact set
        when the repository is read natively, else every current object under the prefix.
        Raises TargetUnavailable (also when the exact set cannot be read: never a superset
        then, which would miss the very objects that are gone)."""
        s3 = parse_s3_repository(self.target.repository)
        assert s3 is not None
        env = self.target.env
        root = f"{storage.prefix.strip('/')}/" if storage.prefix.strip("/") else ""
        exact = self.restore_objects(snapshots[-1].id) if snapshots else None
        try:
            client = make_s3_client(endpoint_url=s3.endpoint_url, profile=env.get("AWS_PROFILE"),
                                    region=s3.region or env.get("AWS_DEFAULT_REGION"))
        except (BotoCoreError, ValueError) as exc:
            raise TargetUnavailable(f"cannot reach bucket {storage.bucket}: {exc}") from None
        try:
            limit = self.client.policy.max_object_heads
            if exact is not None:
                objects = [NeededObject(key, size) for key, size in exact]
                return scan_locks(client, storage.bucket, objects, exact=True, seed=self.seed,
                                  limit=limit, source=exact_source(objects, root,
                                                                   snapshots[-1].short_id))
            newest = f" of snapshot {snapshots[-1].short_id}" if snapshots else ""
            source = (f"every current object under s3://{storage.bucket}/{root} except locks/ "
                      f"(ListObjectVersions): a superset of what a restore{newest} needs")
            return scan_locks(client, storage.bucket, current_objects(client, storage.bucket,
                                                                      root),
                              source=source, exact=False, seed=self.seed, limit=limit)
        finally:
            client.close()

    def inventory(self, on_row: RowSink | None) -> InventorySummary:
        reader = self.native or self.restic
        config = reader.config()
        snapshots = self._snapshots()
        newest = snapshots[-1] if snapshots else None
        if on_row is not None:
            for snapshot in snapshots:
                on_row(snapshot_row(snapshot, snapshot is newest))
        storage = self.storage_facts()
        settings = storage.settings
        details: dict[str, Any] = {
            "storage": storage.kind,
            "raw_data_bytes": reader.stats_raw_data().total_size,
            "newest_snapshot": newest.short_id if newest else None,
            "filters": self._filters(),
            "repository_version": config.version,
            "compression": config.compression,
            "keys": reader.keys(details_above=KEYS_WITHOUT_DETAILS).count,
        }
        lock_mode, retention_days, versioning = "none", None, "n/a"
        if storage.kind == "s3":
            details["bucket"] = storage.bucket
            if settings is None:
                lock_mode, versioning = "unknown", "unknown"
                details["setting_errors"] = {"bucket": storage.error}
            else:
                lock_mode, retention_days = lock_mode_text(settings), settings.lock_days
                versioning = settings.versioning or "never enabled"
                details.update(object_lock_enabled=settings.object_lock_enabled,
                               setting_errors=dict(settings.errors))
        return InventorySummary(
            location=self.restic.location,
            size_bytes=reader.stats_restore_size(newest.id).total_size if newest else 0,
            count=len(snapshots), count_name="snapshots",
            newest=iso_full(newest.time) if newest else None,
            oldest=iso_full(snapshots[0].time) if snapshots else None,
            lock_mode=lock_mode, retention_days=retention_days, versioning=versioning,
            encryption=ENCRYPTION, details=details)

    def choose_snapshot(self, snapshots: Sequence[Snapshot], plan: Plan, seed: int,
                        now: datetime) -> Snapshot:
        """The newest, or with ``random-within`` a seeded pick among the window's snapshots."""
        newest = snapshots[-1]
        window = plan.snapshot_window_seconds
        if window is None:
            return newest
        recent = sorted((s for s in snapshots if (now - s.time).total_seconds() <= window),
                        key=lambda s: (s.time, s.id))
        return random.Random(seed).choice(recent) if recent else newest

    def catalog(self, plan: Plan, seed: int, now: datetime) -> Catalog:
        snapshots = self._snapshots()
        if not snapshots:
            return Catalog(backup_id="", backup_time=None, total_files=0, total_bytes=0)
        chosen = self.choose_snapshot(snapshots, plan, seed, now)
        if self.native is not None:
            return self._native_catalog(self.native, chosen)
        entries: list[CatalogEntry] = []
        links: set[str] = set()
        for node in self.restic.ls(chosen.id):
            if node.type == "file":
                entries.append(CatalogEntry(path=relative_path(node.path, chosen.paths),
                                            size=node.size or 0, mtime=node.mtime,
                                            locator=node.path))
            elif node.type == "symlink":
                links.add(relative_path(node.path, chosen.paths))
        return Catalog(backup_id=chosen.short_id, backup_time=chosen.time,
                       total_files=len(entries), total_bytes=sum(e.size for e in entries),
                       entries=entries, links=frozenset(links))

    def _native_catalog(self, native: NativeReader, chosen: Snapshot) -> Catalog:
        from backupcheck.backends.restic_native import display_name, locator_of

        entries: list[CatalogEntry] = []
        links: set[str] = set()
        for node in native.nodes(chosen.id):
            locator = locator_of(node.path)
            relative = relative_path(locator, chosen.paths)
            raw = relative.encode("utf-8", "surrogateescape")
            shown = display_name(raw)
            if node.type == "file":
                entries.append(CatalogEntry(path=shown, size=node.size, mtime=node.mtime,
                                            locator=locator,
                                            raw_path=raw if shown != relative else None))
            elif node.type == "symlink":
                links.add(shown)
        return Catalog(backup_id=chosen.short_id, backup_time=chosen.time,
                       total_files=len(entries), total_bytes=sum(e.size for e in entries),
                       entries=entries, links=frozenset(links))

    def open_file(self, catalog: Catalog, entry: CatalogEntry) -> ByteStream:
        snapshot = self._full_ids.get(catalog.backup_id, catalog.backup_id)
        if self.native is not None:
            from backupcheck.backends.restic_native import path_of

            return self.native.open(snapshot, path_of(entry.locator))
        return self.restic.dump(snapshot, entry.locator)

    @contextmanager
    def planned_reads(self, catalog: Catalog,
                      entries: Sequence[CatalogEntry]) -> Iterator[list[int]]:
        """Indexes of the entries in the order that reads each pack front to back, their blobs
        fetched a pack region at a time and shared between them (native reader only; see
        ``resticrepo.runs``). Reads after the block are each on their own again."""
        if self.native is None:
            yield list(range(len(entries)))
            return
        from backupcheck.backends.restic_native import path_of

        snapshot = self._full_ids.get(catalog.backup_id, catalog.backup_id)
        order = self.native.share_reads(snapshot, [path_of(e.locator) for e in entries])
        try:
            yield order
        finally:
            self.native.end_shared_reads()

    def restore_objects(self, snapshot_id: str) -> list[tuple[str, int]] | None:
        """The exact storage objects (key, size) a restore of the snapshot (full id) reads;
        None when the target is read through the restic binary. Raises TargetUnavailable."""
        if self.native is None:
            return None
        return self.native.restore_objects(snapshot_id)

    def manifest_s3_client(self) -> Any:
        """An S3 client for an ``s3://`` manifest: at ``manifest_endpoint_url`` when set, else
        at the repository's own endpoint (AWS's for a repository not on S3), with the
        credentials restic is given (``env``'s ``AWS_PROFILE``) or the default chain."""
        t = self.target
        s3 = parse_s3_repository(t.repository)
        endpoint = t.manifest_endpoint_url or (s3.endpoint_url if s3 is not None else None)
        region = (s3.region if s3 is not None else None) or t.env.get("AWS_DEFAULT_REGION")
        return make_s3_client(endpoint_url=endpoint, profile=t.env.get("AWS_PROFILE"),
                              region=region)

    def stored_digest(self, entry: CatalogEntry) -> str:
        return ""  # restic keeps no per-file digest we could compare with xxh3-128

    @property
    def startup_seconds(self) -> float:
        """What the native reader's opening of the repository took (key derivation, config,
        index); 0 with the restic binary, whose start-up is in each file's first byte."""
        return self.native.repository.startup_seconds if self.native is not None else 0.0

    def close(self) -> None:
        if self.native is not None:
            self.native.close()
        self.restic.close()
