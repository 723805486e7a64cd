"""The options every command shares, their defaults, and loading what they name."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from backupcheck.cli.output import guarded
from backupcheck.config import default_plan, load_clients, load_plan
from backupcheck.model import Client, Plan


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

DEFAULT_TARGETS = Path("targets")
DEFAULT_HISTORY = Path(".backupcheck/history")
DEFAULT_PLAN = Path("restore_tests/weekly.toml")

SinceOpt = Annotated[str | None, typer.Option(
    "--since", help="Only drills since this date (2026-11-01), UTC time (2026-11-01T03:00Z) "
    "or age (30d, 2w).")]


def clients_from(targets: Path, client: list[str] | None) -> list[Client]:
    return guarded(lambda: load_clients(targets, client or []))


def plan_from(path: Path | None, explicit: bool) -> Plan:
    if path is not None and (explicit or path.exists()):
        return guarded(lambda: load_plan(path))
    return default_plan()
