"""The repository index: which pack holds each blob, at which offset, how long.

Index files are JSON ``{"supersedes": [...], "packs": [{"id", "blobs": [{"id", "type",
"offset", "length", "uncompressed_length"?}]}]}`` (restic ``doc/design.rst``, "Indexing"). A blob
may be listed in several index files; any entry is as good as another, since the blob's
SHA-256 is checked when it is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from backupcheck.backends.resticrepo.crypto import OVERHEAD

BLOB_TYPES = ("data", "tree")


class IndexError_(ValueError):
    """An index file that is not what the format says."""


@dataclass(frozen=True, slots=True)
class BlobEntry:
    """Where one blob is stored."""

    pack: str
    type: str
    offset: int
    length: int
    #: plaintext length of a compressed blob; 0 when the blob is stored uncompressed
    uncompressed_length: int = 0

    @property
    def plain_size(self) -> int:
        """Bytes the blob becomes once read: what a read of it holds in memory."""
        return self.uncompressed_length or max(0, self.length - OVERHEAD)


def _entries(doc: Any, name: str) -> Iterable[tuple[str, BlobEntry]]:
    packs = doc.get("packs") if isinstance(doc, dict) else None
    if not isinstance(packs, list):
        raise IndexError_(f"index {name[:8]}: no packs list")
    for pack in packs:
        try:
            pack_id = pack["id"]
            for blob in pack.get("blobs") or ():
                kind = blob["type"]
                if kind not in BLOB_TYPES:
                    raise IndexError_(f"index {name[:8]}: unknown blob type {kind!r}")
                offset, length = int(blob["offset"]), int(blob["length"])
                plain = int(blob.get("uncompressed_length") or 0)
                if offset < 0 or length <= 0 or plain < 0:
                    raise IndexError_(f"index {name[:8]}: bad offset or length")
                yield str(blob["id"]), BlobEntry(str(pack_id), kind, offset, length, plain)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, IndexError_):
                raise
            raise IndexError_(f"index {name[:8]}: malformed pack entry ({exc})") from None


class Index:
    """Every blob of the repository, by id (lowercase hex)."""

    def __init__(self, files: list[tuple[str, int]]) -> None:
        self.files = files  #: (index file id, stored size)
        self.blobs: dict[str, BlobEntry] = {}

    def add(self, doc: Any, name: str) -> None:
        for blob_id, entry in _entries(doc, name):
            self.blobs.setdefault(blob_id, entry)

    def lookup(self, blob_id: str) -> BlobEntry | None:
        return self.blobs.get(blob_id)


def load_index(files: list[tuple[str, int]], read_document: Callable[[str], Any],
               workers: int = 8) -> Index:
    """Read every index file (``read_document(name)`` decrypts one) into one Index."""
    index = Index(sorted(files))
    with ThreadPoolExecutor(max_workers=max(1, workers),
                            thread_name_prefix="restic-index") as pool:
        for (name, _), doc in zip(index.files, pool.map(read_document,
                                                        [n for n, _ in index.files]),
                                  strict=True):
            index.add(doc, name)
    return index
