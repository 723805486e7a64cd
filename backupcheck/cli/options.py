"""The options every command shares, their defaults, and loading what they name."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from backupcheck.checks.selection import CheckSelection, parse_selection
from backupcheck.cli.output import guarded, print_error
from backupcheck.config import BrokenClient, default_plan, load_clients, load_estate, load_plan
from backupcheck.engine import broken_client_result, with_clients
from backupcheck.model import Client, Plan, RunReport
from backupcheck.settings import Settings, check_mutes, load_settings, settings_path


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
HistoryOpt = Annotated[Path, typer.Option("--history", help="History directory.")]
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


def plan_from(path: Path | None, explicit: bool) -> Plan:
    if path is not None and (explicit or path.exists()):
        return guarded(lambda: load_plan(path))
    return default_plan()
