"""What ``inventory`` found in one backup set, as the report carries it.

A plain value of its own (it imports nothing of the package), so that :mod:`backupcheck.model`
can hold it in :class:`~backupcheck.model.TargetResult` and re-export it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class InventorySummary:
    """What ``inventory`` found in one backup set: the settings every kind shares, typed,
    and the kind's own facts in ``details`` (versions and delete markers, keys, compression).
    """

    location: str
    size_bytes: int
    #: S3: current objects; restic: matching snapshots (named so in the JSON)
    count: int
    count_name: Literal["objects", "snapshots"]
    newest: str | None
    oldest: str | None
    lock_mode: str
    retention_days: int | None
    versioning: str
    encryption: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"location": self.location, "size_bytes": self.size_bytes,
                self.count_name: self.count, "newest": self.newest, "oldest": self.oldest,
                "lock_mode": self.lock_mode, "retention_days": self.retention_days,
                "versioning": self.versioning, "encryption": self.encryption,
                **dict(self.details)}
