"""The facts a restic repository's checks judge, as the backend fetched them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backupcheck.backends.restic_locks import LockScan
from backupcheck.backends.restic_output import CheckOutcome, Keys, RepoConfig, Snapshot
from backupcheck.backends.s3 import BucketProtection, BucketSettings
from backupcheck.model import Policy
from backupcheck.rotation import Rotation


@dataclass(frozen=True)
class StorageFacts:
    """Where the repository is stored and, for S3, what its bucket's settings are."""

    kind: str  # s3 | local | sftp | rest | b2 | azure | gs | swift | rclone
    location: str  # redacted repository string
    bucket: str = ""
    prefix: str = ""
    endpoint_url: str | None = None
    settings: BucketSettings | None = None
    error: str = ""  # why the bucket settings could not be read
    #: the bucket's lifecycle rules and policy (None: not read)
    protection: BucketProtection | None = None


@dataclass(frozen=True)
class ResticFacts:
    policy: Policy
    rpo_seconds: float
    now: datetime
    location: str
    restic_version: tuple[int, int, int]
    config: RepoConfig
    storage: StorageFacts
    keys: Keys | None = None
    #: matching snapshots, oldest first
    snapshots: Sequence[Snapshot] = ()
    filters: Mapping[str, Any] = field(default_factory=dict)
    integrity: CheckOutcome | None = None
    #: ``read_data_subset = "rotate/N"``: which slice ``integrity`` read, and the cycle
    rotation: Rotation | None = None
    #: the retention of the objects a restore needs (None: not an s3: repository)
    locks: LockScan | None = None
    #: check id -> why its facts could not be fetched
    errors: Mapping[str, str] = field(default_factory=dict)
