"""Where a repository's files live: one small interface, read-only, three implementations.

A :class:`Storage` reads whole files or byte ranges of them and lists a directory of the
restic layout (``config``, ``keys/``, ``snapshots/``, ``index/``, ``data/<2 hex>/``). It never
writes, never creates a lock. ``read`` raises :class:`StorageMissing` for an object that is not
there and :class:`StorageError` for anything else; every implementation is thread-safe (blobs
are fetched in parallel). :func:`open_storage` is the one explicit registry of kinds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

#: the directories of the restic layout this reader uses
KINDS = ("keys", "snapshots", "index", "data")


class StorageError(OSError):
    """A repository file could not be read or listed."""


class StorageMissing(StorageError):
    """The repository file is not there."""


class StorageUnreachable(StorageError):
    """The storage did not answer (connection refused, timed out, name not found)."""


class Storage(Protocol):
    """Read access to one repository's files (see the module docstring)."""

    location: str

    def list(self, kind: str) -> list[tuple[str, int]]:
        """(name, size) of every file under ``kind`` (for ``data``: across its subdirectories)."""
        ...

    def read(self, kind: str, name: str, offset: int = 0, length: int | None = None) -> bytes:
        """A file (``kind="config"``, ``name=""`` for the config) or ``length`` bytes of it."""
        ...

    def object_key(self, kind: str, name: str) -> str:
        """The storage's own name of a file (S3: the bucket key, with the prefix)."""
        ...

    def close(self) -> None: ...


def layout_path(kind: str, name: str) -> str:
    """A file's path in restic's default layout, relative to the repository root."""
    if kind == "config":
        return "config"
    if kind not in KINDS or not name or "/" in name or name.startswith("."):
        raise StorageError(f"not a repository file: {kind}/{name}")
    if kind == "data":
        return f"data/{name[:2]}/{name}"
    return f"{kind}/{name}"


class LocalStorage:
    """A repository in a local directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.location = str(root)

    def list(self, kind: str) -> list[tuple[str, int]]:
        base = self.root / kind
        found: list[tuple[str, int]] = []
        dirs = [base]
        if kind == "data":
            try:
                dirs = [Path(e.path) for e in os.scandir(base) if e.is_dir()]
            except OSError as exc:
                raise StorageError(f"cannot list {kind}/: {exc.strerror or exc}") from None
        for directory in dirs:
            try:
                for entry in os.scandir(directory):
                    if entry.is_file() and not entry.name.startswith("."):
                        found.append((entry.name, entry.stat().st_size))
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StorageError(f"cannot list {kind}/: {exc.strerror or exc}") from None
        return found

    def read(self, kind: str, name: str, offset: int = 0, length: int | None = None) -> bytes:
        path = self.root / layout_path(kind, name)
        try:
            with open(path, "rb") as handle:
                if offset:
                    handle.seek(offset)
                data = handle.read() if length is None else handle.read(length)
        except FileNotFoundError:
            raise StorageMissing(f"{layout_path(kind, name)} is missing") from None
        except OSError as exc:
            raise StorageError(f"cannot read {layout_path(kind, name)}: "
                               f"{exc.strerror or exc}") from None
        if length is not None and len(data) != length:
            raise StorageError(f"{layout_path(kind, name)} is shorter than expected "
                               f"({offset + len(data)} bytes)")
        return data

    def object_key(self, kind: str, name: str) -> str:
        return layout_path(kind, name)

    def close(self) -> None:
        pass
