"""Per compliance control: which checks of this audit evidence it, and how they came out.

The controls and their words are ``checks.controls``; which check evidences which control is
the registry's (``CheckSpec.controls``). A control's status is the worst of its checks over
every target (an accepted risk counts as pass, as everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backupcheck.checks.controls import CONTROLS, Control
from backupcheck.checks.registry import BY_ID
from backupcheck.model import ClientResult, Status, worst


@dataclass(frozen=True)
class ControlEvidence:
    control: Control
    status: Status | None  # None: no check of this audit evidences it
    checks: tuple[tuple[str, Status], ...]  # check id, its worst status over the targets

    def to_json(self) -> dict[str, Any]:
        c = self.control
        return {"id": c.id, "framework": c.framework, "words": c.words, "source": c.source,
                "status": str(self.status) if self.status else None,
                "checks": [{"id": i, "status": str(s)} for i, s in self.checks]}


def control_evidence(result: ClientResult) -> list[ControlEvidence]:
    """Every control, with the checks of ``result`` that evidence it."""
    statuses: dict[str, list[Status]] = {}
    for target in result.targets:
        for check in target.checks:
            statuses.setdefault(check.id, []).append(check.status)
    found = []
    for control in CONTROLS:
        checks = tuple((check_id, worst(seen)) for check_id, seen in statuses.items()
                       if check_id in BY_ID and control.id in BY_ID[check_id].controls)
        found.append(ControlEvidence(control, worst(s for _, s in checks) if checks else None,
                                     checks))
    return found
