"""Estimating how long a full restore of the chosen backup would take.

A real full restore pays restic's start-up and index load once, not once per file, so
per-file process start-ups are not extrapolated. Each file is timed from its first byte;
``seconds = a + b * bytes`` is fitted over those timings (least squares; plain throughput
when fewer than three usable files or a degenerate fit), and the estimate is one start-up
(the median time to first byte) plus ``(a * files + b * bytes)`` spread over the parallel
streams. Many small files then cost their per-file overhead ``a``, big ones their bytes.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backupcheck.model import FileResult

_TIMED = {"ok", "unproven", "digest", "size"}


@dataclass(frozen=True)
class Estimate:
    seconds: float
    method: dict[str, Any]


def fit_line(points: Sequence[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares ``y = a + b x``; None when x does not vary."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx <= 0:
        return None
    b = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    return mean_y - b * mean_x, b


def estimate_full_restore(files: Sequence[FileResult], total_files: int, total_bytes: int,
                          streams: int) -> Estimate | None:
    """None when nothing was read, so nothing can be extrapolated."""
    timed = [f for f in files if f.result in _TIMED]
    if not timed:
        return None
    startup = statistics.median(f.ttfb_seconds for f in timed)
    streams = max(1, streams)
    moved = sum(f.bytes for f in timed)
    spent = sum(f.seconds for f in timed)
    fit = fit_line([(float(f.bytes), f.seconds) for f in timed]) if len(timed) >= 3 else None
    if fit is not None and fit[1] > 0:
        a, b = max(0.0, fit[0]), fit[1]
        method = "linear fit seconds = a + b*bytes over per-file timings from first byte"
    else:
        a, b = 0.0, (spent / moved if moved else 0.0)
        method = "plain throughput (fewer than three files or a degenerate fit)"
    seconds = startup + (a * total_files + b * total_bytes) / streams
    return Estimate(seconds, {
        "method": method,
        "startup_seconds": round(startup, 6),
        "a_seconds_per_file": a,
        "b_seconds_per_byte": b,
        "files_timed": len(timed),
        "bytes_timed": moved,
        "total_files": total_files,
        "total_bytes": total_bytes,
        "streams": streams,
        "formula": "startup + (a*total_files + b*total_bytes) / streams",
    })
