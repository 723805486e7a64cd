"""The RTO trend chart: per client, estimated full-restore time per target against the RTO.

Drawn with matplotlib's object API on the Agg renderer (no display, no pyplot global state,
safe in threads). One subplot per client, one line per target, the RTO as a dashed line.
The y axis is linear, from zero, in seconds, minutes or hours chosen by the range drawn. An
RTO far above every estimate (``RTO_OFF_CHART_RATIO``) would flatten the lines at zero: it is
named in the legend ("above the chart") instead of stretching the axis.
The size is fixed (10 x 3.2 inches per client at 100 dpi) and output is reproducible (no
dates or random ids in the file), so an evidence pack's checksums stay stable.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from backupcheck.errors import UsageError
from backupcheck.report.text import visible
from backupcheck.trend import NO_DRILLS, Trend
from backupcheck.units import format_duration

WIDTH_INCHES = 10.0
HEIGHT_PER_CLIENT_INCHES = 3.2
DPI = 100
#: Agg cannot draw images much taller than 2**16 pixels; ask for fewer clients instead
MAX_CLIENTS = 100
_UNITS = ((7200.0, 3600.0, "h"), (120.0, 60.0, "min"), (0.0, 1.0, "s"))
#: an RTO this many times above the largest estimate is named, not drawn to scale
RTO_OFF_CHART_RATIO = 5
TITLE = "Estimated full restore time per target, against the RTO"


def chart_size_pixels(n_clients: int) -> tuple[int, int]:
    """(width, height) in pixels of a chart of ``n_clients`` clients (at least one row)."""
    rows = max(n_clients, 1)
    return round(WIDTH_INCHES * DPI), round(HEIGHT_PER_CLIENT_INCHES * rows * DPI)


def _label(text: str) -> str:
    """Untrusted text for matplotlib: visible, no mathtext, not hidden from the legend."""
    label = visible(text).replace("$", r"\$")
    return " " + label if label.startswith("_") else label


def _unit(largest: float) -> tuple[float, str]:
    for threshold, scale, name in _UNITS:
        if largest >= threshold:
            return scale, name
    return 1.0, "s"


def chart_figure(trends: Sequence[Trend]) -> Any:
    """The chart as a matplotlib ``Figure`` (not yet saved)."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    by_client: dict[str, list[Trend]] = {}
    for trend in trends:
        by_client.setdefault(trend.client, []).append(trend)
    if len(by_client) > MAX_CLIENTS:
        raise UsageError(f"--chart: draws at most {MAX_CLIENTS} clients, not "
                         f"{len(by_client)}; choose some with --client")
    width, height = chart_size_pixels(len(by_client))
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
    if not by_client:
        axes = figure.add_subplot()
        axes.set_axis_off()
        axes.text(0.5, 0.5, NO_DRILLS, ha="center", va="center", fontsize=14)
        return figure
    figure.suptitle(TITLE, fontsize=12, fontweight="bold")
    subplots = figure.subplots(len(by_client), 1, squeeze=False)[:, 0]
    for axes, (client, items) in zip(subplots, sorted(by_client.items()), strict=True):
        values = [v for t in items for _, v in t.series]
        rtos = sorted({t.rto_seconds for t in items if t.rto_seconds is not None})
        largest = max(values, default=0.0)
        drawn = [r for r in rtos if largest <= 0 or r <= RTO_OFF_CHART_RATIO * largest]
        above = [r for r in rtos if r not in drawn]
        scale, unit = _unit(max([*values, *drawn], default=0.0))
        for trend in sorted(items, key=lambda t: t.target):
            times = [at for at, _ in trend.series]
            line = axes.plot(times, [v / scale for _, v in trend.series], marker="o",
                             markersize=3, linewidth=1.5, label=_label(trend.target))[0]
            if trend.regressed or trend.breached:
                axes.plot(times[-1:], [trend.latest / scale], marker="o", markersize=9,
                          markerfacecolor="none", markeredgecolor="red", linestyle="none")
            line.set_zorder(3)
        for rto in drawn:
            axes.axhline(rto / scale, color="red", linestyle="--", linewidth=1.2,
                         label=f"RTO {format_duration(rto, 'prose')}")
        for rto in above:  # a legend entry only: drawn to scale it would flatten the lines
            axes.plot([], [], color="red", linestyle="--", linewidth=1.2,
                      label=f"RTO {format_duration(rto, 'prose')} (far above the chart)")
        failing = any(t.regressed or t.breached for t in items)
        axes.set_title(_label(client) + ("  — FAIL" if failing else ""), loc="left",
                       fontsize=11, color="red" if failing else "black")
        axes.set_ylabel(f"est. full restore ({unit})")
        top = max([*values, *drawn], default=0.0) / scale
        axes.set_ylim(0, top * 1.15 if top > 0 else 1.0)
        moments = {at for t in items for at, _ in t.series}
        if len(moments) == 1:  # one drill: a week either side instead of years of axis
            (only,) = moments
            axes.set_xlim(only - timedelta(days=7), only + timedelta(days=7))
        locator = AutoDateLocator()  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(
            ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        axes.grid(True, alpha=0.3)
        # beside the plot, so it never hides a line
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                    borderaxespad=0.0)
    return figure


def _save(trends: Sequence[Trend], target: Any, fmt: str) -> None:
    import matplotlib

    metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None}
    with matplotlib.rc_context({"svg.hashsalt": "backupcheck", "svg.fonttype": "path"}):
        chart_figure(trends).savefig(target, format=fmt, dpi=DPI, metadata=metadata)


def render_chart(trends: Sequence[Trend], out: Path) -> Path:
    """Draw the chart into ``out`` (``.png`` or ``.svg``, by its suffix); returns ``out``."""
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise UsageError(f"--chart: {out} must end in .png or .svg")
    buffer = io.BytesIO()
    _save(trends, buffer, fmt)
    try:
        out.write_bytes(buffer.getvalue())
    except OSError as exc:
        raise UsageError(f"--chart: cannot write {out}: {exc.strerror or exc}") from None
    return out


def chart_png_bytes(trends: Sequence[Trend]) -> bytes:
    """The chart as PNG bytes, for embedding (e.g. as a data: URL in the audit report)."""
    buffer = io.BytesIO()
    _save(trends, buffer, "png")
    return buffer.getvalue()
