"""The RTO trend chart's axis: linear, in seconds, minutes or hours by the range drawn, and
titled; an RTO far above every estimate is named, not drawn to a scale that flattens the lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backupcheck.report.chart import chart_figure
from backupcheck.trend import Trend

START = datetime(2026, 11, 1, tzinfo=UTC)


def trend(values: list[float], rto: float) -> Trend:
    series = tuple((START + timedelta(days=7 * i), v) for i, v in enumerate(values))
    return Trend(client="acme", target="acme-nas", kind="s3", series=series, rto_seconds=rto,
                 median_previous=None, change_pct=None, regressed=False, breached=False)


def only_axes(values: list[float], rto: float) -> Any:
    figure = chart_figure([trend(values, rto)])
    (axes,) = figure.axes
    return figure, axes


@pytest.mark.parametrize(("values", "rto", "unit"), [
    ([1.2, 1.4, 1.3], 4 * 3600.0, "s"),      # the demo: seconds against a 4 h RTO
    ([300.0, 420.0, 600.0], 900.0, "min"),
    ([3 * 3600.0, 3.5 * 3600.0], 4 * 3600.0, "h"),
])
def test_axis_is_linear_in_a_unit_chosen_by_the_range(values: list[float], rto: float,
                                                      unit: str) -> None:
    figure, axes = only_axes(values, rto)
    assert axes.get_yscale() == "linear"
    assert axes.get_ylabel().endswith(f"({unit})")
    assert "log" not in axes.get_ylabel()
    assert figure.get_suptitle()  # the chart says what it shows
    assert "restore" in figure.get_suptitle().lower()
    low, high = axes.get_ylim()
    assert low == 0
    scale = {"s": 1.0, "min": 60.0, "h": 3600.0}[unit]
    assert max(values) / scale <= high <= 2 * max(values) / scale  # the lines fill the plot


def test_an_rto_far_above_the_estimates_is_named_not_drawn() -> None:
    _, axes = only_axes([1.2, 1.4, 1.3], 4 * 3600.0)
    labels = axes.get_legend_handles_labels()[1]
    assert any(label.startswith("RTO 4.0 h") and "above" in label for label in labels)


def test_an_rto_close_to_the_estimates_is_drawn_on_the_axis() -> None:
    _, axes = only_axes([300.0, 420.0, 600.0], 900.0)
    assert axes.get_ylim()[1] >= 900.0 / 60
    labels = axes.get_legend_handles_labels()[1]
    assert any(label.startswith("RTO 15 min") for label in labels)
