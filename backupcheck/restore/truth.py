"""Ground truth for a sampled file: what its bytes must hash to, and where that came from.

In order of trust: the target's manifest (made at backup time), the S3 object's
``x-amz-meta-xxh3-128`` metadata, and for restic a live source file whose size and mtime
are unchanged since the snapshot. Without any of them a restored file is only "unproven".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backupcheck.backends.base import Backend, CatalogEntry
from backupcheck.manifest.hashing import hash_file
from backupcheck.manifest.load import load_manifest
from backupcheck.manifest.schema import Manifest
from backupcheck.model import Client, ResticTarget, Target


@dataclass(frozen=True)
class Expected:
    digest: str
    size: int | None
    source: str  # manifest | metadata | source


class GroundTruth:
    """Looks up the expected digest of catalog entries for one target."""

    def __init__(self, client: Client, target: Target, backend: Backend) -> None:
        self.backend = backend
        self.manifest: Manifest | None = None
        if target.manifest:
            self.manifest = load_manifest(target.manifest, base_dir=client.source_file.parent,
                                          s3_client_factory=backend.manifest_s3_client)
        source = target.source if isinstance(target, ResticTarget) else ""
        self.source_root = Path(source) if source else None

    @property
    def description(self) -> str:
        parts = []
        if self.manifest is not None:
            parts.append(f"manifest ({len(self.manifest)} files)")
        if self.backend.kind == "s3":
            parts.append("x-amz-meta-xxh3-128 metadata")
        if self.source_root is not None:
            parts.append(f"live source {self.source_root}")
        return ", ".join(parts) or "none available"

    def expected(self, entry: CatalogEntry) -> Expected | None:
        if self.manifest is not None:
            row = self.manifest.lookup(entry.path)
            # a symlink row holds the link's target string, not file content
            if row is not None and getattr(row, "kind", "file") == "file":
                return Expected(row.xxh3_128, row.size, "manifest")
        stored = entry.stored_digest or self.backend.stored_digest(entry)
        if stored:
            return Expected(stored.lower(), None, "metadata")
        if self.source_root is not None:
            return self._from_source(entry)
        return None

    def _from_source(self, entry: CatalogEntry) -> Expected | None:
        assert self.source_root is not None
        live = self.source_root / entry.path
        try:
            stat = live.lstat()
        except OSError:
            return None
        if not live.is_file() or stat.st_size != entry.size or entry.mtime is None:
            return None
        # restic keeps nanoseconds, datetime microseconds: compare at microsecond precision
        snapshot_us = round(entry.mtime.timestamp() * 1_000_000)
        if abs(stat.st_mtime_ns // 1000 - snapshot_us) > 1:
            return None
        try:
            digest, size = hash_file(live)
        except OSError:
            return None
        if size != entry.size:
            return None  # changed while we read it: not a trustworthy truth
        return Expected(digest, size, "source")
