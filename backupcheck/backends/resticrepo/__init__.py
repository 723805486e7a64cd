"""A native, read-only reader of restic repositories (format 1 and 2; local, s3:, rest:).

Modules: ``crypto`` (AES-256-CTR + Poly1305-AES from ``cryptography``), ``keys`` (scrypt, once
per target), ``compression`` (zstd, output bounded while decompressing), ``storage`` /
``storage_s3`` / ``storage_rest`` (where the files are; read-only), ``index``, ``tree`` (names
as bytes), ``blobs`` (ranged reads, every blob checked against its SHA-256 id), ``repo`` (the
:class:`Repository`), ``stats`` (what ``restic stats`` reports: raw-data, restore-size),
``opening`` (from a target). The format is restic's ``doc/design.rst``.
"""

from __future__ import annotations

from backupcheck.backends.resticrepo.opening import open_repository, supports
from backupcheck.backends.resticrepo.repo import Repository

__all__ = ["Repository", "open_repository", "restore_object_keys", "supports"]


def restore_object_keys(repo: Repository, snapshot_id: str) -> list[tuple[str, int]]:
    """The exact storage objects a restore of ``snapshot_id`` (full id) reads, with sizes.

    ``config``, every ``keys/*``, ``snapshots/<id>``, every ``index/*`` and ``data/<xx>/<pack>``
    of every pack holding one of the snapshot's tree or data blobs — as the storage names them
    (for ``s3:`` the bucket key with the repository prefix). Raises StorageError when one of
    them is missing, BlobError when a tree cannot be read.
    """
    return repo.restore_objects(snapshot_id)
