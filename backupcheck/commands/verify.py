"""``verify``: the policy checks of every target, without restoring data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from backupcheck.backends.base import Backend
from backupcheck.checks.selection import CheckSelection
from backupcheck.clock import now_utc
from backupcheck.commands.policy import policy_facts
from backupcheck.engine import Progress, run_targets
from backupcheck.kinds import kind_of
from backupcheck.model import Client, Plan, RunReport, Target, TargetResult


def verify(clients: Sequence[Client], plan: Plan, *, progress: Progress | None = None,
           now: datetime | None = None, seed: int | None = None,
           selection: CheckSelection | None = None) -> RunReport:
    """The policy checks of every target (only the selected ones, with ``selection``).

    ``seed``: every target's sampling seed (``--seed``); None derives one per target from
    the run's time, so a capped S3 set's sample rotates from run to run."""
    moment = now or now_utc()
    chosen = selection or CheckSelection()

    def work(client: Client, target: Target, backend: Backend) -> TargetResult:
        facts = policy_facts(backend, target, plan, moment)
        return TargetResult(target.name, target.kind, tuple(kind_of(target).run_checks(facts)))

    report = run_targets("verify", chosen.clients_to_run(clients, restore=False), work,
                         progress=progress, seed=seed)
    return chosen.apply(report)
