"""The options every command shares, their defaults, and loading what they name."""

from __future__ import annotations

import enum
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from backupcheck.checks.selection import CheckSelection, parse_selection
from backupcheck.cli.output import guarded, print_error
from backupcheck.config import BrokenClient, default_plan, load_clients, load_estate, load_plan
from backupcheck.engine import broken_client_result, with_clients
from backupcheck.errors import BackupcheckError
from backupcheck.history import HistoryStore, open_history
from backupcheck.model import Client, Plan, RunReport
from backupcheck.settings import Settings, check_mutes, load_settings, settings_path
from backupcheck.shards import balance_cutoff, drill_seconds, parse_shard, select


class Format(enum.StrEnum):
    table = "table"
    json = "json"


class TrendFormat(enum.StrEnum):
    table = "table"
    json = "json"
    junit = "junit"
    markdown = "markdown"


TargetsOpt = Annotated[Path, typer.Option("--targets", help="Directory of client *.toml files.")]
ClientOpt = Annotated[list[str] | None, typer.Option("--client",
                                                     help="Only this client (repeatable).")]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]
HistoryOpt = Annotated[str | None, typer.Option(
    "--history", metavar="DIR|s3://BUCKET/PREFIX", help="The history: a directory or an S3 "
    "prefix (default: [history] url of the settings, else .backupcheck/history).")]
BalanceHistoryOpt = Annotated[str | None, typer.Option(
    "--history", metavar="DIR|s3://BUCKET/PREFIX", help="History read to balance --shard by "
    "each client's last drill time (default as for drill).")]
SettingsOpt = Annotated[Path | None, typer.Option(
    "--settings", metavar="FILE", help="Installation settings ([notify], [metrics], [mute]; "
    "default: backupcheck.toml beside the targets directory, when there is one).")]
ChecksOpt = Annotated[str | None, typer.Option(
    "--checks", metavar="ID,...", help="Only these checks (comma-separated ids or globs like "
    "s3.*; see list-checks).")]
ExcludeChecksOpt = Annotated[str | None, typer.Option(
    "--exclude-checks", metavar="ID,...", help="Not these checks (ids or globs).")]

DEFAULT_TARGETS = Path("targets")
DEFAULT_HISTORY = Path(".backupcheck/history")
DEFAULT_PLAN = Path("restore_tests/weekly.toml")

ShardOpt = Annotated[str | None, typer.Option(
    "--shard", metavar="I/N", help="Run only the clients of shard I of N (0-based); I=auto "
    "reads JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or AWS_BATCH_JOB_ARRAY_INDEX (AWS "
    "Batch array job).")]

SinceOpt = Annotated[str | None, typer.Option(
    "--since", help="Only drills since this date (2026-11-01), UTC time (2026-11-01T03:00Z) "
    "or age (30d, 2w).")]


def clients_from(targets: Path, client: list[str] | None) -> list[Client]:
    return guarded(lambda: load_clients(targets, client or []))


def estate_from(targets: Path, client: list[str] | None) -> tuple[list[Client],
                                                                   list[BrokenClient]]:
    """The clients that loaded, and the files that did not (see :func:`with_broken`)."""
    return guarded(lambda: load_estate(targets, client or []))


def with_broken(report: RunReport, broken: list[BrokenClient]) -> RunReport:
    """The run's report with each file that did not load as its client's ``config`` error,
    and that error as one line on stderr: the run went on without it (a bad plan or usage,
    which stops a run, is checked first and prints only itself)."""
    for bad in broken:
        print_error(str(bad.error))
    return with_clients(report, [broken_client_result(b.name, b.error) for b in broken])


def shard_of(clients: list[Client], text: str | None, history: HistoryStore | None,
             moment: datetime, broken: list[BrokenClient] | None = None,
             ) -> tuple[list[Client], list[BrokenClient], str]:
    """The clients of ``--shard`` (all of them without it), the files that did not load and
    belong to it (each reported by exactly one shard, split by the same name), and the
    shard's ``I/N`` ("")."""
    broken = list(broken or [])
    if text is None:
        return clients, broken, ""
    shard = guarded(lambda: parse_shard(text))
    weights: dict[str, float] = {}
    if history is not None:
        try:
            weights = drill_seconds(history.read_runs([c.name for c in clients]),
                                    balance_cutoff(moment))
        except BackupcheckError as exc:  # an unreadable history: the hash split still holds
            print_error(f"shard balance without the history: {exc}", "warning")
    chosen = set(select([c.name for c in clients] + [b.name for b in broken], shard, weights))
    return ([c for c in clients if c.name in chosen], [b for b in broken if b.name in chosen],
            str(shard))


def history_from(explicit: str | None, settings: Settings) -> HistoryStore:
    """``--history``, else ``[history] url``, else the default directory; an ``s3://``
    history gets ``[history] profile`` and ``endpoint_url``."""
    chosen = settings.history
    location = explicit or chosen.url or str(DEFAULT_HISTORY)
    return guarded(lambda: open_history(location, profile=chosen.profile,
                                        endpoint_url=chosen.endpoint_url))


def report_settings(explicit: Path | None) -> Settings:
    """Settings for the commands that read only the history (``history``, ``trend``)."""
    return guarded(lambda: load_settings(settings_path(DEFAULT_TARGETS, explicit)))


def settings_from(targets: Path, explicit: Path | None, clients: list[Client],
                  client: list[str] | None) -> Settings:
    """The installation's settings, their mutes checked against every client's targets."""
    def load() -> Settings:
        settings = load_settings(settings_path(targets, explicit))
        if settings.mutes:
            # a mute may name a client this run leaves out: check it against all of them
            check_mutes(settings, load_estate(targets)[0] if client else clients)
        return settings
    return guarded(load)


def selection_from(checks: str | None, exclude: str | None,
                   runnable: tuple[str, ...]) -> CheckSelection:
    return guarded(lambda: parse_selection(checks, exclude, runnable))


def plan_from(path: Path | None, explicit: bool, *, announce: bool = False) -> Plan:
    """The plan ``--plan`` names, else the default file when it exists, else the built-in
    defaults (with ``announce``: said in one line on stderr, as a drill does)."""
    if path is not None and (explicit or path.exists()):
        return guarded(lambda: load_plan(path))
    if announce:
        print_error(f"no plan file {path or DEFAULT_PLAN}: using the built-in defaults",
                    "note")
    return default_plan()
