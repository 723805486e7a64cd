"""The one interface every storage kind implements, and the facts it hands the rest.

A backend instance belongs to exactly one target of one client; it keeps no module-global
state, so many targets are checked concurrently with different credentials.

Contract:
  * ``policy_facts`` fetches everything its kind's checks judge (``checks/<kind>.py``; the
    command layer runs them). A target that cannot be reached raises
    :class:`TargetUnavailable` (the engine turns that into ``error`` findings); a single
    unreadable setting is recorded in the facts (its check says ``error``), not raised.
  * ``inventory`` streams one row per object version / snapshot to ``on_row`` and returns the
    summary shown in the inventory report.
  * ``catalog`` lists the files of the backup a drill restores from; ``open_file`` streams one
    file's bytes (a binary file-like object; closing it early releases everything). A file
    that is not there raises :class:`FileMissing` (from ``open_file`` or the first read); one
    whose bytes cannot be read raises :class:`FileUnreadable` (or OSError) from a read, never a
    silent short read.
  * Nothing here writes to a backup: S3 clients are guarded, restic runs read-only commands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from backupcheck.errors import BackupcheckError
from backupcheck.model import InventorySummary, Plan

RowSink = Callable[[Mapping[str, Any]], None]


class FileMissing(BackupcheckError):
    """The sampled file is not in the backup (any more): a ``missing`` result."""


class FileUnreadable(BackupcheckError):
    """The file's bytes could not be read back; the message says why (restic's, S3's)."""


@dataclass(frozen=True)
class CatalogEntry:
    """One restorable file of the chosen backup."""

    #: path relative to the backed-up root (the manifest's ``path`` convention)
    path: str
    size: int
    mtime: datetime | None
    #: backend-specific handle to fetch it (S3: version id; restic: absolute snapshot path)
    locator: str
    #: digest the storage itself carries (S3 ``x-amz-meta-xxh3-128``), if any
    stored_digest: str = ""
    #: S3: the object version (what coverage keys on beside path, size and mtime); else ""
    version_id: str = ""
    #: the exact bytes of ``path`` when they are not UTF-8 (``path`` then shows them as \\xHH)
    raw_path: bytes | None = None


@dataclass(frozen=True)
class Catalog:
    """The backup a drill restores from: which one, and what is in it."""

    backup_id: str  # restic snapshot id or "current versions"
    backup_time: datetime | None
    total_files: int
    total_bytes: int
    entries: list[CatalogEntry] = field(default_factory=list)
    #: paths of the backup's symlinks (restic), held against a manifest's symlink rows; None
    #: when the storage keeps no symlinks (S3), so those rows are not judged
    links: frozenset[str] | None = None


class ByteStream(Protocol):
    """What ``open_file`` returns: forward-only reads of bytes, and close."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class Backend(Protocol):
    kind: str

    def policy_facts(self, plan: Plan, now: datetime) -> Any:
        """The facts this kind's checks judge (S3Facts, ResticFacts ...)."""
        ...

    def inventory(self, on_row: RowSink | None) -> InventorySummary:
        """Summary of the backup set; one row per version/snapshot to ``on_row``."""
        ...

    def catalog(self, plan: Plan, seed: int, now: datetime) -> Catalog:
        """The files of the backup the plan chooses (newest, or random within ``now``'s
        window)."""
        ...

    def open_file(self, catalog: Catalog, entry: CatalogEntry) -> ByteStream:
        """A streamed reader of one file of the catalog's backup."""
        ...

    def manifest_s3_client(self) -> Any:
        """A guarded S3 client for reading this target's ``s3://`` manifest."""
        ...

    def stored_digest(self, entry: CatalogEntry) -> str:
        """A digest the storage keeps beside the file (S3 ``x-amz-meta-xxh3-128``), or ""."""
        ...

    def close(self) -> None:
        """Release clients, processes and connections."""
        ...
