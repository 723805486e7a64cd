"""``drill``: the policy checks, then the sampled restore drill of every target.

The run is appended to the history afterwards (:func:`record_history`, new files only) unless
``--no-history``; a history that cannot be written never costs the report.
"""

from __future__ import annotations

from collections.abc import Sequence

from backupcheck.backends.base import Backend
from backupcheck.checks.registry import finding
from backupcheck.checks.selection import RESTORE_IDS, CheckSelection
from backupcheck.clock import iso, now_utc, parse_iso
from backupcheck.commands.policy import policy_facts
from backupcheck.engine import Progress, run_targets
from backupcheck.errors import BackupcheckError
from backupcheck.kinds import kind_of
from backupcheck.model import Client, RunReport, Status, Target, TargetResult
from backupcheck.restore.drill import DrillOptions, new_run_id, restore_target, target_seed
from backupcheck.rotation import SliceRead

__all__ = ["DrillOptions", "drill", "new_run_id", "record_history"]


def drill(clients: Sequence[Client], options: DrillOptions, *,
          progress: Progress | None = None, selection: CheckSelection | None = None
          ) -> RunReport:
    """Policy checks and the restore drill of every target (with ``selection``: only the
    selected checks; no restore unless a ``restore.*`` check is selected)."""
    moment = options.now or now_utc()
    chosen = selection or CheckSelection()
    restores = chosen.any_of(RESTORE_IDS)

    def work(client: Client, target: Target, backend: Backend) -> TargetResult:
        history = options.history
        reads = None if history is None else (
            lambda: [SliceRead(*r) for r in history.data_slices(client.name, target.name)])
        checks = kind_of(target).run_checks(
            policy_facts(backend, target, options.plan, moment, reads))
        if not restores:
            return TargetResult(target.name, target.kind, tuple(checks))
        seed = target_seed(options, moment, client.name, target.name)
        try:
            # a missing or malformed manifest is the restore.sample verdict of this target
            # (error), not an exception: every other target and client still runs
            restore, findings = restore_target(client, target, backend, options, seed, moment)
        except BackupcheckError as exc:
            message = f"restore drill not run: {exc}"
            return TargetResult(target.name, target.kind, (
                *checks,
                finding("restore.sample", Status.ERROR, message, {"error": str(exc)}),
                finding("restore.rto", Status.ERROR, message, {"error": str(exc)})))
        return TargetResult(target.name, target.kind, (*checks, *findings), restore=restore)

    report = run_targets("drill", chosen.clients_to_run(clients, restore=True), work,
                         progress=progress, seed=options.seed,
                         extra_check_ids=RESTORE_IDS if restores else ())
    return chosen.apply(report)


def record_history(options: DrillOptions, report: RunReport) -> str | None:
    """Append the drill to the history; returns the run id (None with ``--no-history``).

    Kept apart from :func:`drill` so that a history that cannot be written never costs the
    report: the caller shows the report first, then records it.
    """
    if options.history is None:
        return None
    # the drill's own moment, to the microsecond: two drills within one second (the report's
    # precision) must still come back from the history in the order they ran
    reported = parse_iso(report.started_at)
    # only within the reported second: the history's moment must read back as the report's
    # (an audit's findings are "last seen" at the time its checks are dated)
    started = options.now if options.now is not None and \
        iso(options.now) == report.started_at else reported
    run_id = new_run_id(started)
    options.history.append(run_id, started, report, options.plan.name)
    return run_id
