"""Opening a target's repository natively: its storage, its password, its one key derivation.

The password is read the way restic reads it (``password_file`` and ``password_command``
output trimmed of surrounding white space, ``password_env`` as it is) and never leaves this
module except into scrypt. Failures are :class:`TargetUnavailable` with the same wording the
restic adapter uses, so a report reads the same whichever reader ran.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping

from backupcheck.backends.restic_output import NATIVE_KINDS, redact_repository, storage_kind
from backupcheck.backends.resticrepo.keys import WrongPassword
from backupcheck.backends.resticrepo.repo import Repository, RepositoryError
from backupcheck.backends.resticrepo.storage import (
    LocalStorage,
    Storage,
    StorageError,
    StorageMissing,
    StorageUnreachable,
)
from backupcheck.backends.resticrepo.storage_rest import RestStorage
from backupcheck.backends.resticrepo.storage_s3 import S3Storage
from backupcheck.errors import TargetUnavailable
from backupcheck.model import ResticTarget

PASSWORD_COMMAND_TIMEOUT = 60.0


def supports(repository: str) -> bool:
    """Whether the native reader can read this repository string."""
    return storage_kind(repository) in NATIVE_KINDS


def open_storage(repository: str, env: Mapping[str, str]) -> Storage:
    """The storage of a repository string (local, ``s3:``, ``rest:``); raises StorageError."""
    kind = storage_kind(repository)
    if kind == "local":
        return LocalStorage(repository[6:] if repository.startswith("local:") else repository)
    if kind == "s3":
        return S3Storage.from_repository(repository, env)
    if kind == "rest":
        return RestStorage(repository[5:])
    raise StorageError(f"the native reader does not read {kind}: repositories")


def password_source(target: ResticTarget) -> str:
    if target.password_file:
        return f"password_file {target.password_file}"
    if target.password_command:
        return "password_command"
    if target.password_env:
        return f"password_env {target.password_env}"
    return "no password source"


def read_password(target: ResticTarget, environ: Mapping[str, str]) -> bytes:
    """The repository password from the target's source; raises TargetUnavailable."""
    location = redact_repository(target.repository)
    if target.password_file:
        try:
            with open(target.password_file, "rb") as handle:
                value = handle.read().strip()
        except OSError as exc:
            raise TargetUnavailable(f"cannot read password_file {target.password_file}: "
                                    f"{exc.strerror or exc}") from None
        return value.removeprefix(b"\xef\xbb\xbf")
    if target.password_command:
        try:
            done = subprocess.run(shlex.split(target.password_command), capture_output=True,
                                  timeout=PASSWORD_COMMAND_TIMEOUT, check=False,
                                  env=dict(environ) | dict(target.env))
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            raise TargetUnavailable(f"cannot get the password for restic repository "
                                    f"{location} from password_command: "
                                    f"{type(exc).__name__}") from None
        if done.returncode != 0:
            raise TargetUnavailable(f"cannot get the password for restic repository "
                                    f"{location} from password_command: exit "
                                    f"{done.returncode}")
        return done.stdout.strip()
    if target.password_env:
        value_text = environ.get(target.password_env)
        if not value_text:
            raise TargetUnavailable(f"environment variable {target.password_env} "
                                    "(password_env) is not set")
        return os.fsencode(value_text)
    raise TargetUnavailable(f"no password source configured for {location}")


def open_repository(target: ResticTarget, environ: Mapping[str, str] | None = None,
                    ) -> Repository:
    """The target's repository, opened (one key derivation); raises TargetUnavailable."""
    location = redact_repository(target.repository)
    env = os.environ if environ is None else environ
    password = read_password(target, env)
    if not password:
        raise TargetUnavailable(f"cannot get the password for restic repository {location} "
                                f"from {password_source(target)}: empty password")
    try:
        storage = open_storage(target.repository, target.env)
    except StorageError as exc:
        raise TargetUnavailable(f"restic repository {location}: {exc}") from None
    try:
        return Repository(storage, password)
    except WrongPassword:
        storage.close()
        raise TargetUnavailable(f"wrong password for restic repository {location} "
                                f"(password from {password_source(target)})") from None
    except StorageMissing as exc:
        storage.close()
        why = "the bucket does not exist" if "bucket" in str(exc) else \
            "no repository config found"
        raise TargetUnavailable(f"no restic repository at {location}: {why}") from None
    except StorageUnreachable as exc:
        storage.close()
        raise TargetUnavailable(f"restic repository {location} is unreachable: "
                                f"{exc}") from None
    except (StorageError, RepositoryError) as exc:
        storage.close()
        raise TargetUnavailable(f"restic repository {location} cannot be read: "
                                f"{exc}") from None
