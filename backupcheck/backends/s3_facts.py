"""The facts an S3 backup set's checks judge: frozen values, no I/O, nothing judged.

``backends/s3.py`` fills them from a bucket (settings, a streamed version listing, HEADs),
``backends/s3_protection.py`` adds the lifecycle rules and the bucket policy;
``checks/s3.py`` and ``checks/s3_rules.py`` judge them. Tests build them by hand.

Glossary:
  current version   the newest version of a key (what a restore of "now" reads);
  stacked version   a current version with older versions of the same key beneath it:
                    the key was written again after an earlier backup of it;
  sample            when more current versions exist than the policy's
                    ``max_object_heads``, the seeded subset that is HEADed one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backupcheck.model import Policy

EXAMPLES = 5


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
    #: what a HEAD would say, when a listing already carries it (an S3 Inventory report)
    head: HeadFacts | None = None


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
    #: current versions standing on older versions of the same key, and a few of them
    #: (``{"key", "current", "older": [dates]}``)
    stacked: int = 0
    stacked_examples: list[dict[str, Any]] = field(default_factory=list)
    #: why versions are not known ("" = they are): the server cannot list them, so the
    #: listing holds current objects only (ListObjectsV2) and version counts are unknown
    versions_unknown: str = ""
    #: the S3 Inventory report the facts came from (manifest, created, age_seconds); None:
    #: a listing and HEADs of the bucket itself
    report: dict[str, Any] | None = None


@dataclass(frozen=True)
class BucketProtection:
    """The bucket's lifecycle rules and policy. A key in ``errors`` means that one is unknown."""

    #: the rules as the server returned them; None: the bucket has no lifecycle configuration
    lifecycle_rules: tuple[Mapping[str, Any], ...] | None = None
    #: the bucket policy document (JSON text); "": the bucket has no policy
    policy: str = ""
    #: GetBucketPolicyStatus' IsPublic; None when not known (``policy_status_note`` says why)
    policy_public: bool | None = None
    policy_status_note: str = ""
    #: the 12-digit account of the tool's credentials (STS GetCallerIdentity), "" if unknown
    own_account: str = ""
    own_account_note: str = ""
    #: "lifecycle" / "bucket_policy" -> why it could not be read
    errors: Mapping[str, str] = field(default_factory=dict)


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
    #: the set's prefix in the bucket ("" = the whole bucket)
    prefix: str = ""
    #: lifecycle rules and bucket policy; None when they were not read
    protection: BucketProtection | None = None


def unknown_text(settings: BucketSettings, setting: str) -> str:
    """``unknown (why)`` when ``setting`` could not be read, else ""."""
    return f"unknown ({settings.errors[setting]})" if setting in settings.errors else ""


def lock_mode_text(settings: BucketSettings) -> str:
    """The bucket's default lock mode as shown to people: the mode, "none", "no default", or
    "unknown (why)" when the server would not tell (never "none" for what is not known)."""
    if unknown := unknown_text(settings, "object_lock"):
        return unknown
    if settings.lock_mode:
        return settings.lock_mode
    return "none" if not settings.object_lock_enabled else "no default"


def count_by_folder(keys: Iterable[str], root: str) -> Counter[str]:
    """How many of ``keys`` (all below ``root``) stand in each top folder below it (a restic
    repository's ``data``, ``index``, ``snapshots`` …), in the order first met."""
    return Counter(key[len(root):].split("/", 1)[0] for key in keys)
