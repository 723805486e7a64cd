"""RTO trends, and the values the ``history`` and ``trend`` commands return.

Per client and target, the series of estimated full-restore times is compared with the
median of the earlier runs (a *regression* when the latest is more than PCT % above it *and*
at least the regression floor longer, so sub-second jitter never fails a fast restore) and
with the client's RTO as ``restore.rto`` judges it (:mod:`backupcheck.restore.standing`): a
*breach* when even the low end of the latest estimate's interval exceeds it, *at risk* (a
warning, never a failure) when only the high end does; a row from before intervals is judged
on its point estimate. This module is the
model: :mod:`backupcheck.commands` fills these values from the history, and the renderers
(:mod:`backupcheck.report.trend_formats`, :mod:`backupcheck.report.history_formats`,
:mod:`backupcheck.report.chart`) show them; it imports neither.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from backupcheck.clock import as_utc
from backupcheck.history import PARTITION
from backupcheck.model import Status
from backupcheck.restore.standing import Standing, row_interval, row_standing

TREND_FORMATS = ("table", "json", "junit", "markdown")
HISTORY_FORMATS = ("table", "json")
CHART_SUFFIXES = (".png", ".svg")
NO_DRILLS = "no drills in history"
#: ``--regression-floor``'s default: a regression is at least this many seconds longer
DEFAULT_REGRESSION_FLOOR = "5m"


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
    #: even the low end of the latest estimate's interval exceeds the RTO (``restore.rto``
    #: fails); a row from before intervals: its point does
    breached: bool
    #: the --fail-on-regression threshold this trend was judged with (None: not judged)
    threshold_pct: float | None = None
    #: the --regression-floor this trend was judged with, in seconds
    floor_seconds: float = 0.0
    #: how long the latest drill's sample restore itself took
    latest_drill_seconds: float = 0.0
    #: the latest drill's own status (pass/warn/error/fail) as recorded in the history
    latest_drill_status: str = ""
    #: the latest estimate against its RTO as ``restore.rto`` judged it, on the interval
    #: (a row from before intervals: on the point); None without an RTO
    standing: Standing | None = None
    #: the latest estimate's interval as recorded; None for a row from before intervals
    latest_low: float | None = None
    latest_high: float | None = None

    @property
    def at_risk(self) -> bool:
        """Only the high end of the latest estimate exceeds the RTO: ``restore.rto`` warns,
        the trend warns too but does not fail."""
        return self.standing is Standing.AT_RISK

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
        if self.regressed or self.breached:
            return Status.FAIL
        return Status.WARN if self.at_risk else Status.PASS


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def compute_trends(runs: pa.Table, fail_on_regression_pct: float | None,
                   floor_seconds: float = 300.0) -> list[Trend]:
    """One :class:`Trend` per client and target of ``runs`` (a RUNS_SCHEMA table).

    Rows without a finite estimate are skipped. A regression needs at least one earlier run,
    a latest estimate more than ``fail_on_regression_pct`` % above the median of the earlier
    ones, and at least ``floor_seconds`` more than that median.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in runs.to_pylist():
        if _finite(row.get("estimated_full_restore_seconds")) is None:
            continue
        groups.setdefault((row[PARTITION], row["target"]), []).append(row)
    trends: list[Trend] = []
    for (client, target), rows in sorted(groups.items()):
        rows.sort(key=lambda r: (r["started_at"], r["run_id"]))
        series = tuple((as_utc(r["started_at"]), float(r["estimated_full_restore_seconds"]))
                       for r in rows)
        latest_row = rows[-1]
        latest = series[-1][1]
        previous = [value for _, value in series[:-1]]
        median_previous = statistics.median(previous) if previous else None
        change_pct = None
        if median_previous is not None and median_previous > 0:
            change_pct = (latest - median_previous) / median_previous * 100.0
        regressed = (fail_on_regression_pct is not None and median_previous is not None
                     and latest > median_previous * (1 + fail_on_regression_pct / 100.0)
                     and latest - median_previous >= floor_seconds)
        rto = _finite(latest_row.get("rto_seconds"))
        rto = rto if rto is not None and rto > 0 else None
        standing = row_standing(latest_row)
        low, high = row_interval(latest_row)
        trends.append(Trend(
            client=client, target=target, kind=str(latest_row.get("kind") or ""),
            series=series, rto_seconds=rto, median_previous=median_previous,
            change_pct=change_pct, regressed=regressed,
            breached=standing is Standing.OVER, threshold_pct=fail_on_regression_pct,
            floor_seconds=floor_seconds,
            latest_drill_seconds=_finite(latest_row.get("seconds")) or 0.0,
            latest_drill_status=str(latest_row.get("status") or ""),
            standing=standing, latest_low=low, latest_high=high))
    return trends


def trend_exit_code(trends: Sequence[Trend]) -> int:
    """1 when any target regressed or breaches its RTO; 3 when there is no drill to judge (a
    missing or empty history must never turn a CI job green); else 0 (an RTO at risk is a
    warning)."""
    if not trends:
        return 3
    return 1 if any(t.status is Status.FAIL for t in trends) else 0


# ---------------------------------------------------------------- command values


@dataclass(frozen=True)
class TrendResult:
    """What ``backupcheck trend`` found: the trends of the history at ``history``."""

    history: Path | str
    trends: tuple[Trend, ...]
    #: the --fail-on-regression threshold the trends were judged with (None: not judged)
    threshold_pct: float | None = None
    #: the --regression-floor the trends were judged with, in seconds
    floor_seconds: float = 300.0

    @property
    def exit_code(self) -> int:
        return trend_exit_code(self.trends)


@dataclass(frozen=True)
class HistoryResult:
    """What ``backupcheck history`` found: runs rows (RUNS_SCHEMA) of the history at
    ``history``, limited to ``clients`` (all when empty) and drills since ``since``."""

    history: Path | str
    runs: pa.Table
    clients: tuple[str, ...] = ()
    since: datetime | None = None
