"""Storage backends, one module per kind, registered in one explicit list below."""

from __future__ import annotations

from collections.abc import Callable

from backupcheck.backends.base import Backend
from backupcheck.model import Client, Target


def _s3(client: Client, target: Target, seed: int) -> Backend:
    from backupcheck.backends.s3_backend import S3Backend

    assert target.kind == "s3"
    return S3Backend(client, target, seed=seed)


def _restic(client: Client, target: Target, seed: int) -> Backend:
    from backupcheck.backends.restic_backend import ResticBackend

    assert target.kind == "restic"
    return ResticBackend(client, target, seed=seed)


#: the registry: target kind -> factory of a backend for one target
BACKENDS: dict[str, Callable[[Client, Target, int], Backend]] = {
    "s3": _s3,
    "restic": _restic,
}

#: check ids each kind reports, in SPEC order (used for "could not check" findings)
CHECK_IDS: dict[str, tuple[str, ...]] = {
    "s3": ("s3.versioning", "s3.object_lock", "s3.object_lock.mode", "s3.object_lock.retention",
           "s3.objects.locked", "s3.encryption", "s3.objects.encrypted", "s3.delete_markers",
           "s3.public_access", "s3.freshness"),
    "restic": ("restic.access", "restic.keys", "restic.storage.immutable", "restic.freshness",
               "restic.snapshots", "restic.integrity"),
}


def open_backend(client: Client, target: Target, seed: int = 0) -> Backend:
    return BACKENDS[target.kind](client, target, seed)
