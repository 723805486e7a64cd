"""``list-checks``: every check of the registry with its severity, what it fails on and the
compliance controls it evidences, as a table or as JSON (``backupcheck.checks/1``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from backupcheck.checks.registry import CheckSpec
from backupcheck.report.jsonout import dumps

SCHEMA = "backupcheck.checks/1"
#: what a check's kind means to the reader of the list
APPLIES_TO = {"s3": "s3", "restic": "restic", "restore": "drill (both)", "client": "client file"}
SEVERITY_STYLE = {"fail": "bold red", "warn": "yellow", "error": "magenta"}


def checks_json(checks: Sequence[CheckSpec]) -> str:
    document: dict[str, Any] = {"schema": SCHEMA, "checks": [
        {"id": c.id, "kind": c.kind, "severity": c.severity, "fails_on": c.fails_on,
         "controls": list(c.controls), "pillar": c.pillar} for c in checks]}
    return dumps(document)


def checks_table(checks: Sequence[CheckSpec]) -> Table:
    table = Table(title="checks", title_justify="left")
    for name in ("id", "applies to", "severity", "fails when", "controls"):
        table.add_column(name, overflow="fold", no_wrap=name == "id")
    for c in checks:
        table.add_row(c.id, APPLIES_TO[c.kind], Text(c.severity, style=SEVERITY_STYLE[c.severity]),
                      c.fails_on, ", ".join(c.controls) or "—")
    return table
