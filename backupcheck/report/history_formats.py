"""What ``history`` shows: the past drills per client as tables, or as a JSON document.

Client and target names come from configuration and backups and are untrusted: tables show
them through :func:`visible`.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
from rich.console import Group, RenderableType
from rich.text import Text

from backupcheck.clock import as_utc, iso
from backupcheck.history import PARTITION
from backupcheck.model import Status
from backupcheck.report.table import STANDING_STYLE, compact, status_text
from backupcheck.report.text import visible
from backupcheck.restore.standing import row_standing
from backupcheck.trend import NO_DRILLS, HistoryResult
from backupcheck.units import format_duration

HISTORY_SCHEMA = "backupcheck.history/1"

HISTORY_COLUMNS = ("run_id", "started_at", PARTITION, "target", "kind", "status", "plan",
                   "snapshot", "sampled", "verified", "mismatched", "unreadable", "unproven",
                   "bytes", "seconds", "ttfb_seconds", "throughput_bytes_per_s", "total_bytes",
                   "total_files", "estimated_full_restore_seconds", "rto_seconds", "coverage",
                   "estimate_method",
                   # the estimate's interval, restore.rto's judgement (null: a drill from
                   # before intervals, judged on its point)
                   "estimate_low_seconds", "estimate_high_seconds")


def history_document(runs: pa.Table) -> dict[str, Any]:
    rows = []
    for row in runs.select(list(HISTORY_COLUMNS)).to_pylist():
        row["started_at"] = iso(row["started_at"])
        rows.append(row)
    return {"schema": HISTORY_SCHEMA, "runs": rows}


def history_table(runs: pa.Table) -> RenderableType:
    by_client: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in runs.to_pylist():
        by_client.setdefault((row[PARTITION], row["target"]), []).append(row)
    tables: list[RenderableType] = []
    for (client, target), rows in sorted(by_client.items()):
        # one table per target: its name in the title, whole, never a squeezed column
        table = compact(f"{visible(client)} — drill history of {visible(target)}")
        table.add_column("date (UTC)", no_wrap=True)  # whole ISO minute, never cut
        table.add_column("status", no_wrap=True)
        for name in ("ok/sampled", "bad", "est. restore", "RTO", "coverage"):
            table.add_column(name, justify="right", no_wrap=True)
        for row in sorted(rows, key=lambda r: r["started_at"]):
            estimate, rto = row["estimated_full_restore_seconds"], row["rto_seconds"]
            standing = row_standing(row)  # as restore.rto judged it, on the interval
            try:
                status = status_text(Status(row["status"]))
            except ValueError:
                status = Text(visible(row["status"] or "-"))
            bad = None if row["mismatched"] is None and row["unreadable"] is None else (
                (row["mismatched"] or 0) + (row["unreadable"] or 0))
            table.add_row(
                as_utc(row["started_at"]).strftime("%Y-%m-%d %H:%M"), status,
                f"{_int(row['verified'])}/{_int(row['sampled'])}",
                Text(_int(bad), style="bold red" if bad else ""),
                Text(format_duration(estimate, "table"),
                     style=STANDING_STYLE[standing] if standing is not None else ""),
                format_duration(rto, "table"),
                f"{row['coverage']:.1%}" if row["coverage"] is not None else "-")
        tables.append(table)
    return Group(*tables)


def _int(value: Any) -> str:
    return "-" if value is None else str(value)


def render_history(runs: pa.Table, fmt: str) -> RenderableType | str:
    if fmt == "json":
        return json.dumps(history_document(runs), indent=2, ensure_ascii=False)
    return history_table(runs)


def history_output(result: HistoryResult, fmt: str) -> RenderableType | str:
    """What ``backupcheck history`` shows for ``result`` in ``fmt``: a note when an empty
    history would be an empty table."""
    if result.runs.num_rows == 0 and fmt == "table":
        return (f"{NO_DRILLS} (looked in {result.history}"
                + (" for these clients" if result.clients else "")
                + (f" since {result.since:%Y-%m-%d %H:%M}Z" if result.since else "") + ")")
    return render_history(result.runs, fmt)
