"""The restic backend's native reading: the same facts the restic binary gives, read by
``backends/resticrepo`` (one key derivation per target, every blob checked).

:class:`NativeReader` opens the repository on first use and keeps it for the backend's life:
snapshots (filtered as ``restic snapshots --host/--path/--tag`` filters), the files of a
snapshot with their names as bytes, file streams, the config and the key files. Errors are the
backend contract's: TargetUnavailable for the repository, FileMissing / FileUnreadable per file.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from backupcheck.backends.base import ByteStream, FileMissing, FileUnreadable
from backupcheck.backends.restic_output import (
    NATIVE_KINDS,
    KeyInfo,
    Keys,
    RawData,
    RepoConfig,
    RestoreSize,
    Snapshot,
    parse_key,
    storage_kind,
)
from backupcheck.backends.resticrepo import Repository, open_repository, restore_object_keys
from backupcheck.backends.resticrepo.repo import RepositoryError
from backupcheck.backends.resticrepo.stats import raw_data, restore_size
from backupcheck.backends.resticrepo.storage import StorageError
from backupcheck.backends.resticrepo.tree import TreeError
from backupcheck.errors import TargetUnavailable
from backupcheck.model import ResticTarget

#: key files whose owner details are read when there are more keys than allowed
KEY_DETAILS = 20


def uses_native(target: ResticTarget) -> bool:
    """``reader = auto`` reads local, ``s3:`` and ``rest:`` natively; ``restic`` never."""
    if target.reader == "restic":
        return False
    return target.reader == "native" or storage_kind(target.repository) in NATIVE_KINDS


def display_name(raw: bytes) -> str:
    """A path as text: UTF-8 as it is; other bytes as ``\\xHH`` (the manifest's convention
    for names it cannot record)."""
    return raw.decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class NativeNode:
    """One node of a snapshot as the catalog needs it."""

    path: bytes
    type: str
    size: int
    mtime: datetime | None


class NativeReader:
    """Native access to one target's repository (see the module docstring). Thread-safe."""

    def __init__(self, target: ResticTarget, environ: Mapping[str, str] | None = None) -> None:
        self.target = target
        self._environ = environ
        self._lock = threading.Lock()
        self._repository: Repository | None = None
        self._trees: dict[str, str] = {}

    @property
    def repository(self) -> Repository:
        with self._lock:
            if self._repository is None:
                self._repository = open_repository(self.target, self._environ)
            return self._repository

    def _unavailable(self, exc: Exception) -> TargetUnavailable:
        where = self.repository.storage.location
        return TargetUnavailable(f"restic repository {where} cannot be read: {exc}")

    def snapshots(self, host: str | None, paths: Sequence[str],
                  tags: Sequence[str]) -> list[Snapshot]:
        """Matching snapshots, oldest first (all ``paths`` and all ``tags`` on a snapshot)."""
        try:
            found = self.repository.snapshots()
        except (StorageError, RepositoryError, ValueError) as exc:
            raise self._unavailable(exc) from None
        return [s for s in found if (not host or s.hostname == host)
                and set(paths) <= set(s.paths) and set(tags) <= set(s.tags)]

    def nodes(self, snapshot_id: str) -> Iterator[NativeNode]:
        """Every node of a snapshot, depth first, with its absolute path as bytes."""
        repository = self.repository
        try:
            tree = self._tree_of(snapshot_id)
            for path, node in repository.walk(tree):
                yield NativeNode(path, node.type, node.size, node.mtime)
        except (StorageError, RepositoryError, TreeError, FileUnreadable) as exc:
            raise self._unavailable(exc) from None

    def _tree_of(self, snapshot_id: str) -> str:
        with self._lock:
            known = self._trees.get(snapshot_id)
        if known is None:
            known = self.repository.snapshot_tree(snapshot_id)
            with self._lock:
                self._trees[snapshot_id] = known
        return known

    def open(self, snapshot_id: str, path: bytes) -> ByteStream:
        """A verified stream of one file; FileMissing when the snapshot has no such file."""
        repository = self.repository
        try:
            node = repository.find(self._tree_of(snapshot_id), path)
        except (StorageError, RepositoryError, TreeError) as exc:
            raise FileUnreadable(f"cannot read the snapshot's trees: {exc}") from None
        if node is None or node.type != "file":
            raise FileMissing(f"{display_name(path)} is not a file in snapshot "
                              f"{snapshot_id[:8]}")
        return repository.open_file(node)

    def share_reads(self, snapshot_id: str, paths: Sequence[bytes]) -> list[int]:
        """Plan shared pack reads for files about to be read (``resticrepo.runs``); returns
        the order to read them in. A path that cannot be found is left to its own read."""
        repository = self.repository
        try:
            tree = self._tree_of(snapshot_id)
            found = [repository.find(tree, path) for path in paths]
        except (StorageError, RepositoryError, TreeError, FileUnreadable):
            return list(range(len(paths)))  # each read reports its own error
        files = [(i, node) for i, node in enumerate(found)
                 if node is not None and node.type == "file"]
        order = repository.share_reads([node for _, node in files])
        planned = [files[k][0] for k in order]
        left = set(range(len(paths))).difference(planned)
        return planned + sorted(left)

    def end_shared_reads(self) -> None:
        if self._repository is not None:
            self._repository.end_shared_reads()

    def restore_objects(self, snapshot_id: str) -> list[tuple[str, int]]:
        """See :func:`backupcheck.backends.resticrepo.restore_object_keys`."""
        try:
            return restore_object_keys(self.repository, snapshot_id)
        except (StorageError, RepositoryError, TreeError, FileUnreadable) as exc:
            raise self._unavailable(exc) from None

    def stats_raw_data(self) -> RawData:
        """``restic stats --mode raw-data`` (all snapshots), from the index and the trees."""
        repository = self.repository
        try:
            return raw_data(repository, repository.snapshot_trees().values())
        except (StorageError, RepositoryError, TreeError, FileUnreadable) as exc:
            raise self._unavailable(exc) from None

    def stats_restore_size(self, snapshot_id: str) -> RestoreSize:
        """``restic stats --mode restore-size <snapshot>``, from the snapshot's trees."""
        repository = self.repository
        try:
            return restore_size(repository, self._tree_of(snapshot_id))
        except (StorageError, RepositoryError, TreeError, FileUnreadable) as exc:
            raise self._unavailable(exc) from None

    def config(self) -> RepoConfig:
        config = self.repository.config
        return RepoConfig(version=config.version, id=config.id)

    def keys(self, *, details_above: int = -1) -> Keys:
        """The key files (plain JSON: owner details need no decryption)."""
        storage = self.repository.storage
        try:
            names = sorted(name for name, _ in storage.list("keys"))
            infos: list[KeyInfo] = []
            for name in names:
                if len(names) <= details_above or len(infos) >= KEY_DETAILS:
                    infos.append(KeyInfo(name[:8]))
                else:
                    infos.append(parse_key(name, json.loads(storage.read("keys", name))))
        except (StorageError, ValueError) as exc:
            raise self._unavailable(exc) from None
        return Keys(tuple(infos))

    def close(self) -> None:
        with self._lock:
            repository, self._repository = self._repository, None
        if repository is not None:
            repository.close()


def locator_of(path: bytes) -> str:
    """A catalog locator that carries the exact bytes of a path (undone by ``path_of``)."""
    return path.decode("utf-8", "surrogateescape")


def path_of(locator: str) -> bytes:
    return locator.encode("utf-8", "surrogateescape")
