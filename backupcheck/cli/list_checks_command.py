"""``list-checks``: the check ids ``--checks``, ``--exclude-checks`` and ``[mute]`` accept."""

from __future__ import annotations

import typer

from backupcheck.checks.registry import CHECKS
from backupcheck.cli.options import Format, FormatOpt
from backupcheck.cli.output import print_output
from backupcheck.report.checks_list import checks_json, checks_table


def list_checks(fmt: FormatOpt = Format.table) -> None:
    """Every check id with its severity, what it fails on and the controls it evidences."""
    print_output(checks_json(CHECKS) if fmt == "json" else checks_table(CHECKS))
    raise typer.Exit(0)
