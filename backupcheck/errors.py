"""One root error; each subclass carries the SPEC exit code it maps to.

Library code raises these and never exits; ``cli.py`` turns them into one line on stderr
and the exit code. Messages never contain secrets: they are built from names, paths and
what the backend said, never from passwords or keys.
"""

from __future__ import annotations

from pathlib import Path


class BackupcheckError(Exception):
    """Root of every error backupcheck raises on purpose."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(BackupcheckError):
    """Bad usage or configuration: exit 2, naming the file, the line where known, and the key."""

    exit_code = 2

    def __init__(
        self,
        file: Path | str,
        message: str,
        *,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        where = str(file)
        if line is not None:
            where += f":{line}"
        text = f"{where}: "
        if key:
            text += f"{key}: "
        text += message
        super().__init__(text)
        self.file = str(file)
        self.key = key
        self.line = line


class UsageError(BackupcheckError):
    """A command line that cannot be acted on (exit 2)."""

    exit_code = 2


class TargetUnavailable(BackupcheckError):
    """A target could not be checked at all: unreachable, denied, wrong password (exit 3)."""

    exit_code = 3


class ReadOnlyViolation(BackupcheckError):
    """Something tried to send a non-read request to a backup store. Always a bug."""

    exit_code = 1


class HistoryError(BackupcheckError):
    """The history could not be read or written (earlier history is left intact)."""

    exit_code = 1
