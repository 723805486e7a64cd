"""``verify``: the policy checks of every target, without restoring data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from backupcheck.backends.base import Backend
from backupcheck.engine import Progress, now_utc, run_targets
from backupcheck.model import Client, Plan, RunReport, Target, TargetResult


def verify(clients: Sequence[Client], plan: Plan, *, progress: Progress | None = None,
           now: datetime | None = None) -> RunReport:
    moment = now or now_utc()

    def work(client: Client, target: Target, backend: Backend) -> TargetResult:
        return TargetResult(target.name, target.kind, tuple(backend.policy_checks(plan, moment)))

    return run_targets("verify", clients, work, progress=progress)
