"""The commands that report: ``audit`` (the evidence pack), ``history`` and ``trend``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from backupcheck.audit.fleet import FleetResult
from backupcheck.audit.model import AuditOptions
from backupcheck.cli.alerts import combined_exit
from backupcheck.cli.options import (
    DEFAULT_PLAN,
    DEFAULT_TARGETS,
    ClientOpt,
    Format,
    FormatOpt,
    HistoryOpt,
    SettingsOpt,
    SinceOpt,
    TargetsOpt,
    TrendFormat,
    clients_from,
    estate_from,
    history_from,
    plan_from,
    report_settings,
    settings_from,
)
from backupcheck.cli.output import (
    fail,
    guarded,
    print_error,
    print_output,
    progress_bar,
    show_progress,
    stdout_console,
)
from backupcheck.clock import now_utc
from backupcheck.commands.history import history_command
from backupcheck.commands.options import check_seed
from backupcheck.commands.trend import trend_command
from backupcheck.mutes import expired
from backupcheck.report.history_formats import history_output
from backupcheck.report.table import STYLE
from backupcheck.report.text import visible
from backupcheck.report.trend_formats import trend_output
from backupcheck.units import parse_duration

#: where ``--sign-key``'s passphrase comes from (a secret never reaches argv)
PASSPHRASE_ENV = "BACKUPCHECK_SIGN_KEY_PASSPHRASE"


def audit(
    ctx: typer.Context,
    client: Annotated[str | None, typer.Option("--client", help="The client to audit.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every client: a pack per client under "
                                        "DIR/CLIENT/ and the fleet overview DIR/index.html."
                                        )] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Directory for report.html, "
                                             "report.json and SHA256SUMS (created when "
                                             "missing).")] = None,
    targets: TargetsOpt = DEFAULT_TARGETS,
    fmt: FormatOpt = Format.table,
    history: HistoryOpt = None,
    plan: Annotated[Path, typer.Option("--plan", help="Restore plan (for --run-drill and "
                                       "restic check).")] = DEFAULT_PLAN,
    run_drill: Annotated[bool, typer.Option("--run-drill", help="Run a drill now and use it "
                                            "(recorded into the history).")] = False,
    from_history: Annotated[bool, typer.Option(
        "--from-history", help="Restore figures from the newest drill in the history, policy "
        "checks run now (the default).")] = False,
    seed: Annotated[int | None, typer.Option("--seed", help="With --run-drill: reproducible "
                                             "sample seed.")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="With --run-drill: "
                                             "parallel restore streams per target.")] = None,
    no_history: Annotated[bool, typer.Option("--no-history", help="With --run-drill: do not "
                                             "record the drill.")] = False,
    settings: SettingsOpt = None,
    max_drill_age: Annotated[str, typer.Option(
        "--max-drill-age", metavar="DURATION", help="Restore figures of an older drill are no "
        "evidence: restore.* become error (exit 3).")] = "8d",
    sign_key: Annotated[Path | None, typer.Option(
        "--sign-key", metavar="FILE", help="OpenSSH Ed25519 private key: sign SHA256SUMS "
        f"into SHA256SUMS.sig (passphrase from ${PASSPHRASE_ENV}).")] = None,
) -> None:
    """Evidence pack for one client: report.html, report.json and SHA256SUMS (--all: every
    client, plus the fleet overview index.html).

    `backupcheck audit verify DIR` checks a pack."""
    if ctx.invoked_subcommand is not None:
        return
    # the audit's own modules (signing: cryptography, bcrypt) load when an audit runs, not
    # with every command of the CLI
    from backupcheck.audit.sshsig import load_signing_key
    from backupcheck.commands.audit import audit_steps, build_audit_pack
    from backupcheck.commands.fleet import build_fleet

    if out is None or (client is None) == (not every):
        raise fail("audit needs --out DIR and either --client NAME or --all", 2)
    if run_drill and from_history:
        raise fail("--run-drill and --from-history exclude each other", 2)
    if not run_drill and (seed is not None or jobs is not None or no_history):
        raise fail("--seed, --jobs and --no-history need --run-drill", 2)
    guarded(lambda: check_seed(seed))
    try:
        max_age = parse_duration(max_drill_age)
    except ValueError as exc:
        raise fail(f"--max-drill-age: {exc}", 2) from None
    signing_key = guarded(lambda: load_signing_key(sign_key, passphrase())) \
        if sign_key is not None else None
    if every:
        chosen, broken = estate_from(targets, None)
        installation = settings_from(targets, settings, chosen, None)
    else:
        chosen, broken = clients_from(targets, [client or ""]), []
        installation = settings_from(targets, settings, chosen, [client or ""])
    mutes = installation.mutes
    gone = expired(mutes, now_utc().date())
    chosen_plan = plan_from(plan, plan != DEFAULT_PLAN)
    options = AuditOptions(
        out=out, history_dir=history_from(history, installation), plan=chosen_plan,
        run_drill=run_drill,
        record_history=not no_history, seed=seed, jobs=jobs, targets_dir=targets,
        plan_path=plan if plan.exists() else None, mutes=mutes, max_drill_age_seconds=max_age,
        signing_key=signing_key)
    if every:
        steps = sum(audit_steps(c) for c in chosen)
        with progress_bar("audit", steps, show_progress(fmt)) as progress:
            fleet = guarded(lambda: build_fleet(chosen, broken, options, progress=progress))
        show_fleet(fleet, fmt.value)
        for mute in gone:
            print_error(str(mute.expired_error()))
        raise typer.Exit(combined_exit(fleet.exit_code, 2 if gone else 0))
    (chosen_client,) = chosen
    with progress_bar("audit", audit_steps(chosen_client), show_progress(fmt)) as progress:
        result = guarded(lambda: build_audit_pack(chosen_client, options, progress=progress))
    if fmt == "json":
        sys.stdout.write(result.document)
        sys.stdout.flush()
    else:
        console = stdout_console()
        first, *rest = result.summary_lines()
        console.print(visible(first), style=STYLE[result.verdict.status], markup=False)
        for line in rest:
            console.print(visible(line), markup=False)
    for mute in gone:  # an expired accepted risk is a configuration error (exit 2)
        print_error(str(mute.expired_error()))
    raise typer.Exit(combined_exit(result.exit_code, 2 if gone else 0))


def show_fleet(fleet: FleetResult, fmt: str) -> None:
    """One line per client, worst first (JSON: the rows), then where the overview is."""
    if fmt == "json":
        rows = [{"client": r.client, "status": str(r.status), "exit_code": r.exit_code,
                 "headline": r.headline, "headroom_seconds": r.headroom_seconds,
                 "high_headroom_seconds": r.high_headroom_seconds,
                 "rto_standing": r.rto_standing or None,
                 "coverage": r.coverage, "drill_age_seconds": r.drill_age_seconds,
                 "open_findings": r.open_findings, "pack": r.link or None}
                for r in fleet.rows]
        sys.stdout.write(json.dumps({"index": str(fleet.index), "exit_code": fleet.exit_code,
                                     "clients": rows}, indent=2) + "\n")
        sys.stdout.flush()
        return
    console = stdout_console()
    for row in fleet.rows:
        console.print(visible(f"{row.client}: {row.headline}"), style=STYLE[row.status],
                      markup=False)
    console.print(visible(f"wrote {fleet.index}"), markup=False)


def passphrase() -> bytes | None:
    """The signing key's passphrase: from the environment, never from the command line."""
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def audit_verify(
    directory: Annotated[Path, typer.Argument(help="The pack's directory.")],
    allowed: Annotated[Path | None, typer.Option(
        "--allowed-signers", metavar="FILE", help="ssh-keygen allowed_signers file: the "
        "pack must be signed by one of its keys.")] = None,
) -> None:
    """Check a pack: every file against SHA256SUMS, and SHA256SUMS.sig's signature."""
    from backupcheck.audit.verify_pack import verify_pack  # the signing loads here

    result = guarded(lambda: verify_pack(directory, allowed))
    console = stdout_console()
    for line in result.lines():
        console.print(visible(line), markup=False)
    raise typer.Exit(result.exit_code)


def history(
    history_dir: HistoryOpt = None,
    client: ClientOpt = None,
    since: SinceOpt = None,
    fmt: FormatOpt = Format.table,
    settings: SettingsOpt = None,
) -> None:
    """Past drills per client and target: throughput, estimated full restore vs RTO."""
    store = history_from(history_dir, report_settings(settings))
    result = guarded(lambda: history_command(store, client, since, fmt.value))
    print_output(guarded(lambda: history_output(result, fmt.value)))
    raise typer.Exit(0)


def trend(
    history_dir: HistoryOpt = None,
    client: ClientOpt = None,
    settings: SettingsOpt = None,
    fmt: Annotated[TrendFormat, typer.Option("--format", help="Output format.")] = (
        TrendFormat.table),
    out: Annotated[Path | None, typer.Option("--out", help="Write the output to this file "
                                             "instead of stdout.")] = None,
    fail_on_regression: Annotated[float | None, typer.Option(
        "--fail-on-regression", metavar="PCT", help="Fail when the latest estimated restore "
        "time is PCT percent above the median of the previous runs (and at least "
        "--regression-floor longer).")] = None,
    regression_floor: Annotated[str, typer.Option(
        "--regression-floor", metavar="DURATION", help="A regression is also at least this "
        "much longer than the median (sub-second jitter is not one).")] = "5m",
    chart: Annotated[Path | None, typer.Option("--chart", help="Also draw the trend chart "
                                               "(FILE.png or FILE.svg).")] = None,
) -> None:
    """RTO trend per client and target for CI; exit 1 on an RTO breach or a regression."""
    store = history_from(history_dir, report_settings(settings))
    result = guarded(lambda: trend_command(store, client, fmt.value,
                                           fail_on_regression, chart, regression_floor))
    output = guarded(lambda: trend_output(result, fmt.value, out, chart))
    print_output(output, to_stderr=out is not None)  # with --out, stdout stays empty
    raise typer.Exit(result.exit_code)
