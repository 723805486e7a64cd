"""Every report shows the estimate against the RTO as ``restore.rto`` judges it (issue 17).

The check fails when even the low end of the estimate's interval exceeds the RTO and warns
when only the high end does; the drill table, the ``history`` table, the audit page (target
glance, drill figures, history and trend rows) and the fleet overview must say the same: red
for over, the warning colour for at risk, green within — never green where the check warns,
never red where it only warns.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from backupcheck.audit.fleet import row_of
from backupcheck.audit.model import AuditFacts, AuditResult, RestoreOrigin
from backupcheck.audit_verdict import judge
from backupcheck.history import RUNS_SCHEMA, rows_from_report
from backupcheck.model import (
    Client,
    ClientResult,
    Policy,
    RestoreResult,
    RunReport,
    Status,
    TargetResult,
)
from backupcheck.report.fleet_html import render_fleet_html
from backupcheck.report.history_formats import history_table
from backupcheck.report.html import render_audit_html
from backupcheck.report.table import STYLE, restore_table
from backupcheck.restore.standing import Standing, rto_standing
from backupcheck.restore.verdict import rto_finding
from backupcheck.trend import compute_trends
from backupcheck.units import format_duration

MOMENT = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
ENVIRONMENT = ("tool", "tool_version", "restic_version", "host", "python_version", "platform")

#: (point, low, high, rto): the check's status and the standing every report must show
CASES = [
    pytest.param(9.0, 7.0, 12.0, 10.0, Status.WARN, "at risk", id="point-within-high-over"),
    pytest.param(11.0, 10.5, 14.0, 10.0, Status.FAIL, "over", id="low-over"),
    pytest.param(11.0, 8.0, 14.0, 10.0, Status.WARN, "at risk", id="point-over-low-within"),
    pytest.param(5.0, 4.0, 6.0, 10.0, Status.PASS, "within", id="all-within"),
]
#: the page's CSS class per standing
CLASS = {"over": "over", "at risk": "at-risk", "within": "within"}


def restore(point: float, low: float | None, high: float | None, rto: float,
            total_files: int = 10) -> RestoreResult:
    return RestoreResult(
        seed=1, snapshot="a1b2c3d4e5f6", sampled=4, verified=4, mismatched=0, unreadable=0,
        unproven=0, bytes=4000, seconds=0.5, ttfb_seconds=0.01,
        throughput_bytes_per_s=8000.0, total_bytes=10_000, total_files=total_files,
        estimated_full_restore_seconds=point, rto_seconds=rto, coverage=0.4, retries=0,
        problems=(), files=(), estimate_method={"method": "restore model"},
        estimate_low_seconds=low if low is not None else point,
        estimate_high_seconds=high if high is not None else point)


def client_result(result: RestoreResult, name: str = "fs1") -> ClientResult:
    return ClientResult("acme", (TargetResult(name, "restic", (rto_finding(result),),
                                              result),))


def estimate_cell(table: Table) -> Text:
    column = next(c for c in table.columns if c.header == "est. restore")
    cells = list(column.cells)
    assert len(cells) == 1 and isinstance(cells[0], Text)
    return cells[0]


def plain(renderable: Any) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


# ---------------------------------------------------------------- the one judgement


@pytest.mark.parametrize(("point", "low", "high", "rto", "status", "standing"), CASES)
def test_standing_is_the_checks_judgement(point: float, low: float, high: float, rto: float,
                                          status: Status, standing: str) -> None:
    assert rto_finding(restore(point, low, high, rto)).status is status
    assert rto_standing(point, low, high, rto) is Standing(standing)


def test_a_missing_end_of_the_interval_is_the_point() -> None:
    """Rows from before intervals hold the point only (null ends)."""
    assert rto_standing(11.0, None, None, 10.0) is Standing.OVER
    assert rto_standing(9.0, None, None, 10.0) is Standing.WITHIN
    assert rto_standing(9.0, 7.0, None, 10.0) is Standing.WITHIN
    assert rto_standing(9.0, None, 12.0, 10.0) is Standing.AT_RISK


def test_a_high_end_below_the_point_never_hides_a_point_over_the_rto() -> None:
    """An interval that does not hold its point (0.0 ends: none was made) cannot say within
    when the point itself exceeds the RTO."""
    assert rto_standing(11.0, 0.0, 0.0, 10.0) is Standing.AT_RISK
    assert rto_finding(restore(11.0, 0.0, 0.0, 10.0)).status is Status.WARN


# ---------------------------------------------------------------- terminal tables


@pytest.mark.parametrize(("point", "low", "high", "rto", "status", "standing"), CASES)
def test_drill_table_colours_the_estimate_as_the_check_judges(
        point: float, low: float, high: float, rto: float, status: Status,
        standing: str) -> None:
    result = restore(point, low, high, rto)
    group = restore_table(client_result(result))
    assert group is not None
    table = group.renderables[0]
    assert isinstance(table, Table)
    cell = estimate_cell(table)
    assert cell.plain == format_duration(point, "table")
    assert str(cell.style) == STYLE[status], (standing, cell.style)
    # the interval and the standing in words on the details line under the table
    details = plain(Group(*group.renderables[1:]))
    assert (f"{format_duration(low, 'table')}-{format_duration(high, 'table')}"
            in details), details
    assert standing in details, details


def test_drill_table_shows_no_green_zero_without_an_estimate() -> None:
    """No sampled file could be read: ``restore.rto`` is an error, not a 0 s pass."""
    result = replace(restore(0.0, 0.0, 0.0, 10.0), estimate_method={})
    assert rto_finding(result).status is Status.ERROR
    group = restore_table(client_result(result))
    assert group is not None
    cell = estimate_cell(group.renderables[0])
    assert str(cell.style) != "green" and cell.plain != format_duration(0.0, "table")


def history_runs(*results: RestoreResult, drop_interval: bool = False) -> pa.Table:
    """The runs rows of one drill per result, a day apart (RUNS_SCHEMA)."""
    rows: list[dict[str, Any]] = []
    for index, result in enumerate(results):
        report = RunReport("drill", "2026-11-22T03:00:00Z", "2026-11-22T03:01:00Z",
                           (client_result(result),))
        runs, _ = rows_from_report(f"run-{index}", MOMENT + timedelta(days=index), report,
                                   "weekly")
        rows += runs
    if drop_interval:  # as written before the interval was recorded
        for row in rows:
            row["estimate_low_seconds"] = row["estimate_high_seconds"] = None
    return pa.Table.from_pylist(rows, schema=RUNS_SCHEMA)


@pytest.mark.parametrize(("point", "low", "high", "rto", "status", "standing"), CASES)
def test_history_table_colours_the_estimate_as_the_check_judges(
        point: float, low: float, high: float, rto: float, status: Status,
        standing: str) -> None:
    group = history_table(history_runs(restore(point, low, high, rto)))
    table = group.renderables[0]
    assert isinstance(table, Table)
    assert str(estimate_cell(table).style) == STYLE[status], standing


def test_history_rows_without_an_interval_are_judged_on_the_point() -> None:
    for point, style in ((11.0, STYLE[Status.FAIL]), (9.0, STYLE[Status.PASS])):
        runs = history_runs(restore(point, 8.0, 14.0, 10.0), drop_interval=True)
        assert str(estimate_cell(history_table(runs).renderables[0]).style) == style


# ---------------------------------------------------------------- the audit page


def facts_of(results: list[RestoreResult], drop_interval: bool = False) -> AuditFacts:
    """An audit of client acme (RTO 10 s) whose newest drill is ``results[-1]``."""
    latest = results[-1]
    checked = client_result(latest)
    client = Client("acme", 3600.0, latest.rto_seconds, Policy(), (), Path("acme.toml"))
    report = RunReport("audit", "2026-11-30T03:00:00Z", "2026-11-30T03:01:00Z", (checked,))
    runs = history_runs(*results, drop_interval=drop_interval)
    started = MOMENT + timedelta(days=len(results) - 1)
    return AuditFacts(
        client=client, report=report, history=runs.to_pylist(),
        trends=compute_trends(runs, None),
        origins={"fs1": RestoreOrigin("history", f"run-{len(results) - 1}", started, 3600.0)},
        mode="history", generated_at=started + timedelta(hours=1),
        checks_at=started + timedelta(hours=1), verdict=judge(checked, 3600.0),
        provenance=[], environment=dict.fromkeys(ENVIRONMENT, "test"), notes=[],
        inventory_errors={})


def classes_of(page: str, pattern: str) -> list[str]:
    return re.findall(pattern, page, re.S)


@pytest.mark.parametrize(("point", "low", "high", "rto", "status", "standing"), CASES)
def test_audit_page_marks_the_estimate_as_the_check_judges(
        point: float, low: float, high: float, rto: float, status: Status,
        standing: str) -> None:
    result = restore(point, low, high, rto)
    page = render_audit_html(facts_of([result, result]))
    shown = re.escape(format_duration(point, "prose"))
    want = CLASS[standing]
    # the targets at a glance, the trend's latest, each of the two history rows
    assert classes_of(page, rf'<td class="num ([\w-]+)">{shown}</td>\s*<td class="num">') \
        == [want] * 4, standing
    figures = classes_of(page, r'<div class="([\w-]*)"><span>Full restore estimate</span>')
    assert figures == [want], standing
    trend = classes_of(page, rf'<td class="num">2</td><td class="num ([\w-]+)">{shown}</td>')
    assert trend == [want], standing
    # the page says the interval, not the point alone, and so does the verdict's summary
    interval = f"{format_duration(low, 'prose')}–{format_duration(high, 'prose')}"
    assert f"{interval}: {standing}" in page
    assert f"({interval})" in facts_of([result]).verdict.summary


def test_audit_page_judges_old_history_rows_on_the_point() -> None:
    page = render_audit_html(facts_of([restore(11.0, 8.0, 14.0, 10.0)], drop_interval=True))
    shown = re.escape(format_duration(11.0, "prose"))
    history = classes_of(page, rf'<td class="num ([\w-]+)">{shown}</td><td class="num">'
                               r'[^<]*</td><td class="num [\w-]+">')
    assert history == ["over"], history


# ---------------------------------------------------------------- the fleet overview


def fleet_cell(page: str, name: str) -> tuple[str, str]:
    found = re.search(rf'<td class="num {name}( [\w-]+)?">(.*?)<', page, re.S)
    assert found, page
    return (found.group(1) or "").strip(), found.group(2)


@pytest.mark.parametrize(("point", "low", "high", "rto", "status", "standing"), CASES)
def test_fleet_headroom_says_over_only_when_the_check_fails(
        point: float, low: float, high: float, rto: float, status: Status,
        standing: str) -> None:
    facts = facts_of([restore(point, low, high, rto)])
    audit = AuditResult("acme", Path("acme"), (), facts.verdict, "history", 3600.0,
                        facts=facts)
    row = row_of(audit, "acme/report.html")
    page = render_fleet_html([row], MOMENT)
    css, text = fleet_cell(page, "headroom")
    if standing == "over":
        assert css == "over" and text == f"over by {format_duration(low - rto, 'prose')}"
        assert row.headroom_seconds is not None and row.headroom_seconds < 0
    elif standing == "at risk":
        assert css == "at-risk", (css, text)
        assert text == f"at risk: up to {format_duration(high - rto, 'prose')} over"
        # not breached: the low end is within the RTO
        assert row.headroom_seconds is not None and row.headroom_seconds >= 0
    else:
        assert css == "within" and text == format_duration(rto - high, "prose")
    assert row.rto_standing == standing


def test_fleet_row_names_the_worst_standing_target_not_the_largest_point() -> None:
    """One target over (low end past the RTO), one only at risk with a larger point: the
    overview names the one that fails."""
    over, risky = restore(10.6, 10.5, 11.0, 10.0), restore(11.0, 5.0, 30.0, 10.0)
    checked = ClientResult("acme", (client_result(over, "fails").targets[0],
                                    client_result(risky, "warns").targets[0]))
    facts = facts_of([over])
    facts = replace(facts, report=replace(facts.report, clients=(checked,)))
    row = row_of(AuditResult("acme", Path("acme"), (), facts.verdict, "history", 3600.0,
                             facts=facts), "")
    assert row.worst_target == "fails" and row.rto_standing == "over"
