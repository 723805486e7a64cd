"""Choosing checks: ``--checks ID,...`` and ``--exclude-checks ID,...`` (globs like ``s3.*``).

Every pattern must match some check id of the registry, or it is bad usage (exit 2): a typo
must never quietly select nothing. A target whose kind has no selected check is not opened at
all (``--checks s3.*`` runs no restic), a drill restores only when a ``restore.*`` check is
selected, and the report lists only the selected checks. The ``config`` finding (a client file
that cannot be loaded) is always reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from backupcheck.checks.registry import CHECKS, ids_of
from backupcheck.errors import UsageError
from backupcheck.model import Client, ClientResult, RunReport

#: the checks a drill adds to the policy checks
RESTORE_IDS = ids_of("restore")
ALWAYS = frozenset(ids_of("client"))


@dataclass(frozen=True)
class CheckSelection:
    """Which check ids a run reports; the default selects every check."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return not self.include and not self.exclude

    def selects(self, check_id: str) -> bool:
        if check_id in ALWAYS:
            return True
        if self.include and not any(fnmatchcase(check_id, p) for p in self.include):
            return False
        return not any(fnmatchcase(check_id, p) for p in self.exclude)

    def any_of(self, check_ids: Sequence[str]) -> bool:
        return any(self.selects(i) for i in check_ids)

    def clients_to_run(self, clients: Sequence[Client], *, restore: bool) -> list[Client]:
        """The clients with only the targets that have a selected check (drills: ``restore``
        counts the restore checks); clients left without a target are dropped."""
        if self.everything:
            return list(clients)
        drills = restore and self.any_of(RESTORE_IDS)
        chosen = []
        for client in clients:
            targets = tuple(t for t in client.targets
                            if drills or self.any_of(ids_of(t.kind)))
            if targets:
                chosen.append(replace(client, targets=targets))
        return chosen

    def apply(self, report: RunReport) -> RunReport:
        """``report`` with only the selected checks."""
        if self.everything:
            return report
        return replace(report, clients=tuple(self._client(c) for c in report.clients))

    def _client(self, result: ClientResult) -> ClientResult:
        return replace(result, targets=tuple(
            replace(t, checks=tuple(f for f in t.checks if self.selects(f.id)))
            for t in result.targets))


def _patterns(option: str, text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    patterns = tuple(p.strip() for p in text.split(","))
    if not all(patterns):
        raise UsageError(f"{option}: expected check ids or globs separated by commas, "
                         f"got {text!r}")
    for pattern in patterns:
        if not any(fnmatchcase(c.id, pattern) for c in CHECKS):
            raise UsageError(f"{option}: {pattern!r} matches no check id (see backupcheck "
                             "list-checks)")
    return patterns


def parse_selection(checks: str | None, exclude: str | None,
                    runnable: Sequence[str] = ()) -> CheckSelection:
    """The selection ``--checks`` and ``--exclude-checks`` ask for.

    ``runnable``: the ids the command can report; a selection that keeps none of them is bad
    usage too (``verify --checks restore.*``).
    """
    selection = CheckSelection(_patterns("--checks", checks),
                               _patterns("--exclude-checks", exclude))
    if runnable and not any(selection.selects(i) for i in runnable if i not in ALWAYS):
        raise UsageError("--checks/--exclude-checks select none of the checks this command "
                         f"runs ({', '.join(i for i in runnable if i not in ALWAYS)})")
    return selection
