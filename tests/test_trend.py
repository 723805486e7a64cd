"""RTO trends: regression and breach verdicts, exit codes, and every output format."""

from __future__ import annotations

import json
import struct
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from rich.console import Console

from backupcheck.commands import history as history_commands
from backupcheck.commands import trend as trend_commands
from backupcheck.commands.options import parse_since
from backupcheck.errors import UsageError
from backupcheck.history import HistoryStore
from backupcheck.model import ClientResult, Finding, RestoreResult, RunReport, Status, TargetResult
from backupcheck.report.chart import chart_png_bytes, chart_size_pixels, render_chart
from backupcheck.report.history_formats import history_output
from backupcheck.report.trend_formats import (
    md,
    plain_text,
    sparkline,
    trend_junit,
    trend_markdown,
    trend_output,
)
from backupcheck.trend import Trend, compute_trends


def trend_command(history: Path, clients: list[str] | None = None, fmt: str = "table",
                  out: Path | None = None, fail_on_regression: float | None = None,
                  chart: Path | None = None) -> tuple[Any, int]:
    """What ``backupcheck trend`` shows and its exit code: the command, then its renderer."""
    result = trend_commands.trend_command(history, clients, fmt, fail_on_regression, chart)
    return trend_output(result, fmt, out, chart), result.exit_code


def history_command(history: Path, clients: list[str] | None = None, since: str | None = None,
                    fmt: str = "table") -> tuple[Any, int]:
    """What ``backupcheck history`` shows and its exit code, as :func:`trend_command`."""
    return history_output(history_commands.history_command(history, clients, since, fmt),
                          fmt), 0


T0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
HOUR = 3600.0
JUNIT_XSD = Path(__file__).parent / "data" / "junit.xsd"
#: beta's previous five runs have a median of 1000 s; its latest is 40 % slower
ESTIMATES = {
    ("beta", "beta-s3"): [1000.0, 980.0, 1020.0, 1000.0, 990.0, 1400.0],
    ("gamma", "gamma-fs"): [3 * HOUR, 3.5 * HOUR, 4 * HOUR, 4.5 * HOUR, 4.8 * HOUR, 5 * HOUR],
}
RTO = 4 * HOUR


def run_row(run_id: str, started_at: datetime, client: str, target: str,
            estimate: float, rto: float = RTO) -> dict[str, Any]:
    return {"run_id": run_id, "started_at": started_at, "client": client, "target": target,
            "kind": "s3", "status": "pass", "sampled": 20, "verified": 20, "mismatched": 0,
            "unreadable": 0, "bytes": 50_000_000, "seconds": 4.0,
            "throughput_bytes_per_s": 12.5e6, "estimated_full_restore_seconds": estimate,
            "rto_seconds": rto, "coverage": 0.05}


def steady_report(estimate: float) -> RunReport:
    """A drill report of the steady client, built from the model as a drill would."""
    result = RestoreResult(
        seed=7, snapshot="c0ffee00", sampled=20, verified=20, mismatched=0, unreadable=0,
        unproven=0, bytes=200_000_000, seconds=3.2, ttfb_seconds=0.1,
        throughput_bytes_per_s=62.5e6, total_bytes=500 * 10**9, total_files=80_000,
        estimated_full_restore_seconds=estimate, rto_seconds=RTO, coverage=0.01, retries=0,
        problems=(), files=(), estimate_method={"method": "linear-fit"})
    target = TargetResult("acme-fs1", "restic",
                          (Finding("restore.rto", Status.PASS, "within RTO"),), result)
    return RunReport("drill", "", "", (ClientResult("acme", (target,)),))


@pytest.fixture
def history(tmp_path: Path) -> Path:
    """Six weekly drills: acme steady (via append), beta regressed, gamma breaching its RTO."""
    root = tmp_path / "history"
    store = HistoryStore(root)
    for week in range(6):
        at = T0 + timedelta(weeks=week)
        run_id = f"{at:%Y%m%dT%H%M%SZ}"
        store.append(run_id, at, steady_report(HOUR + 30 * (week % 2)), "weekly")
        store.append_rows([run_row(run_id, at, client, target, values[week])
                           for (client, target), values in ESTIMATES.items()])
    return root


def by_key(trends: list[Trend]) -> dict[tuple[str, str], Trend]:
    return {(t.client, t.target): t for t in trends}


def test_compute_trends_numbers(history: Path) -> None:
    trends = by_key(compute_trends(HistoryStore(history).read_runs(), 25))
    steady, slow, breach = (trends[("acme", "acme-fs1")], trends[("beta", "beta-s3")],
                            trends[("gamma", "gamma-fs")])
    assert steady.runs == 6 and steady.status is Status.PASS
    assert not steady.regressed and not steady.breached
    assert steady.headroom_seconds == pytest.approx(RTO - HOUR - 30)

    assert slow.median_previous == 1000.0 and slow.latest == 1400.0
    assert slow.change_pct == pytest.approx(40.0)
    assert slow.regressed and not slow.breached and slow.status is Status.FAIL

    assert breach.breached and breach.headroom_seconds == pytest.approx(-HOUR)
    assert breach.headroom_pct == pytest.approx(-25.0)
    assert breach.change_pct == pytest.approx((5 - 4) / 4 * 100)  # median 4h: not > 25 %
    assert not breach.regressed and breach.status is Status.FAIL
    assert [v for _, v in breach.series] == ESTIMATES[("gamma", "gamma-fs")]


@pytest.mark.parametrize(("clients", "threshold", "code"), [
    (["acme"], 25.0, 0),      # steady
    (["beta"], 25.0, 1),      # 40 % slower than its median
    (["beta"], 50.0, 0),      # ... but within a 50 % allowance
    (["beta"], None, 0),      # no regression gate asked for
    (["gamma"], None, 1),     # breaches its RTO, gate or not
    (None, 25.0, 1),
])
def test_trend_exit_codes(history: Path, clients: list[str] | None, threshold: float | None,
                          code: int) -> None:
    _, exit_code = trend_command(history, clients, "json", fail_on_regression=threshold)
    assert exit_code == code


def test_a_first_run_cannot_regress(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.append_rows([run_row("r1", T0, "new", "t", 100.0)])
    (trend,) = compute_trends(store.read_runs(), 0.0)
    assert trend.median_previous is None and trend.change_pct is None
    assert not trend.regressed and trend.status is Status.PASS


def test_junit_validates_and_names_failures(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "trend.xml"
    note, code = trend_command(history, None, "junit", out=out, fail_on_regression=25)
    assert code == 1 and str(out) in str(note) and "1 failing" not in str(note)
    schema = etree.XMLSchema(etree.parse(str(JUNIT_XSD)))
    document = etree.parse(str(out))
    schema.assertValid(document)

    suite = document.getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "backupcheck.trend"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "2", "0")
    assert document.getroot().get("failures") == "2"
    cases = {(c.get("classname"), c.get("name")): c for c in suite.iter("testcase")}
    assert set(cases) == {("acme", "acme-fs1"), ("beta", "beta-s3"), ("gamma", "gamma-fs")}
    assert cases[("acme", "acme-fs1")].find("failure") is None

    regression = cases[("beta", "beta-s3")].find("failure")
    assert regression is not None and regression.get("type") == "regression"
    assert "beta/beta-s3" in regression.get("message", "")
    assert "40.0% slower" in regression.get("message", "")
    assert "median_previous_seconds=1000.000" in (regression.text or "")
    assert "latest_estimated_full_restore_seconds=1400.000" in (regression.text or "")

    breach = cases[("gamma", "gamma-fs")].find("failure")
    assert breach is not None and breach.get("type") == "rto_breach"
    assert "exceeds RTO 4.0h (14400s)" in breach.get("message", "")
    assert "rto_seconds=14400" in (breach.text or "")


def test_junit_survives_hostile_names() -> None:
    nasty = Trend(client='c<&>"\x00\x1b[31m', target="t\nname\ud800|]]>", kind="s3",
                  series=((T0, 10.0), (T0 + timedelta(days=7), 50.0)), rto_seconds=20.0,
                  median_previous=10.0, change_pct=400.0, regressed=True, breached=True,
                  threshold_pct=25.0)
    text = trend_junit([nasty], 25.0)
    schema = etree.XMLSchema(etree.parse(str(JUNIT_XSD)))
    schema.assertValid(etree.fromstring(text.encode("utf-8")))
    case = ET.fromstring(text.encode("utf-8")).find("testsuite/testcase")
    assert case is not None
    assert case.get("classname") == 'c<&>"\\x00\\x1b[31m'
    assert case.get("name") == "t\\x0aname\\ud800|]]>"


def test_junit_with_no_drills_is_valid(tmp_path: Path) -> None:
    text, code = trend_command(tmp_path / "empty", None, "junit")
    assert code == 3 and isinstance(text, str)  # no data is never green (issue 13)
    etree.XMLSchema(etree.parse(str(JUNIT_XSD))).assertValid(etree.fromstring(text.encode()))
    assert 'tests="0"' in text and "no drills in history" in text


def test_markdown_has_one_row_per_target(history: Path) -> None:
    text, code = trend_command(history, None, "markdown", fail_on_regression=25)
    assert code == 1 and isinstance(text, str)
    rows = [line for line in text.splitlines()
            if line.startswith("| ") and not line.startswith("| ---")]
    assert len(rows) == 1 + 3  # header + one per target
    assert "FAIL" in text.splitlines()[0]
    assert any("beta" in r and "regression" in r and "+40.0%" in r for r in rows)
    assert any("gamma" in r and "RTO breach" in r for r in rows)
    assert any("acme" in r and "pass" in r for r in rows)


def test_markdown_escapes_names() -> None:
    assert md("a|b") == "a\\|b"
    assert md("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert md("line\nbreak") == "line\\\\x0abreak"
    trend = Trend(client="x|y", target="<b>t</b>", kind="s3", series=((T0, 1.0),),
                  rto_seconds=10.0, median_previous=None, change_pct=None, regressed=False,
                  breached=False)
    rows = [r for r in trend_markdown([trend], None).splitlines()
            if r.startswith("| ") and not r.startswith("| ---")]
    assert len(rows) == 2 and rows[1].count(" | ") == 9  # the pipe did not add a column
    assert "<b>" not in rows[1]


def test_json_document(history: Path) -> None:
    text, code = trend_command(history, ["beta", "acme"], "json", fail_on_regression=25)
    document = json.loads(str(text))
    assert code == 1
    assert document["schema"] == "backupcheck.trend/1"
    assert (document["status"], document["targets"], document["failing"]) == ("fail", 2, 1)
    beta = next(t for t in document["trends"] if t["client"] == "beta")
    assert beta["regressed"] is True and beta["change_pct"] == 40.0
    assert beta["median_previous_seconds"] == 1000.0 and len(beta["series"]) == 6
    assert beta["series"][-1] == {"started_at": "2026-02-09T03:00:00Z",
                                  "estimated_full_restore_seconds": 1400.0}


def test_table_shows_sparklines(history: Path, tmp_path: Path) -> None:
    table, code = trend_command(history, None, "table", fail_on_regression=25)
    assert code == 1
    text = plain_text(table)
    assert sparkline(ESTIMATES[("beta", "beta-s3")]) == "▁▁▂▁▁█"
    assert "▁▁▂▁▁█" in text and "▁█▁█▁█" in text
    assert "regression" in text and "breach" in text and "overall: FAIL" in text
    out = tmp_path / "trend.txt"
    trend_command(history, None, "table", out=out, fail_on_regression=25)
    assert "acme-fs1" in out.read_text()


def test_sparkline() -> None:
    assert sparkline([]) == ""
    assert sparkline([5, 5, 5]) == "▄▄▄"
    assert sparkline([0, 7]) == "▁█"
    assert sparkline(list(range(8))) == "▁▂▃▄▅▆▇█"
    assert len(sparkline(list(range(100)))) == 24


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, chunk = struct.unpack(">I4s", data[8:16])
    assert chunk == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_png_chart_has_the_expected_size(history: Path, tmp_path: Path) -> None:
    chart = tmp_path / "trend.png"
    _, code = trend_command(history, None, "json", fail_on_regression=25, chart=chart)
    assert code == 1
    assert png_size(chart.read_bytes()) == chart_size_pixels(3) == (1000, 960)
    trends = compute_trends(HistoryStore(history).read_runs(["acme"]), None)
    assert png_size(chart_png_bytes(trends)) == (1000, 320)


def test_svg_chart_is_svg(history: Path, tmp_path: Path) -> None:
    trends = compute_trends(HistoryStore(history).read_runs(), 25)
    odd = [replace(t, client=f"$\\{t.client}$", target=f"_{t.target}") for t in trends]
    out = render_chart(odd, tmp_path / "trend.svg")
    root = ET.parse(out).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width") == "720pt" and root.get("height") == "691.2pt"
    assert out.read_bytes() == render_chart(odd, tmp_path / "again.svg").read_bytes()


def test_chart_of_an_empty_history(tmp_path: Path) -> None:
    assert png_size(render_chart([], tmp_path / "empty.png").read_bytes()) == (1000, 320)


def test_bad_usage(history: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--chart") as caught:
        trend_command(history, None, "table", chart=tmp_path / "trend.jpg")
    assert caught.value.exit_code == 2
    with pytest.raises(UsageError, match="--since"):
        history_command(history, None, "last tuesday", "table")
    with pytest.raises(UsageError, match="--fail-on-regression"):
        trend_command(history, None, "table", fail_on_regression=-5)
    with pytest.raises(UsageError, match="--format"):
        trend_command(history, None, "html")


def test_parse_since() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_since("2026-02-01") == datetime(2026, 2, 1, tzinfo=UTC)
    assert parse_since("2026-02-01T03:00Z") == datetime(2026, 2, 1, 3, tzinfo=UTC)
    assert parse_since("2026-02-01T04:00+01:00") == datetime(2026, 2, 1, 3, tzinfo=UTC)
    assert parse_since("2w", now) == now - timedelta(weeks=2)
    assert parse_since("30d", now) == now - timedelta(days=30)


def test_empty_history_is_a_message_not_an_error(tmp_path: Path) -> None:
    text, code = trend_command(tmp_path / "none", None, "table")
    assert code == 3 and "no drills in history" in str(text)  # issue 13: never green
    text, code = history_command(tmp_path / "none", None, None, "table")
    assert code == 0 and "no drills in history" in str(text)
    text, code = history_command(tmp_path / "none", None, None, "json")
    assert code == 0 and json.loads(str(text)) == {"schema": "backupcheck.history/1",
                                                   "runs": []}
    text, code = trend_command(tmp_path / "none", None, "markdown")
    assert code == 3 and "no drills in history" in str(text)


def test_history_command(history: Path) -> None:
    text, code = history_command(history, ["beta"], "2026-02-01", "json")
    document = json.loads(str(text))
    assert code == 0 and document["schema"] == "backupcheck.history/1"
    assert [(r["client"], r["started_at"]) for r in document["runs"]] == [
        ("beta", "2026-02-02T03:00:00Z"), ("beta", "2026-02-09T03:00:00Z")]
    assert document["runs"][-1]["estimated_full_restore_seconds"] == 1400.0

    table, code = history_command(history, None, None, "table")
    console = Console(width=200, record=True, color_system=None)
    console.print(table)
    text = console.export_text()
    assert code == 0
    for heading in ("acme — drill history", "beta — drill history", "gamma — drill history"):
        assert heading in text
    assert "2026-02-09 03:00" in text and "5.0h" in text
