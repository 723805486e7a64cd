"""Findings judged from an S3 Inventory report: they say so, and an old report is no pass.

The per-object checks judge the same facts whether a HEAD or a report supplied them
(``backends/s3_inventory.py``); this module adds what the report changes. Each of them names
the report and its age in ``evidence.report``. A report older than the client's ``rpo`` may
miss everything written since, so what would pass is ``warn``. A report carries the
encryption algorithm of each object but not its KMS key: with ``kms_key_id`` in the policy,
``s3.objects.encrypted`` judges the algorithm alone and is at best ``warn``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from backupcheck.backends.s3_facts import S3Facts
from backupcheck.checks.registry import finding
from backupcheck.model import Finding, Status
from backupcheck.units import format_duration

#: the checks whose facts the report supplies instead of the bucket's listing and HEADs
REPORT_CHECKS = ("s3.objects.locked", "s3.objects.encrypted", "s3.objects.overwritten",
                 "s3.delete_markers", "s3.freshness")


def _warn(found: Finding, why: str) -> Finding:
    if found.status is not Status.PASS:
        return found
    return finding(found.id, Status.WARN, f"{found.message}; {why}", found.evidence)


def from_report(facts: S3Facts, findings: Sequence[Finding],
                judge: Callable[[str, S3Facts], Finding]) -> list[Finding]:
    """``findings`` with the report's evidence, and downgraded as the module docstring says;
    ``judge(id, facts)`` judges one check again (for the KMS key the report cannot tell)."""
    report = facts.scan.report if facts.scan is not None else None
    if report is None:
        return list(findings)
    age = float(report["age_seconds"])
    stale = age > facts.rpo_seconds
    out: list[Finding] = []
    for found in findings:
        if found.id not in REPORT_CHECKS:
            out.append(found)
            continue
        if found.id == "s3.objects.encrypted" and facts.policy.kms_key_id:
            algorithm_only = replace(facts, policy=replace(facts.policy, kms_key_id=""))
            found = _warn(judge(found.id, algorithm_only), "the inventory report does not "
                          "carry each object's KMS key, so the key is unproven")
        found = replace(found, evidence={**found.evidence, "report": report},
                        message=f"{found.message} (from the inventory report of "
                        f"{report['created']}, {format_duration(max(age, 0.0))} old)")
        if stale:
            found = _warn(found, f"the report is older than rpo "
                          f"{format_duration(facts.rpo_seconds)}")
        out.append(found)
    return out
