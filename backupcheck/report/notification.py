"""A run as one short chat message: title, a few lines, worst client first.

Sized for the strictest common chat service (Discord's 2,000 characters; SMS gateways cut
earlier and keep the title): at most :data:`MAX_FINDINGS` finding lines of at most
:data:`MAX_LINE` characters each, the rest counted, not listed. Plain text, no markup: every
service shows it as written. Messages come from backups an attacker may control, so control
characters are made visible.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from backupcheck.model import RunReport, Status
from backupcheck.report.text import visible

MAX_FINDINGS = 12
MAX_LINE = 160
MAX_BODY = 1800


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    status: Status


def _short(text: str, limit: int = MAX_LINE) -> str:
    text = " ".join(visible(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _listed(on: Collection[Status]) -> frozenset[Status]:
    """The finding statuses a message lists: failures and errors, warnings when asked for."""
    listed = {Status.FAIL, Status.ERROR}
    if Status.WARN in on:
        listed.add(Status.WARN)
    return frozenset(listed)


def summary_line(report: RunReport, on: Collection[Status] = ()) -> str:
    """``drill FAIL: 2 of 3 clients need attention (6 targets)``: clients with a failure or
    an error, or a warning too when ``on`` names warnings."""
    listed = _listed(on)
    clients = len(report.clients)
    targets = sum(len(c.targets) for c in report.clients)
    bad = sum(1 for c in report.clients if c.status in listed)
    state = (f"{bad} of {clients} client{'s' if clients != 1 else ''} need attention" if bad
             else f"{clients} client{'s' if clients != 1 else ''} passed")
    return (f"{report.command} {str(report.status).upper()}: {state} "
            f"({targets} target{'s' if targets != 1 else ''})")


def run_message(report: RunReport, on: Collection[Status], *, report_path: str | None = None,
                notes: Sequence[str] = ()) -> Message | None:
    """The run's message, or None when its status is not one of ``on``."""
    if report.status not in on:
        return None
    listed = _listed(on)
    lines: list[str] = []
    shown = hidden = 0
    for client in sorted(report.clients, key=lambda c: (-c.status.severity, c.client)):
        findings = [(t.target, f) for t in sorted(client.targets,
                                                   key=lambda t: (-t.status.severity, t.target))
                    for f in sorted(t.checks, key=lambda f: -f.status.severity)
                    if f.status in listed]
        if not findings:
            continue
        if shown < MAX_FINDINGS:
            lines.append(f"{str(client.status).upper()} {_short(client.client, 60)}")
        for target, found in findings:
            if shown >= MAX_FINDINGS:
                hidden += 1
                continue
            shown += 1
            lines.append(_short(f"- {str(found.status).upper()} {target} {found.id}: "
                                f"{found.message}"))
    if hidden:
        lines.append(f"… and {hidden} more finding{'s' if hidden != 1 else ''}")
    footer = [_short(f"note: {note}") for note in notes[:3]]
    if report_path:
        footer.append(_short(f"full report: {report_path}", 400))
    body = "\n".join(lines) or summary_line(report, on)
    room = MAX_BODY - sum(len(line) + 1 for line in footer)
    if len(body) > room:  # cut findings, never the footer
        body = body[: room - 2].rsplit("\n", 1)[0] + "\n…"
    body = "\n".join([body, *footer])
    return Message(title=f"backupcheck {summary_line(report, on)}", body=body,
                   status=report.status)
