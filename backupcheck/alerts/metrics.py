"""Publishing a run's metrics: the node_exporter textfile and the Pushgateway.

Both behave alike: a run replaces, per client, the metric families it reports and leaves the
others. A ``verify`` therefore keeps the restore figures of the last drill, a ``--client`` or
sharded run keeps every other client's series, and the Pushgateway (``job="backupcheck"``,
grouped by ``client``) is sent a POST, which replaces the same families of that group only.

The textfile is rewritten under a lock (runs may overlap) through :func:`atomic.write_atomic`:
the collector reads the old file or the whole new one, never a half. Its temporary name does
not end in ``.prom``, so the collector never reads it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path

from backupcheck.atomic import write_atomic
from backupcheck.model import RunReport
from backupcheck.report.prometheus import BY_NAME, Sample, families, registry_of, render_text
from backupcheck.report.prometheus import report_samples as samples_of

log = logging.getLogger(__name__)

JOB = "backupcheck"
PUSH_TIMEOUT_SECONDS = 10.0

Samples = dict[str, dict[str, list[Sample]]]


def merge(old: Samples, new: Samples) -> Samples:
    """``old`` with, per client of ``new``, the families ``new`` has replaced."""
    merged = {client: dict(by_family) for client, by_family in old.items()}
    for client, by_family in new.items():
        merged.setdefault(client, {}).update(by_family)
    return merged


def parse_textfile(text: str) -> Samples:
    """The backupcheck series of an earlier textfile (anything else in it is dropped)."""
    found: Samples = {}
    from prometheus_client.parser import text_string_to_metric_families

    for metric in text_string_to_metric_families(text):
        family = BY_NAME.get(metric.name)
        if family is None:
            continue
        for sample in metric.samples:
            if sample.name != family.name or not all(k in sample.labels for k in family.labels):
                continue
            labels = tuple(sample.labels[k] for k in family.labels)
            found.setdefault(labels[0], {}).setdefault(family.name, []).append(
                (labels, float(sample.value)))
    return found


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Overlapping runs take turns at the read-merge-write of one textfile."""
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_textfile(path: Path, report: RunReport) -> list[str]:
    """Merge the run into the textfile at ``path``; warnings instead of errors."""
    try:
        with _locked(path):
            old: Samples = {}
            try:
                old = parse_textfile(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                pass
            except (ValueError, UnicodeDecodeError, IndexError) as exc:
                log.info("metrics textfile %s could not be parsed, replacing it: %s", path, exc)
            write_atomic(path, render_text(families(merge(old, samples_of(report)))))
    except OSError as exc:
        return [f"metrics textfile {path} not written: {exc.strerror or exc}"]
    return []


def push(gateway: str, report: RunReport) -> list[str]:
    """Push each client's series to its group of the Pushgateway."""
    from prometheus_client.exposition import pushadd_to_gateway

    warnings = []
    for client, by_family in samples_of(report).items():
        try:
            pushadd_to_gateway(gateway, job=JOB, grouping_key={"client": client},
                               registry=registry_of(families({client: by_family})),
                               timeout=PUSH_TIMEOUT_SECONDS)
        except OSError as exc:  # URLError, HTTPError, timeouts: all OSError
            reason = getattr(exc, "reason", None) or exc.strerror or exc
            warnings.append(f"metrics of client {client} not pushed to the Pushgateway: "
                            f"{reason}")
    return warnings


def publish(report: RunReport, textfile: Path | None, pushgateway: str) -> list[str]:
    """Every configured metrics destination; the warnings of those that failed."""
    warnings: list[str] = []
    if textfile is not None:
        warnings += write_textfile(textfile, report)
    if pushgateway:
        warnings += push(pushgateway, report)
    return warnings
