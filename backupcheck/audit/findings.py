"""What became of each finding: first seen, last seen, resolved — the MSP's record of what was
done about what the checks found, from the history's ``findings`` dataset.

A *finding* is a run of observations of one check on one target whose status is not
``pass`` (``fail``, ``warn``, ``error``, or ``muted``: an accepted risk is still there). It is
resolved by the first ``pass`` after it; one that was never followed by a pass is open, and
its age is counted from when it was first seen. The audit's own findings are the newest
observation — except, for a pack built from the history, the ``restore.*`` ones, which are
the recorded drill's and already in the history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backupcheck.clock import as_utc, iso
from backupcheck.history.schema import CLIENT_TARGET
from backupcheck.model import ClientResult

#: statuses that make (or keep) a finding; everything else ends it
PRESENT = ("fail", "error", "warn", "muted")
_ORDER = {"fail": 0, "error": 1, "warn": 2, "muted": 3}


@dataclass(frozen=True)
class FindingRecord:
    """One finding's life: what it last said and when it was first and last seen."""

    target: str
    check: str
    status: str  # its latest status while present
    message: str  # its latest message
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    seen: int  # observations while present

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    def age_seconds(self, moment: datetime) -> float:
        """How long an open finding has been there (0 once resolved)."""
        return max(0.0, (moment - self.first_seen).total_seconds()) if self.open else 0.0

    def to_json(self, moment: datetime) -> dict[str, Any]:
        return {"target": self.target, "check": self.check, "status": self.status,
                "message": self.message, "first_seen": iso(self.first_seen),
                "last_seen": iso(self.last_seen),
                "resolved_at": iso(self.resolved_at) if self.resolved_at else None,
                "open": self.open, "age_seconds": round(self.age_seconds(moment)),
                "seen": self.seen}


Observation = tuple[datetime, str, str, str, str]  # when, target, check, status, message


def _observations(rows: Iterable[dict[str, Any]], current: ClientResult | None,
                  at: datetime, restore_recorded: bool) -> list[Observation]:
    seen = [(as_utc(r["started_at"]), str(r["target"]), str(r["check"]),
             str(r["status"]), str(r.get("message") or "")) for r in rows]
    if current is None:
        return sorted(seen, key=lambda o: o[0])
    owners = [(CLIENT_TARGET, current.findings),
              *((t.target, t.checks) for t in current.targets)]
    seen += [(at, target, c.id, str(c.status), c.message) for target, checks in owners
             for c in checks if not (restore_recorded and c.id.startswith("restore."))]
    return sorted(seen, key=lambda o: o[0])


def finding_records(rows: Sequence[dict[str, Any]], current: ClientResult | None,
                    at: datetime, *, restore_recorded: bool) -> list[FindingRecord]:
    """Every finding in the ``findings`` rows plus the audit's own ``current`` findings
    (observed ``at``; None: already among the rows, a recorded fresh drill): open ones
    first, worst first, then resolved ones, newest first. ``restore_recorded``: the audit's
    ``restore.*`` findings come from the history."""
    streaks: dict[tuple[str, str], list[Observation]] = {}
    records: list[FindingRecord] = []

    def close(key: tuple[str, str], resolved: datetime | None) -> None:
        run = streaks.pop(key, [])
        if run:
            last = run[-1]
            records.append(FindingRecord(key[0], key[1], last[3], last[4], run[0][0],
                                         last[0], resolved, len(run)))

    for observation in _observations(rows, current, at, restore_recorded):
        key = (observation[1], observation[2])
        if observation[3] in PRESENT:
            streaks.setdefault(key, []).append(observation)
        else:
            close(key, observation[0])
    for key in list(streaks):
        close(key, None)
    opened = sorted((r for r in records if r.open),
                    key=lambda r: (_ORDER.get(r.status, 9), r.first_seen, r.target, r.check))
    resolved = sorted((r for r in records if not r.open),
                      key=lambda r: (r.resolved_at or r.last_seen), reverse=True)
    return [*opened, *resolved]
