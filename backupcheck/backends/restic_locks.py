"""The retention of every object a restic restore needs, read one HEAD per object.

A bucket's default retention protects what is written while it is in force, for its period
only, and restic never extends it: a snapshot that deduplicates onto 40-day-old packs in a
30-day bucket depends on unlocked objects although the bucket's settings look right. So the
objects themselves are read: HEAD gives ``x-amz-object-lock-mode``, ``-retain-until-date`` and
``-legal-hold`` (read calls only, in parallel, through the read-only guard).

Which objects: the exact set a restore of the snapshot needs (config, keys, the snapshot file,
the index files, the packs holding its blobs) when the repository is read natively; otherwise
every current object under the repository's prefix except ``locks/`` — a superset, named as
such in the evidence, so an unneeded unlocked object is a false alarm, never a missed one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from backupcheck.backends.s3 import describe, error_code, head_version, iter_listing
from backupcheck.backends.s3_facts import HeadFacts, count_by_folder

#: restic's lock files are not needed by a restore (and restic deletes them itself)
NOT_NEEDED = ("locks/",)
_MISSING = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchVersion"})


@dataclass(frozen=True)
class NeededObject:
    key: str
    size: int
    version_id: str = ""  # "" = the current version


@dataclass
class LockScan:
    """What the HEADs of (a sample of) the needed objects said."""

    #: how the set was found, in words for the evidence
    source: str
    #: True: the exact set of a snapshot; False: every current object (a superset)
    exact: bool
    objects: int
    bytes: int
    seed: int
    sampled: bool
    heads: list[HeadFacts] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    #: needed objects the server does not have (a restore of them fails)
    missing: list[str] = field(default_factory=list)
    head_errors: list[str] = field(default_factory=list)


def current_objects(client: Any, bucket: str, root: str) -> list[NeededObject]:
    """Every current (not deleted) object under ``root`` except lock files. Raises
    TargetUnavailable."""
    found = []
    for version in iter_listing(client, bucket, root):
        if not version.is_latest or version.is_delete_marker:
            continue
        if version.key[len(root):].startswith(NOT_NEEDED):
            continue
        found.append(NeededObject(version.key, version.size, version.version_id))
    return found


def exact_source(objects: Sequence[NeededObject], root: str, snapshot: str) -> str:
    """The evidence's words for an exact set: what it holds, counted by kind."""
    counts = count_by_folder((needed.key for needed in objects), root)
    parts = [f"{counts.get(top, 0)} {name}" for top, name in (
        ("config", "config"), ("keys", "key file(s)"), ("snapshots", "snapshot file"),
        ("index", "index file(s)"), ("data", "pack(s)"))]
    return (f"the exact set a restore of snapshot {snapshot} reads, from its trees and the "
            f"index (native reader): {', '.join(parts)}")


def scan_locks(client: Any, bucket: str, objects: Sequence[NeededObject], *, source: str,
               exact: bool, seed: int, limit: int, workers: int = 16) -> LockScan:
    """HEAD every object, or beyond ``limit`` a sample of ``limit`` drawn with ``seed``."""
    chosen = list(objects)
    sampled = len(chosen) > limit
    if sampled:
        chosen = sorted(random.Random(seed).sample(chosen, limit), key=lambda o: o.key)
    scan = LockScan(source=source, exact=exact, objects=len(objects),
                    bytes=sum(o.size for o in objects), seed=seed, sampled=sampled,
                    sizes={o.key: o.size for o in chosen})

    def head(needed: NeededObject) -> HeadFacts | tuple[str, str]:
        try:
            return head_version(client, bucket, needed.key, needed.version_id or "null")
        except ClientError as exc:
            return ("missing" if error_code(exc) in _MISSING else "error",
                    f"{needed.key}: {describe(exc)}")
        except BotoCoreError as exc:
            return "error", f"{needed.key}: {describe(exc)}"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for needed, outcome in zip(chosen, pool.map(head, chosen), strict=True):
            if isinstance(outcome, HeadFacts):
                scan.heads.append(outcome)
            elif outcome[0] == "missing":
                scan.missing.append(needed.key)
            else:
                scan.head_errors.append(outcome[1])
    return scan
