"""Rich tables for ``inventory``, ``verify`` and ``drill``: grouped by client, worst first."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from backupcheck.model import ClientResult, RunReport, Status
from backupcheck.report.cause import unopened
from backupcheck.report.text import safe, visible
from backupcheck.units import format_duration, human_bytes

STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.ERROR: "magenta",
         Status.FAIL: "bold red", Status.MUTED: "cyan"}


def status_text(status: Status) -> Text:
    return Text(str(status).upper(), style=STYLE[status])


def _worst_first(clients: Iterable[ClientResult]) -> list[ClientResult]:
    return sorted(clients, key=lambda c: (-c.status.severity, c.client))


def checks_table(client: ClientResult) -> Table:
    table = Table(title=f"{visible(client.client)} — {str(client.status).upper()}",
                  title_style=STYLE[client.status], title_justify="left", expand=False)
    table.add_column("target")
    table.add_column("check")
    table.add_column("status")
    table.add_column("message", overflow="fold")
    for check in client.findings:  # the client's own: its file could not be loaded
        message = Text(visible(check.message))
        if check.hint:
            message.append(f"\n→ {check.hint}", style="dim italic")
        table.add_row(Text("(client file)", style="italic"), check.id,
                      status_text(check.status), message)
    for target in sorted(client.targets, key=lambda t: (-t.status.severity, t.target)):
        closed = unopened(target)
        if closed is not None:  # one row for the cause, not one per check it stopped
            message = Text(f"cannot be opened: {visible(closed.cause)}")
            message.append(f"\n→ {closed.advice}", style="dim italic")
            table.add_row(Text(visible(target.target)), f"all {len(closed.checks)} checks",
                          status_text(Status.ERROR), message)
        for check in sorted(target.checks, key=lambda f: -f.status.severity):
            if closed is not None and check in closed.checks:
                continue
            message = Text.from_markup(safe(check.message))
            if check.muted is not None:
                message = Text.assemble(
                    (f"{str(check.muted.status).upper()}: ", STYLE[check.muted.status]),
                    message, (f"\nmuted until {check.muted.until}: {visible(check.muted.reason)}",
                              "cyan italic"))
            elif check.status in (Status.FAIL, Status.ERROR) and check.hint:
                message.append(f"\n→ {check.hint}", style="dim italic")
            table.add_row(Text(visible(target.target)), check.id, status_text(check.status),
                          message)
    return table


#: problem rows shown per target; a backup missing thousands of files stays one screen
TABLE_PROBLEMS = 20


def restore_table(client: ClientResult) -> Table | None:
    rows = [t for t in client.targets if t.restore is not None]
    if not rows:
        return None
    table = Table(title=f"{visible(client.client)} — restore drill", title_justify="left")
    for name in ("target", "snapshot", "sampled", "ok", "mismatch", "unreadable", "bytes",
                 "throughput", "ttfb", "est. full restore", "RTO", "coverage"):
        table.add_column(name, justify="left" if name in ("target", "snapshot") else "right")
    for target in rows:
        r = target.restore
        assert r is not None
        over = r.estimated_full_restore_seconds > r.rto_seconds
        table.add_row(
            Text(visible(target.target)), r.snapshot[:12], str(r.sampled), str(r.verified),
            Text(str(r.mismatched), style="bold red" if r.mismatched else ""),
            Text(str(r.unreadable), style="bold red" if r.unreadable else ""),
            human_bytes(r.bytes), f"{human_bytes(r.throughput_bytes_per_s)}/s",
            format_duration(r.ttfb_seconds, "table"),
            Text(format_duration(r.estimated_full_restore_seconds, "table"),
                 style="bold red" if over else "green"),
            format_duration(r.rto_seconds, "table"), f"{r.coverage:.1%}")
    for target in rows:
        assert target.restore is not None
        problems = target.restore.problems
        for problem in problems[:TABLE_PROBLEMS]:
            table.add_row(Text(visible(target.target)), Text(f"✗ {problem.reason}",
                          style="bold red"),
                          # fold, never cut: a shortened name could pass for another file
                          Text(visible(problem.path), overflow="fold"), "", "", "", "", "",
                          "", "", "", "")
        more = len(problems) - TABLE_PROBLEMS
        if more > 0:
            table.add_row(Text(visible(target.target)), Text("✗ …", style="bold red"),
                          f"{more} more problems (--format json lists them)", "", "", "",
                          "", "", "", "", "", "")
    return table


def inventory_table(report: RunReport) -> Table:
    table = Table(title="backup inventory", title_justify="left")
    for name in ("client", "target", "kind", "location", "size", "objects/snapshots",
                 "newest", "oldest", "lock", "retention", "versioning", "encryption"):
        table.add_column(name, overflow="fold")
    for client in report.clients:
        for check in client.findings:
            table.add_row(Text(visible(client.client)), "", "config",
                          Text(f"ERROR: {visible(check.message)}", style="magenta"))
        for target in client.targets:
            inv = target.inventory
            if inv is None:
                message = target.checks[0].message if target.checks else "not available"
                table.add_row(Text(visible(client.client)), Text(visible(target.target)),
                              target.kind, Text(f"ERROR: {visible(message)}", style="magenta"))
                continue
            table.add_row(
                Text(visible(client.client)), Text(visible(target.target)), target.kind,
                Text(visible(inv.location)), human_bytes(inv.size_bytes), str(inv.count),
                str(inv.newest or "-")[:19], str(inv.oldest or "-")[:19], inv.lock_mode,
                f"{inv.retention_days}d" if inv.retention_days is not None else "-",
                inv.versioning, Text(visible(inv.encryption)))
    return table


def render_table(report: RunReport) -> RenderableType:
    parts: list[RenderableType] = []
    if report.command == "inventory":
        parts.append(inventory_table(report))
    for client in _worst_first(report.clients):
        if report.command != "inventory" or client.findings or any(t.checks for t in
                                                                     client.targets):
            parts.append(checks_table(client))
        restore = restore_table(client)
        if restore is not None:
            parts.append(restore)
    parts.append(Text.assemble("overall: ", status_text(report.status),
                               f"  ({len(report.clients)} clients, "
                               f"{sum(len(c.targets) for c in report.clients)} targets)"))
    return Group(*parts)


def print_table(report: RunReport, console: Console) -> None:
    console.print(render_table(report))
