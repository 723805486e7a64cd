"""History rows from a drill report: one runs row per restored target, one files row per
sampled file whose outcome is a :class:`backupcheck.model.FileOutcome`, one findings row per
check per target."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from backupcheck import __version__
from backupcheck.clock import as_utc
from backupcheck.history.schema import CLIENT_TARGET, PARTITION
from backupcheck.model import FILE_OUTCOMES, Finding, ManifestCheck, RunReport, Status


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _estimate_columns(method: Mapping[str, Any]) -> dict[str, Any]:
    """The restore estimate's method and fit (seconds = a + b*bytes) from ``estimate_method``."""
    name = method.get("method", method.get("name", ""))
    a = method.get("a_seconds_per_file", method.get("a_seconds", method.get("a")))
    return {
        "estimate_method": str(name) if name is not None else "",
        "estimate_a_seconds": _number(a),
        "estimate_b_seconds_per_byte": _number(
            method.get("b_seconds_per_byte", method.get("b"))),
        "estimate_inputs": json.dumps(dict(method), sort_keys=True, default=str),
    }


def _slice_columns(checks: Sequence[Finding]) -> dict[str, Any]:
    """The data slice ``restic check`` read this drill (``rotate/N``), from its finding; a
    check that could not run read nothing, so the rotation does not advance past it."""
    for check in checks:
        rotation = check.evidence.get("rotation")
        if check.id == "restic.integrity" and isinstance(rotation, Mapping) \
                and check.status is not Status.ERROR:
            return {"read_data_slice": rotation.get("slice"),
                    "read_data_slices": rotation.get("of")}
    return {}


def rows_from_report(run_id: str, started_at: datetime, report: RunReport,
                     plan_name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """History rows (runs, files) for every target of ``report`` that has a restore."""
    moment = as_utc(started_at)
    runs: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    for client in report.clients:
        for target in client.targets:
            restore = target.restore
            if restore is None:
                continue
            key = {"run_id": run_id, "started_at": moment, PARTITION: client.client,
                   "target": target.target}
            runs.append({
                **key, "kind": target.kind, "status": str(target.status), "plan": plan_name,
                "seed": restore.seed, "snapshot": restore.snapshot,
                "sampled": restore.sampled, "verified": restore.verified,
                "mismatched": restore.mismatched, "unreadable": restore.unreadable,
                "unproven": restore.unproven, "retries": restore.retries,
                "bytes": restore.bytes, "seconds": restore.seconds,
                "ttfb_seconds": restore.ttfb_seconds,
                "throughput_bytes_per_s": restore.throughput_bytes_per_s,
                "total_bytes": restore.total_bytes, "total_files": restore.total_files,
                # no estimate (nothing could be read) is null, not a 0 s "improvement"
                "estimated_full_restore_seconds": (restore.estimated_full_restore_seconds
                                                   if restore.estimate_method else None),
                "estimate_low_seconds": (restore.estimate_low_seconds
                                         if restore.estimate_method else None),
                "estimate_high_seconds": (restore.estimate_high_seconds
                                          if restore.estimate_method else None),
                "rto_seconds": restore.rto_seconds, "coverage": restore.coverage,
                **_estimate_columns(restore.estimate_method), "tool_version": __version__,
                "manifest": restore.manifest.location,
                "manifest_problem": restore.manifest.problem,
                "manifest_detail": restore.manifest.detail,
                "missing": restore.manifest.missing,
                "size_differs": restore.manifest.size_differs,
                **_slice_columns(target.checks), "shard": report.shard,
            })
            files.extend(
                {**key, "path": f.path, "size": f.size, "xxh3_128": f.xxh3_128 or None,
                 "result": f.result, "bytes": f.bytes, "seconds": f.seconds,
                 "ttfb_seconds": f.ttfb_seconds, "mtime_ns": f.mtime_ns,
                 "version_id": f.version_id or None, "truth": f.truth or None,
                 "note": f.detail or None, "expected_xxh3_128": f.expected_xxh3_128 or None}
                for f in restore.files if f.result in FILE_OUTCOMES)
    return runs, files


def findings_from_report(run_id: str, started_at: datetime,
                         report: RunReport) -> list[dict[str, Any]]:
    """One findings row per check per target of ``report`` (a muted one as ``muted``)."""
    moment = as_utc(started_at)
    rows: list[dict[str, Any]] = []
    for client in report.clients:
        owners = [(CLIENT_TARGET, "", client.findings),
                  *((t.target, t.kind, t.checks) for t in client.targets)]
        rows.extend({"run_id": run_id, "started_at": moment, PARTITION: client.client,
                     "target": target, "kind": kind, "check": check.id,
                     "status": str(check.status), "message": check.message}
                    for target, kind, checks in owners for check in checks)
    return rows


def manifest_check_from_row(row: Mapping[str, Any]) -> ManifestCheck:
    """The manifest check a runs row recorded (empty for rows from before it was kept)."""
    problem = str(row.get("manifest_problem") or "")
    return ManifestCheck(
        location=str(row.get("manifest") or ""),
        problem=problem if problem in ("wrong", "unavailable") else "",  # type: ignore[arg-type]
        detail=str(row.get("manifest_detail") or ""), missing=int(row.get("missing") or 0),
        size_differs=int(row.get("size_differs") or 0))
