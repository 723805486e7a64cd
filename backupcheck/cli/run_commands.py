"""The commands that check targets: ``inventory``, ``verify``, ``drill`` and ``demo``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from backupcheck.checks.registry import ids_of
from backupcheck.cli.alerts import RunAlerts, finish_run
from backupcheck.cli.options import (
    DEFAULT_PLAN,
    DEFAULT_TARGETS,
    BalanceHistoryOpt,
    ChecksOpt,
    ClientOpt,
    ExcludeChecksOpt,
    Format,
    FormatOpt,
    HistoryOpt,
    SettingsOpt,
    ShardOpt,
    TargetsOpt,
    estate_from,
    history_from,
    plan_from,
    selection_from,
    settings_from,
    shard_of,
    with_broken,
)
from backupcheck.cli.output import emit, fail, guarded, progress_bar, show_progress, stderr_console
from backupcheck.clock import now_utc
from backupcheck.commands.drill import DrillOptions, record_history
from backupcheck.commands.drill import drill as run_drill
from backupcheck.commands.inventory import inventory as run_inventory
from backupcheck.commands.options import check_seed
from backupcheck.commands.verify import verify as run_verify
from backupcheck.demo import run_demo
from backupcheck.report.text import visible

#: the checks each command can report (``--checks`` must keep one of them)
POLICY_IDS = (*ids_of("s3"), *ids_of("restic"))
DRILL_IDS = (*POLICY_IDS, *ids_of("restore"))


def inventory(
    targets: TargetsOpt = DEFAULT_TARGETS,
    client: ClientOpt = None,
    fmt: FormatOpt = Format.table,
    out: Annotated[Path | None, typer.Option("--out", help="Write every object version / "
                                             "snapshot as Parquet.")] = None,
    settings: SettingsOpt = None,
    shard: ShardOpt = None,
    history: BalanceHistoryOpt = None,
) -> None:
    """List every backup set per client, with its storage settings."""
    clients, broken = estate_from(targets, client)
    installation = settings_from(targets, settings, clients, client)  # checked like any run's
    balance = history_from(history, installation) if shard else None  # read to balance
    clients, broken, shard_name = shard_of(clients, shard, balance, now_utc(), broken)
    total = sum(len(c.targets) for c in clients)
    with progress_bar("inventory", total, show_progress(fmt)) as progress:
        report = guarded(lambda: run_inventory(clients, out=out, progress=progress))
    emit(with_broken(replace(report, shard=shard_name), broken), fmt)


def verify(
    targets: TargetsOpt = DEFAULT_TARGETS,
    client: ClientOpt = None,
    fmt: FormatOpt = Format.table,
    plan: Annotated[Path | None, typer.Option("--plan", help="Restore plan (for "
                                              "read_data_subset).")] = None,
    read_data_subset: Annotated[str | None, typer.Option(
        "--read-data-subset", help="Override the plan's restic check data subset.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Reproducible sample of the "
                                             "objects HEADed (default: from the time).")] = None,
    settings: SettingsOpt = None,
    checks: ChecksOpt = None,
    exclude_checks: ExcludeChecksOpt = None,
    shard: ShardOpt = None,
    history: BalanceHistoryOpt = None,
) -> None:
    """Run the policy checks without restoring data."""
    guarded(lambda: check_seed(seed))
    clients, broken = estate_from(targets, client)
    installation = settings_from(targets, settings, clients, client)
    balance = history_from(history, installation) if shard else None  # read to balance
    clients, broken, shard_name = shard_of(clients, shard, balance, now_utc(), broken)
    selection = selection_from(checks, exclude_checks, POLICY_IDS)
    chosen = plan_from(plan or DEFAULT_PLAN, plan is not None)
    if read_data_subset is not None:
        chosen = replace(chosen, read_data_subset=read_data_subset)
    total = sum(len(c.targets) for c in selection.clients_to_run(clients, restore=False))
    alerts = RunAlerts.begin(installation)
    with progress_bar("verify", total, show_progress(fmt)) as progress:
        report = alerts.guarded(lambda: replace(
            run_verify(clients, chosen, progress=progress, seed=seed, selection=selection),
            shard=shard_name, plan=chosen))
    finish_run(with_broken(report, broken), fmt, alerts)


def drill(
    targets: TargetsOpt = DEFAULT_TARGETS,
    client: ClientOpt = None,
    fmt: FormatOpt = Format.table,
    plan: Annotated[Path, typer.Option("--plan", help="Restore plan.")] = DEFAULT_PLAN,
    seed: Annotated[int | None, typer.Option("--seed", help="Reproducible sample seed "
                                             "(default: from the date and time).")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="Parallel restore streams "
                                             "per target (default: the plan's).")] = None,
    history: HistoryOpt = None,
    no_history: Annotated[bool, typer.Option("--no-history", help="Do not record this "
                                             "drill.")] = False,
    settings: SettingsOpt = None,
    checks: ChecksOpt = None,
    exclude_checks: ExcludeChecksOpt = None,
    shard: ShardOpt = None,
) -> None:
    """Policy checks, sampled streamed restores with xxh3-128, restore-time metrics and RTO."""
    guarded(lambda: check_seed(seed))
    clients, broken = estate_from(targets, client)
    installation = settings_from(targets, settings, clients, client)
    selection = selection_from(checks, exclude_checks, DRILL_IDS)
    chosen = plan_from(plan, plan != DEFAULT_PLAN, announce=True)
    moment = now_utc()
    store = history_from(history, installation)
    clients, broken, shard_name = shard_of(clients, shard, store, moment, broken)
    options = DrillOptions(
        plan=chosen, seed=seed,
        jobs=jobs or chosen.jobs, history=None if no_history else store,
        now=moment)
    total = sum(len(c.targets) for c in selection.clients_to_run(clients, restore=True))
    alerts = RunAlerts.begin(installation)
    with progress_bar("drill", total, show_progress(fmt)) as progress:
        report = alerts.guarded(lambda: replace(
            run_drill(clients, options, progress=progress, selection=selection),
            shard=shard_name, plan=chosen))
    finish_run(with_broken(report, broken), fmt, alerts,
               record=lambda shown: record_history(options, shown))


def demo(
    keep: Annotated[Path | None, typer.Option(
        "--keep", metavar="DIR", help="Build the estate in DIR and leave it there, its S3 "
        "server running, for further commands.")] = None,
    fmt: FormatOpt = Format.table,
    targets: Annotated[Path | None, typer.Option(
        "--targets", hidden=True, help="Not used: the demo builds its own targets.")] = None,
    client: ClientOpt = None,
) -> None:
    """Build a small demo estate here (local S3 server, restic, three clients with one
    planted problem each) and run the weekly drill on it. Exits 1: the problems are planted."""
    if targets is not None or client:
        raise fail("demo builds its own estate: --targets and --client do not apply (use "
                   "--keep DIR, then --targets DIR/targets with the other commands)", 2)
    console = stderr_console()

    def say(line: str) -> None:
        console.print(f"demo: {visible(line)}", markup=False, highlight=False, soft_wrap=True)

    report, info = guarded(lambda: run_demo(keep, progress=say if show_progress(fmt) else None))
    try:
        emit(report, fmt)
    finally:
        for line in info.summary_lines():
            console.print(visible(line), markup=False, highlight=False, soft_wrap=True)
