"""RTO trends from the drill history, and the cores of the ``history`` and ``trend`` commands.

Per client and target, the series of estimated full-restore times is compared with the
median of the earlier runs (a *regression* when the latest is more than PCT % above it) and
with the client's RTO (a *breach* when the latest estimate exceeds it). Both commands read
nothing but the history; they return what to show and the exit code, and never print.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import RenderableType

from backupcheck.errors import UsageError
from backupcheck.history import PARTITION, HistoryStore, utc
from backupcheck.model import Status

TREND_FORMATS = ("table", "json", "junit", "markdown")
HISTORY_FORMATS = ("table", "json")
CHART_SUFFIXES = (".png", ".svg")
NO_DRILLS = "no drills in history"

Output = RenderableType | str


@dataclass(frozen=True)
class Trend:
    """The estimated full-restore time of one client's target over its drills."""

    client: str
    target: str
    kind: str
    #: (drill start, estimated full restore seconds), oldest first
    series: tuple[tuple[datetime, float], ...]
    rto_seconds: float | None
    median_previous: float | None
    change_pct: float | None
    regressed: bool
    breached: bool
    #: the --fail-on-regression threshold this trend was judged with (None: not judged)
    threshold_pct: float | None = None
    #: how long the latest drill's sample restore itself took
    latest_drill_seconds: float = 0.0
    #: the latest drill's own status (pass/warn/error/fail) as recorded in the history
    latest_drill_status: str = ""

    @property
    def latest(self) -> float:
        return self.series[-1][1]

    @property
    def latest_at(self) -> datetime:
        return self.series[-1][0]

    @property
    def runs(self) -> int:
        return len(self.series)

    @property
    def headroom_seconds(self) -> float | None:
        return None if self.rto_seconds is None else self.rto_seconds - self.latest

    @property
    def headroom_pct(self) -> float | None:
        if self.rto_seconds is None or self.rto_seconds <= 0:
            return None
        return (self.rto_seconds - self.latest) / self.rto_seconds * 100.0

    @property
    def status(self) -> Status:
        return Status.FAIL if self.regressed or self.breached else Status.PASS


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def compute_trends(runs: pa.Table, fail_on_regression_pct: float | None) -> list[Trend]:
    """One :class:`Trend` per client and target of ``runs`` (a RUNS_SCHEMA table).

    Rows without a finite estimate are skipped. A regression needs at least one earlier run.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in runs.to_pylist():
        if _finite(row.get("estimated_full_restore_seconds")) is None:
            continue
        groups.setdefault((row[PARTITION], row["target"]), []).append(row)
    trends: list[Trend] = []
    for (client, target), rows in sorted(groups.items()):
        rows.sort(key=lambda r: (r["started_at"], r["run_id"]))
        series = tuple((utc(r["started_at"]), float(r["estimated_full_restore_seconds"]))
                       for r in rows)
        latest_row = rows[-1]
        latest = series[-1][1]
        previous = [value for _, value in series[:-1]]
        median_previous = statistics.median(previous) if previous else None
        change_pct = None
        if median_previous is not None and median_previous > 0:
            change_pct = (latest - median_previous) / median_previous * 100.0
        regressed = (fail_on_regression_pct is not None and median_previous is not None
                     and latest > median_previous * (1 + fail_on_regression_pct / 100.0))
        rto = _finite(latest_row.get("rto_seconds"))
        rto = rto if rto is not None and rto > 0 else None
        trends.append(Trend(
            client=client, target=target, kind=str(latest_row.get("kind") or ""),
            series=series, rto_seconds=rto, median_previous=median_previous,
            change_pct=change_pct, regressed=regressed,
            breached=rto is not None and latest > rto, threshold_pct=fail_on_regression_pct,
            latest_drill_seconds=_finite(latest_row.get("seconds")) or 0.0,
            latest_drill_status=str(latest_row.get("status") or "")))
    return trends


def trend_exit_code(trends: Sequence[Trend]) -> int:
    """1 when any target regressed or breaches its RTO, else 0."""
    return 1 if any(t.status is Status.FAIL for t in trends) else 0


# ---------------------------------------------------------------- command cores

_DURATION = re.compile(r"^\d+(\.\d+)?\s*[smhdw]$")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``--since``: a date (``2026-11-01``), a UTC timestamp, or an age like ``30d``/``2w``."""
    value = text.strip()
    if _DURATION.match(value):
        from backupcheck.config import parse_duration

        try:
            return (now or datetime.now(UTC)) - timedelta(seconds=parse_duration(value))
        except ValueError as exc:
            raise UsageError(f"--since: {exc}") from None
    try:
        return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise UsageError(f"--since: cannot parse {text!r} (write a date like 2026-11-01, "
                         "a time like 2026-11-01T03:00Z, or an age like 30d)") from None


def _check_format(fmt: str, allowed: Sequence[str]) -> str:
    if fmt not in allowed:
        raise UsageError(f"--format: {fmt!r} is not one of {', '.join(allowed)}")
    return fmt


def history_command(history: Path, clients: Sequence[str] | None = None,
                    since: str | None = None, fmt: str = "table") -> tuple[Output, int]:
    """``backupcheck history``: past drills per client and target. Exit 0 unless it fails."""
    from backupcheck.report.trend_formats import render_history

    _check_format(fmt, HISTORY_FORMATS)
    moment = parse_since(since) if since else None
    runs = HistoryStore(history).read_runs(list(clients) if clients else None, moment)
    if runs.num_rows == 0 and fmt == "table":
        return f"{NO_DRILLS} (looked in {history}" + (" for these clients" if clients else "") + \
            (f" since {moment:%Y-%m-%d %H:%M}Z" if moment else "") + ")", 0
    return render_history(runs, fmt), 0


def trend_command(history: Path, clients: Sequence[str] | None = None, fmt: str = "table",
                  out: Path | None = None, fail_on_regression: float | None = None,
                  chart: Path | None = None) -> tuple[Output, int]:
    """``backupcheck trend``: RTO trends; exit 1 on a regression (when asked) or breach.

    ``out`` receives the rendered output (tables as plain text) and the returned output is
    then a one-line note; ``chart`` receives a PNG or SVG chart.
    """
    from backupcheck.report.trend_formats import plain_text, render_trend

    _check_format(fmt, TREND_FORMATS)
    if fail_on_regression is not None and not (math.isfinite(fail_on_regression)
                                               and fail_on_regression >= 0):
        raise UsageError(f"--fail-on-regression: expected a percentage >= 0, "
                         f"got {fail_on_regression!r}")
    if chart is not None and chart.suffix.lower() not in CHART_SUFFIXES:
        raise UsageError(f"--chart: {chart} must end in .png or .svg")
    runs = HistoryStore(history).read_runs(list(clients) if clients else None)
    trends = compute_trends(runs, fail_on_regression)
    code = trend_exit_code(trends)
    if chart is not None:
        from backupcheck.report.chart import render_chart

        render_chart(trends, chart)
    if not trends and fmt == "table" and out is None:
        return f"{NO_DRILLS} (looked in {history})", 0
    rendered = render_trend(trends, fmt, fail_on_regression)
    if out is None:
        return rendered, code
    text = rendered if isinstance(rendered, str) else plain_text(rendered)
    try:
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    failing = sum(1 for t in trends if t.status is Status.FAIL)
    note = (f"wrote {out} ({len(trends)} targets, {failing} failing)" if trends
            else f"wrote {out} ({NO_DRILLS})")
    return note, code
