"""A run as Prometheus metrics: the SPEC names, one series per client/target.

Names follow the Prometheus conventions (base units in the name, ``_seconds``, ``_bytes``,
``_ratio``); every series carries ``client`` and ``target``. A status is one gauge per status
value (``backupcheck_check_status{client,target,check,status}`` is 1 for the current status
and 0 for the others), so an alert is a plain ``== 1`` and a dashboard can count by status.
Restore figures appear only for targets a drill restored from. The estimate's interval is
published as ``restore.rto`` judges it (:func:`backupcheck.restore.standing.judged_interval`),
so an alert on ``backupcheck_estimated_full_restore_low_seconds > backupcheck_rto_seconds``
fires exactly when the check fails and one on the high end when it warns or fails.

This module builds metric families from a :class:`RunReport` and renders them as text; where
they go (a textfile, a Pushgateway) is ``alerts/metrics.py``'s business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backupcheck.clock import parse_iso
from backupcheck.model import RestoreResult, RunReport, Status, TargetResult
from backupcheck.restore.standing import judged_interval

if TYPE_CHECKING:  # prometheus_client is imported when metrics are written, not at start-up
    from prometheus_client.core import Metric
    from prometheus_client.registry import CollectorRegistry

#: every status value a status gauge has a series for
STATUS_VALUES: tuple[str, ...] = tuple(str(s) for s in Status)
TARGET_LABELS = ("client", "target")


@dataclass(frozen=True)
class Family:
    """One metric family's name, help text and label names."""

    name: str
    help: str
    labels: tuple[str, ...] = TARGET_LABELS


CHECK_STATUS = Family("backupcheck_check_status",
                      "1 for the check's current status, 0 for the other status values "
                      "(muted: an accepted risk, counted as pass)",
                      ("client", "target", "check", "status"))
TARGET_STATUS = Family("backupcheck_target_status",
                       "1 for the target's current status (the worst of its checks), 0 for "
                       "the other status values", ("client", "target", "status"))
LAST_RUN = Family("backupcheck_last_run_timestamp_seconds",
                  "when the last verify or drill of the target finished (Unix time)")
LAST_DRILL = Family("backupcheck_last_drill_timestamp_seconds",
                    "when the last restore drill of the target finished (Unix time)")

def _interval(result: RestoreResult) -> tuple[float, float]:
    return judged_interval(result.estimated_full_restore_seconds, result.estimate_low_seconds,
                           result.estimate_high_seconds)


#: restore figures: family, how to read it from a drill's result, and whether it needs the
#: drill to have read something (a throughput of nothing is no figure)
RESTORE: tuple[tuple[Family, Callable[[RestoreResult], float], bool], ...] = (
    (Family("backupcheck_restore_throughput_bytes_per_second",
            "restore throughput measured on the drill's sample"),
     lambda r: r.throughput_bytes_per_s, True),
    (Family("backupcheck_estimated_full_restore_seconds",
            "estimated time of a full restore of the drilled backup"),
     lambda r: r.estimated_full_restore_seconds, True),
    (Family("backupcheck_estimated_full_restore_low_seconds",
            "low end of the estimate's interval: restore.rto fails when it exceeds the RTO"),
     lambda r: _interval(r)[0], True),
    (Family("backupcheck_estimated_full_restore_high_seconds",
            "high end of the estimate's interval (never below the estimate): restore.rto "
            "warns when only it exceeds the RTO"),
     lambda r: _interval(r)[1], True),
    (Family("backupcheck_restore_ttfb_seconds",
            "median time to the first byte of a sampled file"),
     lambda r: r.ttfb_seconds, True),
    (Family("backupcheck_rto_seconds", "the client's recovery time objective"),
     lambda r: r.rto_seconds, False),
    (Family("backupcheck_coverage_ratio",
            "share of the backup's files some drill has restored and proven right"),
     lambda r: r.coverage, False),
    (Family("backupcheck_restore_sampled_files", "files the drill sampled"),
     lambda r: r.sampled, False),
    (Family("backupcheck_restore_verified_files", "sampled files restored and proven right"),
     lambda r: r.verified, False),
    (Family("backupcheck_restore_mismatched_files",
            "sampled files whose digest or size differs from the ground truth"),
     lambda r: r.mismatched, False),
    (Family("backupcheck_restore_unreadable_files", "sampled files that could not be read"),
     lambda r: r.unreadable, False),
    (Family("backupcheck_backup_size_bytes", "size of the drilled backup"),
     lambda r: r.total_bytes, False),
)
FAMILIES: tuple[Family, ...] = (CHECK_STATUS, TARGET_STATUS, LAST_RUN, LAST_DRILL,
                                *(f for f, _, _ in RESTORE))
BY_NAME = {f.name: f for f in FAMILIES}

#: one sample: its labels (in the family's label order) and value
Sample = tuple[tuple[str, ...], float]


def _one_hot(current: Status) -> Iterator[tuple[str, float]]:
    for value in STATUS_VALUES:
        yield value, 1.0 if value == str(current) else 0.0


def report_samples(report: RunReport) -> dict[str, dict[str, list[Sample]]]:
    """``client -> family name -> samples`` of one run (families without a sample omitted)."""
    finished = parse_iso(report.finished_at).timestamp()
    out: dict[str, dict[str, list[Sample]]] = {}
    for client in report.clients:
        families: dict[str, list[Sample]] = {}

        def add(family: Family, labels: tuple[str, ...], value: float,
                into: dict[str, list[Sample]] = families) -> None:
            into.setdefault(family.name, []).append((labels, float(value)))

        for target in client.targets:
            key = (client.client, target.target)
            for check in target.checks:
                for status, value in _one_hot(check.status):
                    add(CHECK_STATUS, (*key, check.id, status), value)
            for status, value in _one_hot(target.status):
                add(TARGET_STATUS, (*key, status), value)
            add(LAST_RUN, key, finished)
            _restore_samples(target, key, finished, add)
        out[client.client] = families
    return out


def _restore_samples(target: TargetResult, key: tuple[str, str], finished: float,
                     add: Callable[[Family, tuple[str, ...], float], None]) -> None:
    restore = target.restore
    if restore is None:
        return
    add(LAST_DRILL, key, finished)
    measured = bool(restore.estimate_method)  # empty when no sampled file could be read
    for family, value_of, needs_measure in RESTORE:
        if measured or not needs_measure:
            add(family, key, value_of(restore))


def families(samples: dict[str, dict[str, list[Sample]]]) -> list[Metric]:
    """Metric families for ``client -> family -> samples``, in :data:`FAMILIES` order."""
    from prometheus_client.core import GaugeMetricFamily

    metrics: list[Metric] = []
    for family in FAMILIES:
        rows = [row for by_family in samples.values() for row in by_family.get(family.name, ())]
        if not rows:
            continue
        gauge = GaugeMetricFamily(family.name, family.help, labels=list(family.labels))
        for labels, value in sorted(rows, key=lambda row: row[0]):
            gauge.add_metric(list(labels), value)
        metrics.append(gauge)
    return metrics


class _Fixed:
    """A collector that hands out metric families built beforehand."""

    def __init__(self, metrics: Sequence[Metric]) -> None:
        self.metrics = list(metrics)

    def collect(self) -> Iterable[Metric]:
        return iter(self.metrics)


def registry_of(metrics: Sequence[Metric]) -> CollectorRegistry:
    from prometheus_client.registry import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(metrics))
    return registry


def render_text(metrics: Sequence[Metric]) -> bytes:
    """The Prometheus text exposition format."""
    from prometheus_client.exposition import generate_latest

    return generate_latest(registry_of(metrics))
