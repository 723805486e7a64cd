"""What a ``verify`` or ``drill`` does around its report: accepted risks (``[mute]``) applied,
then, once the report is out, the metrics, the notification and the healthcheck's end.

None of it changes a run's exit code except an expired mute, which is a configuration error
(exit 2 unless something failed: the lowest non-zero code of 1, 2, 3 wins). A delivery that
fails is one warning line on stderr.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import typer

from backupcheck.alerts import metrics, notify
from backupcheck.alerts.healthcheck import Healthcheck
from backupcheck.cli.output import guarded, print_error, show
from backupcheck.clock import now_utc
from backupcheck.model import RunReport
from backupcheck.mutes import Mute, apply_mutes, expired
from backupcheck.report.notification import run_message, summary_line
from backupcheck.settings import Settings

T = TypeVar("T")
#: exit codes of a run stopped by SIGINT / SIGTERM: nothing is sent after them
INTERRUPTED = (130, 143)


def combined_exit(*codes: int) -> int:
    """SPEC: when several of 1, 2, 3 apply, the lowest non-zero one wins."""
    failing = [c for c in codes if c]
    return min(failing) if failing else 0


def stdout_path() -> str | None:
    """The file stdout is redirected to (``drill > report.json``), the run's full report."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        fd = sys.stdout.fileno()
        if stat.S_ISREG(os.fstat(fd).st_mode):
            return os.readlink(f"/proc/self/fd/{fd}")
    return None


def warn(message: str) -> None:
    print_error(message, level="warning")


@dataclass
class RunAlerts:
    """The alerts of one run, from its start to its end."""

    settings: Settings
    ping: Healthcheck | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def begin(cls, settings: Settings) -> RunAlerts:
        """Before the run: the healthcheck's ``/start``."""
        url = settings.notify.healthcheck_url
        alerts = cls(settings, Healthcheck(url) if url else None)
        if alerts.ping is not None and (problem := alerts.ping.start()):
            warn(problem)
        return alerts

    def guarded(self, action: Callable[[], T]) -> T:
        """``output.guarded``; a run that stops on an error still ends its healthcheck."""
        try:
            return guarded(action)
        except typer.Exit as stop:
            self.end(None, stop.exit_code)
            raise

    def muted(self, report: RunReport) -> tuple[RunReport, list[Mute]]:
        """The report with the accepted risks muted, and the mutes that have expired."""
        today = now_utc().date()
        gone = expired(self.settings.mutes, today)
        self.notes += [f"mute {m.key} expired on {m.until.isoformat()}" for m in gone]
        return apply_mutes(report, self.settings.mutes, today), gone

    def end(self, report: RunReport | None, code: int) -> None:
        """After the report is out: metrics, the notification, the healthcheck's end."""
        if code in INTERRUPTED:
            return  # stop at once; the healthcheck service notices the missing end
        body = ""
        if report is not None:
            for problem in metrics.publish(report, self.settings.metrics.textfile,
                                           self.settings.metrics.pushgateway):
                warn(problem)
            message = run_message(report, self.settings.notify.on,
                                  report_path=stdout_path(), notes=self.notes)
            if message is not None and self.settings.notify.urls:
                for problem in notify.send(message, self.settings.notify.urls):
                    warn(problem)
            body = message.body if message is not None else summary_line(report)
        if self.ping is not None:
            body = body or f"backupcheck stopped with exit code {code} before a report"
            if ended := self.ping.finish(code == 0, body):
                warn(ended)


def finish_run(report: RunReport, fmt: str, alerts: RunAlerts,
               record: Callable[[RunReport], object] | None = None) -> None:
    """Mute, show, record (a drill), alert, exit: the end of every verify and drill."""
    report, gone = alerts.muted(report)
    code = report.exit_code
    try:
        show(report, fmt)
    finally:
        if record is not None:
            try:
                # the report is out first: a history that cannot be written never costs it
                guarded(lambda: record(report))
            except typer.Exit as stop:
                code = combined_exit(code, stop.exit_code)
    for mute in gone:  # after the report, like every other error of the run
        print_error(str(mute.expired_error()))
    code = combined_exit(code, 2 if gone else 0)
    alerts.end(report, code)
    raise typer.Exit(code)
