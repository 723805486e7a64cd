"""The metrics carry the estimate's interval and the shipped alert rules fire on it, as
``restore.rto`` judges (issue 17): the breach alert on the low end (the check fails), the
headroom alert on the high end (above the RTO the check warns). The rules are evaluated here
without promtool, on the exposition text the metrics writer produces.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from backupcheck.model import ClientResult, RestoreResult, RunReport, TargetResult
from backupcheck.report.prometheus import families, render_text, report_samples
from backupcheck.restore.verdict import rto_finding

ROOT = Path(__file__).resolve().parent.parent
SPEC_METRICS = ("backupcheck_check_status", "backupcheck_restore_throughput_bytes_per_second",
                "backupcheck_estimated_full_restore_seconds", "backupcheck_rto_seconds",
                "backupcheck_coverage_ratio", "backupcheck_last_run_timestamp_seconds")
LOW, HIGH = ("backupcheck_estimated_full_restore_low_seconds",
             "backupcheck_estimated_full_restore_high_seconds")


def drill_report(point: float, low: float, high: float, rto: float = 10.0) -> RunReport:
    result = RestoreResult(
        seed=1, snapshot="a1b2c3d4", sampled=4, verified=4, mismatched=0, unreadable=0,
        unproven=0, bytes=4000, seconds=0.5, ttfb_seconds=0.01, throughput_bytes_per_s=8000.0,
        total_bytes=10_000, total_files=10, estimated_full_restore_seconds=point,
        rto_seconds=rto, coverage=0.4, retries=0, problems=(), files=(),
        estimate_method={"method": "restore model"}, estimate_low_seconds=low,
        estimate_high_seconds=high)
    target = TargetResult("fs1", "restic", (rto_finding(result),), result)
    return RunReport("drill", "2026-11-22T03:00:00Z", "2026-11-22T03:01:00Z",
                     (ClientResult("acme", (target,)),))


def series(report: RunReport) -> dict[str, dict[tuple[str, ...], float]]:
    """Family name -> labels (sorted items) -> value, read back from the exposition text."""
    text = render_text(families(report_samples(report))).decode()
    out: dict[str, dict[tuple[str, ...], float]] = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge", family.name
        for sample in family.samples:
            labels = tuple(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out.setdefault(sample.name, {})[labels] = sample.value
    return out


def test_metrics_carry_both_ends_of_the_interval() -> None:
    found = series(drill_report(11.0, 8.0, 14.0))
    assert set(SPEC_METRICS) <= set(found)
    key = ("client=acme", "target=fs1")
    assert found["backupcheck_estimated_full_restore_seconds"] == {key: 11.0}
    assert found[LOW] == {key: 8.0} and found[HIGH] == {key: 14.0}
    # a high end below the point is the point, as restore.rto judges it
    assert series(drill_report(11.0, 9.0, 10.5))[HIGH] == {key: 11.0}


RULE = re.compile(r"^\s*(backupcheck_\w+)\s*>\s*(?:([0-9.]+)\s*\*\s*)?(backupcheck_\w+)\s*$")


def firing(expr: str, found: dict[str, dict[tuple[str, ...], float]]) -> set[tuple[str, ...]]:
    """The series a rule of the form ``A > B`` or ``A > k * B`` fires for (one-to-one on
    identical labels, as PromQL matches two instant vectors)."""
    match = RULE.match(expr)
    assert match, f"the rule test evaluates only 'A > [k *] B', not {expr!r}"
    left, factor, right = match.group(1), float(match.group(2) or 1.0), match.group(3)
    return {labels for labels, value in found.get(left, {}).items()
            if labels in found.get(right, {}) and value > factor * found[right][labels]}


def shipped_rules() -> dict[str, str]:
    rules = yaml.safe_load((ROOT / "docs/alerting/backupcheck.rules.yml").read_text())
    (group,) = rules["groups"]
    return {rule["alert"]: rule["expr"] for rule in group["rules"]}


@pytest.mark.parametrize(("point", "low", "high", "breached", "headroom_low"), [
    pytest.param(11.0, 10.5, 14.0, True, True, id="low-over"),
    pytest.param(11.0, 8.0, 14.0, False, True, id="point-over-low-within"),
    pytest.param(9.0, 7.0, 12.0, False, True, id="point-within-high-over"),
    pytest.param(7.5, 7.0, 8.5, False, True, id="high-within-20pct-of-rto"),
    pytest.param(5.0, 4.0, 6.0, False, False, id="all-within"),
])
def test_alert_rules_fire_on_the_ends_of_the_interval(point: float, low: float, high: float,
                                                      breached: bool,
                                                      headroom_low: bool) -> None:
    report = drill_report(point, low, high)
    found, rules = series(report), shipped_rules()
    assert bool(firing(rules["BackupcheckRtoBreached"], found)) is breached
    assert bool(firing(rules["BackupcheckRtoHeadroomLow"], found)) is headroom_low
    # the breach alert fires exactly when restore.rto fails
    (target,) = report.clients[0].targets
    (check,) = target.checks
    assert (str(check.status) == "fail") is breached
