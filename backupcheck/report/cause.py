"""One root cause for a target that could not be opened, and the advice that fits it.

When a backend cannot open a target (wrong password, missing bucket, unreachable endpoint)
the engine reports every check of the target as ``error``: the first with the cause, the
others "not checked: <cause>" (:func:`backupcheck.engine.unavailable_findings`). The JSON
keeps all of them; a table shows them as one row, with advice for the cause rather than each
check's own remediation, which does not apply to a target nobody could read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from backupcheck.model import Finding, Status, TargetResult

#: (pattern of the cause, lower case) -> advice; the first match wins
_ADVICE: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), a) for p, a in (
    (r"wrong password",
     "the password does not open this repository: check the target's password_file, "
     "password_command or password_env (a key may have been changed or removed)"),
    (r"cannot get the password|password_file .* does not exist",
     "make the target's password source readable by this user (password_file, "
     "password_command or password_env)"),
    (r"bucket .*does not exist|no such bucket|nosuchbucket",
     "check bucket, endpoint_url and region in the client file; if the bucket was deleted, "
     "treat it as an incident: the backups in it are gone"),
    (r"no restic repository",
     "check the repository string in the client file (and endpoint_url, region for S3): "
     "there is no restic repository there"),
    (r"access denied|accessdenied|forbidden|invalidaccesskeyid|signature",
     "the credentials may not read this storage: check the profile or role and grant it "
     "the read-only permissions (docs/reference.md)"),
    (r"unreachable|cannot reach|timed out|connection|resolve",
     "check endpoint_url and the network path (DNS, firewall, proxy) from this host"),
    (r"is locked",
     "another process holds an exclusive lock on the repository (a prune or check): run the "
     "drill again after it, or remove a stale lock with `restic unlock`"),
))

DEFAULT_ADVICE = ("check that the backup storage exists and is reachable and that the "
                  "credentials may read it")


@dataclass(frozen=True)
class Unopened:
    """The checks of one target that share one cause the target could not be opened for."""

    cause: str
    checks: tuple[Finding, ...]

    @property
    def advice(self) -> str:
        return advice_for(self.cause)


def advice_for(cause: str) -> str:
    """The advice for a target that could not be opened for ``cause``."""
    text = cause.lower()
    for pattern, advice in _ADVICE:
        if pattern.search(text):
            return advice
    return DEFAULT_ADVICE


def unopened(target: TargetResult) -> Unopened | None:
    """The target's checks that are errors for one shared cause ("not checked: <cause>"),
    when there are at least two of them; None otherwise."""
    errors = [c for c in target.checks if c.status is Status.ERROR]
    if not errors:
        return None
    cause = errors[0].message
    grouped = tuple(c for c in errors if c.message in (cause, f"not checked: {cause}"))
    if len(grouped) < 2 or not any(c.message == f"not checked: {cause}" for c in grouped):
        return None
    return Unopened(cause, grouped)
