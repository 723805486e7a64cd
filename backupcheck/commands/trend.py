"""``trend``: RTO trends of the history, judged for regressions and breaches (rendered and
charted elsewhere)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from backupcheck.commands.options import check_format
from backupcheck.errors import UsageError
from backupcheck.history import HistoryStore, open_history
from backupcheck.trend import (
    CHART_SUFFIXES,
    DEFAULT_REGRESSION_FLOOR,
    TREND_FORMATS,
    TrendResult,
    compute_trends,
)
from backupcheck.units import parse_duration


def trend_command(history: Path | str | HistoryStore, clients: Sequence[str] | None = None,
                  fmt: str = "table",
                  fail_on_regression: float | None = None,
                  chart: Path | None = None,
                  regression_floor: str = DEFAULT_REGRESSION_FLOOR) -> TrendResult:
    """The trends of ``clients`` (all when None); exit 1 on a regression (when asked for
    with ``fail_on_regression``, a percentage, and at least ``regression_floor`` longer, a
    duration) or an RTO breach.

    ``fmt`` and ``chart`` are only checked here, before anything is read; the renderers use
    them.
    """
    check_format(fmt, TREND_FORMATS)
    if fail_on_regression is not None and not (math.isfinite(fail_on_regression)
                                               and fail_on_regression >= 0):
        raise UsageError(f"--fail-on-regression: expected a percentage >= 0, "
                         f"got {fail_on_regression!r}")
    try:
        floor = parse_duration(regression_floor)
    except ValueError as exc:
        raise UsageError(f"--regression-floor: {exc}") from None
    if chart is not None and chart.suffix.lower() not in CHART_SUFFIXES:
        raise UsageError(f"--chart: {chart} must end in .png or .svg")
    store = open_history(history)
    runs = store.read_runs(list(clients) if clients else None)
    return TrendResult(history=str(store),
                       trends=tuple(compute_trends(runs, fail_on_regression, floor)),
                       threshold_pct=fail_on_regression, floor_seconds=floor)
