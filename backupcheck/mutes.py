"""Accepted risks: the ``[mute]`` entries of ``backupcheck.toml`` applied to a run's findings.

A mute names one finding, ``client/target/check``, with a reason and the last day it holds
(``until``, a UTC date). While it holds, that finding — when it is not a pass — shows status
``muted`` with the reason, the expiry and the status the check found; ``muted`` counts as
``pass`` wherever statuses are combined (targets, clients, the run, exit codes, the audit's
pillars). From the day after ``until`` the finding shows as itself again, and the expired
entry is reported as a configuration error so that someone renews or removes it.

The settings loader (``settings.py``) validates the entries; this module only applies them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from backupcheck.errors import ConfigError
from backupcheck.model import ClientResult, Finding, Muted, RunReport, Status, TargetResult


@dataclass(frozen=True)
class Mute:
    """One ``[mute]`` entry: an accepted risk on one check of one target."""

    client: str
    target: str
    check: str
    reason: str
    until: date
    #: where it is written, for error messages
    file: str = ""
    line: int | None = None

    @property
    def key(self) -> str:
        return f"{self.client}/{self.target}/{self.check}"

    def holds_on(self, today: date) -> bool:
        """The mute covers ``today`` (``until`` itself included)."""
        return today <= self.until

    def expired_error(self) -> ConfigError:
        return ConfigError(self.file, f"expired on {self.until.isoformat()}: the finding counts "
                           "again; renew `until` or remove the entry", key=f'mute."{self.key}"',
                           line=self.line)


def _active(mutes: Iterable[Mute], today: date) -> Mapping[tuple[str, str, str], Mute]:
    return {(m.client, m.target, m.check): m for m in mutes if m.holds_on(today)}


def expired(mutes: Iterable[Mute], today: date) -> list[Mute]:
    """The entries whose ``until`` has passed (each one a configuration error to report)."""
    return [m for m in mutes if not m.holds_on(today)]


def mute_finding(finding: Finding, mute: Mute) -> Finding:
    """``finding`` as the accepted risk shows it; a pass (or an already muted one) stays."""
    if finding.status in (Status.PASS, Status.MUTED):
        return finding
    return replace(finding, status=Status.MUTED,
                   muted=Muted(reason=mute.reason, until=mute.until.isoformat(),
                               status=finding.status))


def _mute_target(client: str, target: TargetResult,
                 active: Mapping[tuple[str, str, str], Mute]) -> TargetResult:
    checks = tuple(
        mute_finding(f, active[(client, target.target, f.id)])
        if (client, target.target, f.id) in active else f
        for f in target.checks)
    return target if checks == target.checks else replace(target, checks=checks)


def mute_client(result: ClientResult, mutes: Sequence[Mute], today: date) -> ClientResult:
    """One client's results with the mutes that hold on ``today`` applied."""
    active = _active(mutes, today)
    if not any(key[0] == result.client for key in active):
        return result
    return replace(result, targets=tuple(_mute_target(result.client, t, active)
                                         for t in result.targets))


def apply_mutes(report: RunReport, mutes: Sequence[Mute], today: date) -> RunReport:
    """The run as it is shown, recorded and alerted on: accepted risks muted."""
    if not mutes:
        return report
    return replace(report, clients=tuple(mute_client(c, mutes, today) for c in report.clients))
