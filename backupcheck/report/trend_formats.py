"""What ``trend`` shows: the table, json, junit and markdown renderers of its trends, and
:func:`trend_output`, which also draws the chart (:mod:`backupcheck.report.chart`) and
writes ``--out``.

The latest estimate stands against the RTO as ``restore.rto`` judges it
(:mod:`backupcheck.restore.standing`): a breach (a failure) when even the low end of its
interval exceeds the RTO, *at risk* (a warning: exit 0, no junit failure, but said in every
format) when only the high end does.

Client, target and path names come from configuration and backups and are untrusted: each
format escapes them its own way (rich: :func:`visible` in ``Text``; XML: ElementTree plus
removal of characters XML 1.0 cannot hold; markdown: backslash escapes and HTML entities).
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from backupcheck.clock import as_utc, iso
from backupcheck.errors import UsageError
from backupcheck.model import Status
from backupcheck.report.chart import render_chart
from backupcheck.report.jsonout import dumps
from backupcheck.report.table import STYLE, status_text
from backupcheck.report.text import visible
from backupcheck.restore.standing import judged_interval
from backupcheck.trend import NO_DRILLS, Trend, TrendResult
from backupcheck.units import format_duration

TREND_SCHEMA = "backupcheck.trend/1"
JUNIT_SUITE = "backupcheck.trend"
SPARK_BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    """The last ``width`` values as block characters scaled between their min and max."""
    points = list(values)[-width:]
    if not points:
        return ""
    low, high = min(points), max(points)
    if high - low <= 1e-9 * max(abs(high), 1.0):
        return SPARK_BARS[3] * len(points)
    top = len(SPARK_BARS) - 1
    return "".join(SPARK_BARS[round((v - low) / (high - low) * top)] for v in points)


def span(seconds: float | None) -> str:
    """A duration for people; negative (an RTO overrun) keeps its sign."""
    if seconds is None:
        return "-"
    if seconds < 0:
        return "-" + format_duration(-seconds, "table")
    return format_duration(seconds, "table")


def _pct(value: float | None, signed: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:+.1f}%" if signed else f"{value:.1f}%"


def _ordered(trends: Sequence[Trend]) -> list[Trend]:
    return sorted(trends, key=lambda t: (-t.status.severity, t.client, t.target))


def _ends(trend: Trend) -> tuple[float, float] | None:
    """The latest estimate's interval as judged; None for a row from before intervals."""
    if trend.latest_low is None and trend.latest_high is None:
        return None
    return judged_interval(trend.latest, trend.latest_low, trend.latest_high)


def interval_text(trend: Trend) -> str:
    """``8.0s-14s``, the latest estimate's interval; "" for a row from before intervals."""
    ends = _ends(trend)
    if ends is None:
        return ""
    return f"{format_duration(ends[0], 'table')}-{format_duration(ends[1], 'table')}"


def _latest_text(trend: Trend) -> str:
    interval = interval_text(trend)
    return format_duration(trend.latest, "table") + (f" ({interval})" if interval else "")


def reason(trend: Trend) -> str:
    """A sentence with the numbers: why the trend fails (or how it stands)."""
    parts: list[str] = []
    latest = format_duration(trend.latest, "table")
    interval = interval_text(trend)
    if trend.breached and trend.rto_seconds is not None:
        rto = format_duration(trend.rto_seconds, "table")
        parts.append(f"estimated full restore {latest} ({trend.latest:.0f}s) exceeds RTO "
                     f"{rto} ({trend.rto_seconds:.0f}s)"
                     + (f" even at the low end of its interval {interval}" if interval else ""))
    ends = _ends(trend)
    if trend.at_risk and trend.rto_seconds is not None and ends is not None:
        rto = format_duration(trend.rto_seconds, "table")
        parts.append(f"RTO at risk: estimated full restore {latest} (interval {interval}) "
                     f"may exceed RTO {rto} ({trend.rto_seconds:.0f}s), its high end by "
                     f"{span(ends[1] - trend.rto_seconds)}")
    if trend.regressed and trend.median_previous is not None:
        median = format_duration(trend.median_previous, "table")
        parts.append(f"{trend.change_pct or 0:.1f}% slower than the median "
                     f"{median} ({trend.median_previous:.0f}s) "
                     f"of {trend.runs - 1} previous runs (threshold {trend.threshold_pct:g}% "
                     f"and at least {format_duration(trend.floor_seconds)} longer)")
    if not parts:
        head = (f"headroom {span(trend.headroom_seconds)} to RTO"
                if trend.headroom_seconds is not None else "no RTO recorded")
        parts.append(f"estimated full restore {latest}"
                     + (f" ({interval})" if interval else "") + f", {head}")
    return "; ".join(parts)


def failure_type(trend: Trend) -> str:
    return "rto_breach" if trend.breached else "regression"


def overall_status(trends: Sequence[Trend]) -> Status:
    """fail when any trend fails, warn when any RTO is at risk, else pass."""
    if any(t.status is Status.FAIL for t in trends):
        return Status.FAIL
    return Status.WARN if any(t.at_risk for t in trends) else Status.PASS


def _at_risk(trends: Sequence[Trend]) -> int:
    return sum(1 for t in trends if t.at_risk)


def _counts(trends: Sequence[Trend]) -> str:
    failing = sum(1 for t in trends if t.status is Status.FAIL)
    at_risk = _at_risk(trends)
    return (f"{len(trends)} targets, {failing} failing"
            + (f", {at_risk} at risk" if at_risk else ""))


def _flags(trend: Trend) -> list[str]:
    return [name for name, on in (("breach", trend.breached), ("regression", trend.regressed),
                                  ("at risk", trend.at_risk)) if on]


# ---------------------------------------------------------------- trend: table


def trend_table(trends: Sequence[Trend]) -> RenderableType:
    table = Table(title="RTO trend", title_justify="left")
    for name in ("client", "target", "runs", "trend", "latest", "median prev.", "change",
                 "RTO", "headroom", "status"):
        table.add_column(name, justify="left" if name in ("client", "target", "trend",
                                                            "status") else "right")
    for t in _ordered(trends):
        style = STYLE[t.status]
        status = status_text(t.status)
        if _flags(t):
            status.append(" " + ", ".join(_flags(t)))
        table.add_row(
            Text(visible(t.client)), Text(visible(t.target)), str(t.runs),
            Text(sparkline([v for _, v in t.series]), style=style),
            Text(_latest_text(t), style=STYLE[Status.FAIL] if t.breached
                 else STYLE[Status.WARN] if t.at_risk else ""),
            format_duration(t.median_previous, "table"),
            Text(_pct(t.change_pct), style="bold red" if t.regressed else ""),
            format_duration(t.rto_seconds, "table"),
            f"{span(t.headroom_seconds)} ({_pct(t.headroom_pct, signed=False)})"
            if t.headroom_seconds is not None else "-",
            status)
    return Group(table, Text.assemble("overall: ", status_text(overall_status(trends)),
                                      f"  ({_counts(trends)})"))


def plain_text(renderable: RenderableType, width: int = 160) -> str:
    """A rich renderable as plain text (no colours), for ``--out``."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False,
            highlight=False).print(renderable)
    return buffer.getvalue()


# ---------------------------------------------------------------- trend: json


def trend_document(trends: Sequence[Trend], threshold_pct: float | None,
                   floor_seconds: float = 300.0) -> dict[str, Any]:
    failing = [t for t in trends if t.status is Status.FAIL]
    doc: dict[str, Any] = {
        "schema": TREND_SCHEMA,
        "status": str(overall_status(trends)),
        "fail_on_regression_pct": threshold_pct,
        "regression_floor_seconds": floor_seconds,
        "targets": len(trends),
        "failing": len(failing),
        "at_risk": _at_risk(trends),
        "trends": [{
            "client": t.client, "target": t.target, "kind": t.kind, "status": str(t.status),
            "regressed": t.regressed, "breached": t.breached, "runs": t.runs,
            "latest_started_at": iso(t.latest_at),
            "latest_estimated_full_restore_seconds": round(t.latest, 3),
            "median_previous_seconds": (None if t.median_previous is None
                                        else round(t.median_previous, 3)),
            "change_pct": None if t.change_pct is None else round(t.change_pct, 3),
            "rto_seconds": t.rto_seconds,
            "headroom_seconds": (None if t.headroom_seconds is None
                                 else round(t.headroom_seconds, 3)),
            "headroom_pct": None if t.headroom_pct is None else round(t.headroom_pct, 3),
            "latest_drill_status": t.latest_drill_status,
            # the interval as recorded (null for a drill from before intervals), and where
            # the latest estimate stands on it, as restore.rto judged it
            "latest_estimate_low_seconds": _round(t.latest_low),
            "latest_estimate_high_seconds": _round(t.latest_high),
            "rto_standing": None if t.standing is None else str(t.standing),
            "at_risk": t.at_risk,
            "message": reason(t),
            "series": [{"started_at": iso(at), "estimated_full_restore_seconds": round(v, 3)}
                       for at, v in t.series],
        } for t in trends],
    }
    if not trends:
        doc["message"] = NO_DRILLS
    return doc


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


# ---------------------------------------------------------------- trend: junit

# XML 1.0 cannot hold most C0 controls, surrogates or U+FFFE/U+FFFF at all, escaped or not
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_chars(text: str) -> str:
    return _XML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def xml_text(text: object) -> str:
    """Untrusted text made storable in XML 1.0 (ElementTree escapes the markup itself)."""
    return _xml_chars(visible(text))


def trend_junit(trends: Sequence[Trend], threshold_pct: float | None) -> str:
    """JUnit XML as Jenkins, GitLab and GitHub reporters read it: one testcase per target."""
    failing = sum(1 for t in trends if t.status is Status.FAIL)
    total_time = sum(t.latest_drill_seconds for t in trends)
    counts = {"tests": str(len(trends)), "failures": str(failing), "errors": "0"}
    root = ET.Element("testsuites", {"name": "backupcheck", **counts,
                                     "time": f"{total_time:.3f}"})
    suite = ET.SubElement(root, "testsuite", {"name": JUNIT_SUITE, **counts, "skipped": "0",
                                              "time": f"{total_time:.3f}"})
    if trends:
        newest = max(t.latest_at for t in trends)
        suite.set("timestamp", as_utc(newest).strftime("%Y-%m-%dT%H:%M:%S"))
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", {
        "name": "fail_on_regression_pct",
        "value": "" if threshold_pct is None else f"{threshold_pct:g}"})
    # an RTO at risk is a warning, not a failure: counted here, said in the case's output
    ET.SubElement(properties, "property", {
        "name": "at_risk", "value": str(_at_risk(trends))})
    for t in _ordered(trends):
        case = ET.SubElement(suite, "testcase", {
            "classname": xml_text(t.client), "name": xml_text(t.target),
            "time": f"{t.latest_drill_seconds:.3f}"})
        if t.status is Status.FAIL:
            failure = ET.SubElement(case, "failure", {
                "message": xml_text(f"{t.client}/{t.target}: {reason(t)}"),
                "type": failure_type(t)})
            failure.text = _xml_chars(_numbers(t))
        out = ET.SubElement(case, "system-out")
        out.text = _xml_chars(f"{reason(t)}\nseries: " + ", ".join(
            f"{iso(at)}={v:.0f}s" for at, v in t.series))
    if not trends:
        ET.SubElement(suite, "system-out").text = NO_DRILLS
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _numbers(t: Trend) -> str:
    pairs = [("client", visible(t.client)), ("target", visible(t.target)),
             ("latest_started_at", iso(t.latest_at)),
             ("latest_estimated_full_restore_seconds", f"{t.latest:.3f}"),
             ("median_previous_seconds", "-" if t.median_previous is None
              else f"{t.median_previous:.3f}"),
             ("change_pct", "-" if t.change_pct is None else f"{t.change_pct:.2f}"),
             ("fail_on_regression_pct", "-" if t.threshold_pct is None
              else f"{t.threshold_pct:g}"),
             ("latest_estimate_low_seconds", "-" if t.latest_low is None
              else f"{t.latest_low:.3f}"),
             ("latest_estimate_high_seconds", "-" if t.latest_high is None
              else f"{t.latest_high:.3f}"),
             ("rto_standing", "-" if t.standing is None else str(t.standing)),
             ("rto_seconds", "-" if t.rto_seconds is None else f"{t.rto_seconds:.0f}"),
             ("headroom_seconds", "-" if t.headroom_seconds is None
              else f"{t.headroom_seconds:.3f}"),
             ("runs", str(t.runs))]
    return "\n".join(f"{k}={v}" for k, v in pairs)


# ---------------------------------------------------------------- trend: markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~!#])")


def md(text: object) -> str:
    """Untrusted text for one GitHub-flavoured markdown table cell."""
    escaped = _MD_SPECIAL.sub(r"\\\1", visible(text))
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def trend_markdown(trends: Sequence[Trend], threshold_pct: float | None) -> str:
    verdict = {Status.FAIL: "❌ FAIL", Status.WARN: "⚠️ WARN"}.get(overall_status(trends),
                                                                  "✅ PASS")
    rule = (f", regression threshold {threshold_pct:g}%" if threshold_pct is not None else "")
    if not trends:
        return f"### backupcheck RTO trend\n\n_{NO_DRILLS}_\n"
    lines = [f"### backupcheck RTO trend: {verdict}", "",
             f"{_counts(trends)}{rule}.", ""]
    lines += ["| status | client | target | runs | trend | latest | median prev. | change "
              "| RTO | headroom |",
              "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for t in _ordered(trends):
        if t.status is Status.FAIL:
            why = " + ".join(n for n, on in (("RTO breach", t.breached),
                                              ("regression", t.regressed)) if on)
            status = f"❌ fail: {why}" + (" (RTO at risk)" if t.at_risk else "")
        elif t.at_risk:
            status = "⚠️ warn: RTO at risk"
        else:
            status = "✅ pass"
        headroom = (f"{span(t.headroom_seconds)} ({_pct(t.headroom_pct, False)})"
                    if t.headroom_seconds is not None else "-")
        cells = [status, md(t.client), md(t.target), str(t.runs),
                 sparkline([v for _, v in t.series]), _latest_text(t),
                 format_duration(t.median_previous, "table"), _pct(t.change_pct),
                 format_duration(t.rto_seconds, "table"), headroom]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_trend(trends: Sequence[Trend], fmt: str, threshold_pct: float | None,
                 floor_seconds: float = 300.0) -> RenderableType | str:
    if fmt == "json":
        return dumps(trend_document(trends, threshold_pct, floor_seconds))
    if fmt == "junit":
        return trend_junit(trends, threshold_pct)
    if fmt == "markdown":
        return trend_markdown(trends, threshold_pct)
    return trend_table(trends)


def trend_output(result: TrendResult, fmt: str, out: Path | None = None,
                 chart: Path | None = None) -> RenderableType | str:
    """What ``backupcheck trend`` shows for ``result`` in ``fmt``, after drawing ``chart``.

    ``out`` receives the rendered output (tables as plain text) and the returned output is
    then a one-line note.
    """
    trends = list(result.trends)
    if chart is not None:
        render_chart(trends, chart)
    if not trends and fmt == "table" and out is None:
        return f"{NO_DRILLS} (looked in {result.history})"
    rendered = render_trend(trends, fmt, result.threshold_pct, result.floor_seconds)
    if out is None:
        return rendered
    text = rendered if isinstance(rendered, str) else plain_text(rendered)
    try:
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    return f"wrote {out} ({_counts(trends)})" if trends else f"wrote {out} ({NO_DRILLS})"
