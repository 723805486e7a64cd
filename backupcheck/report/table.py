"""Rich tables for ``inventory``, ``verify`` and ``drill``: grouped by client, worst first."""

from __future__ import annotations

from collections.abc import Iterable

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from backupcheck.model import ClientResult, RunReport, Status
from backupcheck.report.cause import unopened
from backupcheck.report.text import safe, visible
from backupcheck.restore.standing import Standing, restore_standing
from backupcheck.units import format_duration, human_bytes

STYLE = {Status.PASS: "green", Status.WARN: "yellow", Status.ERROR: "magenta",
         Status.FAIL: "bold red", Status.MUTED: "cyan"}
#: an estimate against the RTO, coloured as ``restore.rto`` judges it (pass, warn, fail)
STANDING_STYLE = {Standing.WITHIN: STYLE[Status.PASS], Standing.AT_RISK: STYLE[Status.WARN],
                  Standing.OVER: STYLE[Status.FAIL]}


def status_text(status: Status) -> Text:
    return Text(str(status).upper(), style=STYLE[status])


def compact(title: str) -> Table:
    """A table without vertical rules: two spaces between columns, so few wide columns fit 80."""
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                 pad_edge=False)


def _worst_first(clients: Iterable[ClientResult]) -> list[ClientResult]:
    return sorted(clients, key=lambda c: (-c.status.severity, c.client))


def checks_table(client: ClientResult) -> Table:
    table = Table(title=f"{visible(client.client)} — {str(client.status).upper()}",
                  title_style=STYLE[client.status], title_justify="left", expand=False)
    table.add_column("target", no_wrap=True)  # whole: a cut name could pass for another
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
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


def restore_table(client: ClientResult) -> RenderableType | None:
    """Few, wide columns (fits 80 columns); bytes, throughput and problems below the table."""
    rows = [t for t in client.targets if t.restore is not None]
    if not rows:
        return None
    table = compact(f"{visible(client.client)} — restore drill")
    table.add_column("target", no_wrap=True)
    for name in ("ok/sampled", "bad", "est. restore", "RTO", "coverage"):
        table.add_column(name, justify="right")
    details: list[RenderableType] = []
    for target in rows:
        r = target.restore
        assert r is not None
        standing = restore_standing(r)
        bad = r.mismatched + r.unreadable
        table.add_row(
            Text(visible(target.target)), f"{r.verified}/{r.sampled}",
            Text(str(bad), style="bold red" if bad else ""),
            Text(format_duration(r.estimated_full_restore_seconds, "table"),
                 style=STANDING_STYLE[standing]) if standing is not None
            else Text("-", style=STYLE[Status.ERROR]),  # no estimate: never a green 0 s
            format_duration(r.rto_seconds, "table"), f"{r.coverage:.1%}")
        details.append(Text(
            f"{visible(target.target)}: snapshot {r.snapshot[:12]} · {r.mismatched} mismatched"
            f" · {r.unreadable} unreadable · {human_bytes(r.bytes)} at "
            f"{human_bytes(r.throughput_bytes_per_s)}/s · ttfb "
            f"{format_duration(r.ttfb_seconds, 'table')}", style="dim", overflow="fold"))
        if standing is not None:
            details.append(Text(
                f"  est. restore {format_duration(r.estimate_low_seconds, 'table')}-"
                f"{format_duration(r.estimate_high_seconds, 'table')} against RTO "
                f"{format_duration(r.rto_seconds, 'table')}: {standing}",
                style=STANDING_STYLE[standing], overflow="fold"))
        for problem in r.problems[:TABLE_PROBLEMS]:
            # fold, never cut: a shortened name could pass for another file
            details.append(Text.assemble(("  ✗ ", "bold red"), (f"{problem.reason}: ", "bold red"),
                                         visible(problem.path), overflow="fold"))
        more = len(r.problems) - TABLE_PROBLEMS
        if more > 0:
            details.append(Text(f"  ✗ … {more} more problems (--format json lists them)",
                                style="bold red", overflow="fold"))
    return Group(table, *details)


def inventory_table(report: RunReport) -> RenderableType:
    """Few, wide columns (fits 80 columns); kind, location, times, versioning and encryption
    on a line per target below the table."""
    table = compact("backup inventory")
    table.add_column("target", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("objects", justify="right", no_wrap=True)
    table.add_column("newest", no_wrap=True)
    table.add_column("lock", no_wrap=True)  # GOVERNANCE / COMPLIANCE stay whole
    details: list[RenderableType] = []
    for client in report.clients:
        for check in client.findings:
            table.add_row(Text(visible(client.client)), "", "",
                          Text("ERROR", style="magenta"), "")
            details.append(Text(f"{visible(client.client)} (client file): ERROR: "
                                f"{visible(check.message)}", style="magenta", overflow="fold"))
        for target in client.targets:
            inv = target.inventory
            if inv is None:
                message = target.checks[0].message if target.checks else "not available"
                table.add_row(Text(visible(target.target)), "", "",
                              Text("ERROR", style="magenta"), "")
                details.append(Text(f"{visible(target.target)}: ERROR: {visible(message)}",
                                    style="magenta", overflow="fold"))
                continue
            lock = inv.lock_mode + (f" {inv.retention_days}d"
                                    if inv.retention_days is not None else "")
            table.add_row(
                Text(visible(target.target)), human_bytes(inv.size_bytes),
                str(inv.count), str(inv.newest or "-")[:10], lock)
            details.append(Text(
                f"{visible(target.target)}: {target.kind} of client {visible(client.client)} · "
                f"{visible(inv.location)} · newest {str(inv.newest or '-')[:19]} · "
                f"oldest {str(inv.oldest or '-')[:19]} · "
                f"retention {inv.retention_days if inv.retention_days is not None else '-'}"
                f"{'d' if inv.retention_days is not None else ''} · versioning "
                f"{inv.versioning} · encryption {visible(inv.encryption)}", style="dim",
                overflow="fold"))
    return Group(table, *details)


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
