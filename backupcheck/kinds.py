"""The storage kinds, in one explicit list: how to open a target's backend, how to judge it.

A new kind is one backend module (facts and byte streams), one checks module (judging
functions bound to registry ids) and one entry in :data:`KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from backupcheck.backends.base import Backend
from backupcheck.backends.restic_backend import ResticBackend
from backupcheck.backends.s3_backend import S3Backend
from backupcheck.checks import restic as restic_checks
from backupcheck.checks import s3 as s3_checks
from backupcheck.checks.registry import Kind, ids_of
from backupcheck.errors import ConfigError
from backupcheck.model import Client, Finding, ResticTarget, S3Target, Target


@dataclass(frozen=True)
class StorageKind:
    name: Kind
    #: a backend for one target of one client, with the target's sampling seed
    open_backend: Callable[[Client, Any, int], Backend]
    #: every check of the kind over the facts its backend's ``policy_facts`` returned
    run_checks: Callable[[Any], list[Finding]]

    @property
    def check_ids(self) -> tuple[str, ...]:
        return ids_of(self.name)


def _open_s3(client: Client, target: S3Target, seed: int) -> Backend:
    return S3Backend(client, target, seed=seed)


def _open_restic(client: Client, target: ResticTarget, seed: int) -> Backend:
    return ResticBackend(client, target, seed=seed)


KINDS: dict[str, StorageKind] = {
    "s3": StorageKind("s3", _open_s3, s3_checks.run_all),
    "restic": StorageKind("restic", _open_restic, restic_checks.run_all),
}


def kind_of(target: Target) -> StorageKind:
    try:
        return KINDS[target.kind]
    except KeyError:
        raise ConfigError(target.name, f"unknown kind {target.kind!r}", key="kind") from None


def open_backend(client: Client, target: Target, seed: int = 0) -> Backend:
    return kind_of(target).open_backend(client, target, seed)
