"""Where an estimated full restore stands against the RTO: the one home of that judgement.

``restore.rto`` (:func:`backupcheck.restore.verdict.rto_finding`) decides with it, and every
report that shows an estimate next to an RTO (the drill and ``history`` tables, the audit page,
the fleet overview) colours and words it with it, so no report shows green where the check
warns or red where it passes:

- **over**: even the low end of the estimate's interval exceeds the RTO — ``restore.rto``
  fails;
- **at risk**: only the high end does — ``restore.rto`` warns;
- **within**: the whole interval is within the RTO — ``restore.rto`` passes.

A missing end (``None``: a history row written before intervals were recorded) is the point
estimate. The high end is never taken below the point, so an interval that does not hold its
point cannot turn a point over the RTO into "within".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from backupcheck.model import RestoreResult


class Standing(StrEnum):
    WITHIN = "within"
    AT_RISK = "at risk"
    OVER = "over"

    @property
    def rank(self) -> int:
        """0 within, 1 at risk, 2 over: the larger, the worse."""
        return (Standing.WITHIN, Standing.AT_RISK, Standing.OVER).index(self)

    @property
    def css(self) -> str:
        """The class the HTML pages mark it with (``over``, ``at-risk``, ``within``)."""
        return self.value.replace(" ", "-")


def judged_interval(point: float, low: float | None,
                    high: float | None) -> tuple[float, float]:
    """The ends of the interval as the judgement takes them: a missing end is the point, and
    the high end is never below the point (what the metrics publish, so an alert on them
    fires where ``restore.rto`` fails or warns)."""
    return (point if low is None else low,
            point if high is None else max(high, point))


def rto_standing(point: float, low: float | None, high: float | None,
                 rto: float) -> Standing:
    """The estimate ``point`` with its interval ``low``..``high`` against ``rto`` seconds."""
    low, high = judged_interval(point, low, high)
    if low > rto:
        return Standing.OVER
    if high > rto:
        return Standing.AT_RISK
    return Standing.WITHIN


def restore_standing(result: RestoreResult) -> Standing | None:
    """A drill's standing; None when it has no estimate (no sampled file could be read)."""
    if not result.estimate_method:
        return None
    return rto_standing(result.estimated_full_restore_seconds, result.estimate_low_seconds,
                        result.estimate_high_seconds, result.rto_seconds)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def row_interval(row: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """A history runs row's ``estimate_low_seconds`` / ``estimate_high_seconds`` as recorded:
    None for a row from before intervals (the columns missing or null)."""
    return _number(row.get("estimate_low_seconds")), _number(row.get("estimate_high_seconds"))


def row_standing(row: Mapping[str, Any]) -> Standing | None:
    """A history runs row's standing against the RTO recorded with it; None without an
    estimate or an RTO. Rows from before intervals (no or null ``estimate_low_seconds`` /
    ``estimate_high_seconds``) are judged on their point estimate."""
    point, rto = (_number(row.get("estimated_full_restore_seconds")),
                  _number(row.get("rto_seconds")))
    if point is None or rto is None or rto <= 0:
        return None
    return rto_standing(point, *row_interval(row), rto)
