"""The manifest check a drill's restore result carries: the target's manifest held against the
backup's whole listing (``restore/completeness.py`` makes it; ``restore.sample`` judges it).

A plain value of its own (it imports nothing of the package), so that :mod:`backupcheck.model`
can hold it in :class:`~backupcheck.model.RestoreResult` and re-export it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class ManifestCheck:
    """The target's manifest held against the backup's whole listing (no restore needed)."""

    location: str = ""  # the manifest used ("" = none configured)
    #: "wrong": it matches none of the backup's files; "unavailable": missing or unreadable
    problem: Literal["", "wrong", "unavailable"] = ""
    detail: str = ""  # the one-line reason of a problem
    missing: int = 0  # manifest files absent from the backup
    size_differs: int = 0  # S3: objects whose listed size is not the manifest's
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"location": self.location, "problem": self.problem, "detail": self.detail,
                "missing": self.missing, "size_differs": self.size_differs,
                **dict(self.evidence)}
