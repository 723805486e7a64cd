"""What a manifest is: its Parquet schema, its row kinds, and the types a build and a load return.

Glossary:
  manifest  a Parquet file with one row per regular file and per symlink under a root:
            ``path`` (relative to the root, ``/``-separated), ``size``, ``mtime_ns``,
            ``xxh3_128`` (32 lowercase hex digits) and ``kind`` (``file`` | ``symlink``), an
            extra column readers of the SPEC's four may ignore. Rows are sorted by ``path``.
  symlink   recorded, never followed: ``size`` is the length of the link's target string and
            ``xxh3_128`` the digest of that string, as tar and restic store a link.
  unreadable  a file that vanished, could not be opened or read, or changed while it was read:
            reported in :class:`ManifestStats`, never fatal, never given a row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyarrow as pa

MANIFEST_SCHEMA: Final = pa.schema([
    pa.field("path", pa.string(), nullable=False),
    pa.field("size", pa.int64(), nullable=False),
    pa.field("mtime_ns", pa.int64(), nullable=False),
    pa.field("xxh3_128", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
])
REQUIRED_COLUMNS: Final = ("path", "size", "mtime_ns", "xxh3_128")
KIND_FILE: Final = "file"
KIND_SYMLINK: Final = "symlink"


@dataclass(frozen=True)
class ManifestStats:
    """What a build wrote and what it could not."""

    out: Path
    files: int
    bytes: int
    symlinks: int
    #: FIFOs, sockets and device nodes: not backed-up data, skipped
    special: int
    #: (path relative to the root, reason); directories end in ``/``
    unreadable: tuple[tuple[str, str], ...]
    seconds: float
    #: ``serial`` or ``processes:<start method>x<workers>``: how the files were hashed
    method: str = "serial"


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    size: int
    mtime_ns: int
    xxh3_128: str
    kind: str = KIND_FILE


class Manifest:
    """A loaded manifest: the expected size, mtime and digest of each path."""

    def __init__(self, location: str, rows: dict[str, tuple[int, int, str, str]]) -> None:
        self.location = location
        self._rows = rows

    def lookup(self, path: str) -> ManifestEntry | None:
        row = self._rows.get(path)
        return None if row is None else ManifestEntry(*row)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, path: object) -> bool:
        return path in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def entries(self) -> Iterator[tuple[str, ManifestEntry]]:
        """Every row, in the manifest's order."""
        for path, row in self._rows.items():
            yield path, ManifestEntry(*row)
