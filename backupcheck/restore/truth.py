"""Ground truth for a sampled file: what its bytes must hash to, where that came from, and,
when there is none, why not.

In order of trust: the target's manifest (made at backup time), the S3 object's
``x-amz-meta-xxh3-128`` metadata (self-attested: written by the uploader beside the data), and
for restic a live source file whose size and mtime are unchanged since the snapshot. For a
restic target a manifest row counts only while its size and mtime match the file in the
snapshot: otherwise the file changed between manifest and backup, and the row proves nothing
about it (SPEC). For S3 every row is judged: the manifest describes what was uploaded.

A manifest that cannot be had (missing, unreadable, an empty series) is not an exception here:
it is recorded as the target's manifest problem and judged by ``restore.sample`` as ``error``,
so the other targets, and the rest of this one, still run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from backupcheck.backends.base import Backend, CatalogEntry
from backupcheck.clock import epoch_ns
from backupcheck.errors import ConfigError, TargetUnavailable
from backupcheck.manifest.hashing import hash_file
from backupcheck.manifest.load import load_manifest
from backupcheck.manifest.schema import KIND_FILE, Manifest, ManifestEntry
from backupcheck.manifest.series import Chosen, choose, is_series
from backupcheck.manifest.source import ManifestNotFound
from backupcheck.model import Client, ResticTarget, Target

#: U+FFFD: restic's JSON puts it where a name's bytes are not UTF-8
REPLACEMENT = "\ufffd"
NO_TRUTH = "no ground truth (no manifest, no xxh3-128 metadata, no source)"
CHANGED_SINCE_MANIFEST = "changed after the manifest (size or mtime differ from its row)"
NOT_IN_MANIFEST = "not in the manifest (newer than it?)"
NAME_NOT_FAITHFUL = ("name cannot be read faithfully: it is not UTF-8, and restic ls --json "
                     "replaces such bytes with U+FFFD")
SOURCE_CHANGED = "live source changed since the snapshot"
SOURCE_GONE = "live source file is gone"
MANIFEST_UNAVAILABLE = "manifest unavailable"


@dataclass(frozen=True)
class Expected:
    digest: str
    size: int | None
    source: str  # manifest | metadata | source


@dataclass(frozen=True)
class Lookup:
    """The ground truth of one file, or ``None`` and the reason there is none."""

    expected: Expected | None
    note: str = ""


def unfaithful(path: str) -> bool:
    """Whether a catalog path is only an approximation of the file's real name."""
    return REPLACEMENT in path


def row_describes(row: ManifestEntry, entry: CatalogEntry) -> bool:
    """Whether a manifest row describes the snapshot's file (restic): same size and mtime
    (microseconds: what the snapshot listing gives)."""
    snapshot_ns = epoch_ns(entry.mtime)
    return (row.size == entry.size and snapshot_ns is not None
            and row.mtime_ns // 1000 == snapshot_ns // 1000)


class GroundTruth:
    """Looks up the expected digest of catalog entries for one target."""

    def __init__(self, client: Client, target: Target, backend: Backend,
                 backup_time: datetime | None) -> None:
        self.backend = backend
        #: restic: manifest rows must match the snapshot's size and mtime to count
        self.rows_need_match = isinstance(target, ResticTarget)
        self.manifest: Manifest | None = None
        self.configured = bool(target.manifest)
        self.location = ""  # the manifest used (one file of a series)
        self.chosen: Chosen | None = None
        self.problem = ""  # why a configured manifest could not be used
        if target.manifest:
            self._load(target.manifest, client.source_file.parent, backup_time)
        source = target.source if isinstance(target, ResticTarget) else ""
        self.source_root = Path(source) if source else None

    def _load(self, location: str, base_dir: Path, backup_time: datetime | None) -> None:
        self.location = location
        try:
            if is_series(location, base_dir):
                self.chosen = choose(location, backup_time, base_dir=base_dir,
                                     s3_client_factory=self.backend.manifest_s3_client)
                location = self.location = self.chosen.location
            self.manifest = load_manifest(location, base_dir=base_dir,
                                          s3_client_factory=self.backend.manifest_s3_client)
            self.location = self.manifest.location
        except ManifestNotFound as exc:
            self.problem = f"manifest not found: {exc.what}"
        except (ConfigError, TargetUnavailable) as exc:
            self.problem = f"manifest unreadable: {exc}"

    @property
    def description(self) -> str:
        parts = []
        if self.manifest is not None:
            parts.append(f"manifest {self.location} ({len(self.manifest)} rows)")
        elif self.problem:
            parts.append(self.problem)
        if self.backend.kind == "s3":
            parts.append("x-amz-meta-xxh3-128 metadata (self-attested)")
        if self.source_root is not None:
            parts.append(f"live source {self.source_root}")
        return ", ".join(parts) or "none available"

    def evidence(self) -> dict[str, Any]:
        """Which manifest was used and how it was chosen."""
        found: dict[str, Any] = {"location": self.location}
        if self.chosen is not None:
            found.update(self.chosen.evidence())
        return found

    def lookup(self, entry: CatalogEntry) -> Lookup:
        notes: list[str] = []
        if unfaithful(entry.path):
            # no manifest row, metadata or source file can be found by an approximate name
            return Lookup(None, NAME_NOT_FAITHFUL)
        if self.manifest is not None:
            row = self.manifest.lookup(entry.path)
            if row is None:
                notes.append(NOT_IN_MANIFEST)
            elif row.kind != KIND_FILE:  # a symlink row holds the link's target string
                notes.append("the manifest lists it as a symlink")
            elif self.rows_need_match and not row_describes(row, entry):
                notes.append(CHANGED_SINCE_MANIFEST)
            else:
                return Lookup(Expected(row.xxh3_128, row.size, "manifest"))
        elif self.problem:
            notes.append(MANIFEST_UNAVAILABLE)
        stored = entry.stored_digest or self.backend.stored_digest(entry)
        if stored:
            return Lookup(Expected(stored.lower(), None, "metadata"))
        if self.backend.kind == "s3":
            notes.append("no x-amz-meta-xxh3-128 metadata")
        if self.source_root is not None:
            expected, note = self._from_source(entry)
            if expected is not None:
                return Lookup(expected)
            notes.append(note)
        if not self.configured and self.source_root is None:
            return Lookup(None, NO_TRUTH)
        return Lookup(None, "; ".join(notes))

    def _from_source(self, entry: CatalogEntry) -> tuple[Expected | None, str]:
        assert self.source_root is not None
        live = self.source_root / (os.fsdecode(entry.raw_path) if entry.raw_path else entry.path)
        try:
            stat = live.lstat()
        except OSError:
            return None, SOURCE_GONE
        snapshot_ns = epoch_ns(entry.mtime)
        if (not live.is_file() or stat.st_size != entry.size or snapshot_ns is None
                or stat.st_mtime_ns // 1000 != snapshot_ns // 1000):
            return None, SOURCE_CHANGED
        try:
            digest, size = hash_file(live)
        except OSError as exc:
            return None, f"live source could not be read: {exc.strerror or exc}"
        if size != entry.size:
            return None, "live source changed while it was read"
        return Expected(digest, size, "source"), ""
