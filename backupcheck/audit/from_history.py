"""Restore results and findings rebuilt from history rows: the way back of
``history.rows_from_report``.

The history keeps each drill's figures and sampled files, not its findings. The
``restore.sample`` and ``restore.rto`` findings are judged again from the recorded figures,
against the client's RTO as agreed today, and each says which drill it comes from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from backupcheck.audit.model import DEFAULT_MAX_DRILL_AGE_SECONDS, RestoreOrigin
from backupcheck.audit_verdict import no_recent_drill
from backupcheck.checks.registry import finding
from backupcheck.clock import as_utc, iso
from backupcheck.history import manifest_check_from_row
from backupcheck.model import (
    Client,
    FileOutcome,
    FileResult,
    Finding,
    RestoreResult,
    Status,
    TargetResult,
)
from backupcheck.restore.drill import problems_of, rto_finding, sample_finding
from backupcheck.units import format_duration

NO_DRILL = "no restore drill of this target in the history: run the audit with --run-drill"


def restore_from_history(row: dict[str, Any], files: Sequence[dict[str, Any]],
                         client: Client) -> RestoreResult:
    """A :class:`RestoreResult` rebuilt from one runs row and its files rows.

    The history keeps each file's restored digest, its expected one and where that came
    from (``truth``); rows written before the expected digest was kept have it only for
    ``ok`` files (equal to the restored one).
    """
    try:
        method = json.loads(row.get("estimate_inputs") or "{}")
    except ValueError:
        method = {}
    results = [FileResult(
        path=str(f["path"]), size=int(f.get("size") or 0), bytes=int(f.get("bytes") or 0),
        seconds=float(f.get("seconds") or 0.0), ttfb_seconds=float(f.get("ttfb_seconds") or 0.0),
        result=FileOutcome(str(f.get("result") or "unreadable")),
        xxh3_128=str(f.get("xxh3_128") or ""),
        expected_xxh3_128=str(f.get("expected_xxh3_128") or
                              (f.get("xxh3_128") if f.get("result") == "ok" else "") or ""),
        truth=str(f.get("truth") or ""), detail=str(f.get("note") or ""))
        for f in files]
    problems = problems_of(results)
    estimate = row.get("estimated_full_restore_seconds")

    def integer(name: str) -> int:
        return int(row.get(name) or 0)

    def number(name: str) -> float:
        return float(row.get(name) or 0.0)

    return RestoreResult(
        seed=integer("seed"), snapshot=str(row.get("snapshot") or ""),
        sampled=integer("sampled"), verified=integer("verified"),
        mismatched=integer("mismatched"), unreadable=integer("unreadable"),
        unproven=integer("unproven"), bytes=integer("bytes"), seconds=number("seconds"),
        ttfb_seconds=number("ttfb_seconds"),
        throughput_bytes_per_s=number("throughput_bytes_per_s"),
        total_bytes=integer("total_bytes"), total_files=integer("total_files"),
        estimated_full_restore_seconds=float(estimate) if estimate is not None else 0.0,
        estimate_low_seconds=_bound(row, "estimate_low_seconds", estimate),
        estimate_high_seconds=_bound(row, "estimate_high_seconds", estimate),
        # judged against the RTO agreed today, not the one in force at the drill
        rto_seconds=client.rto_seconds, coverage=number("coverage"), retries=integer("retries"),
        problems=problems, files=tuple(results),
        estimate_method=_method(row, method) if estimate is not None else {},
        # missing files and a wrong or unreadable manifest stay what they were judged
        manifest=manifest_check_from_row(row),
    )


def _bound(row: dict[str, Any], name: str, estimate: Any) -> float:
    """One end of the recorded interval; a row from before intervals has the point only."""
    value = row.get(name)
    if value is None:
        value = estimate
    return float(value) if value is not None else 0.0


def _method(row: dict[str, Any], recorded: Any) -> dict[str, Any]:
    """The estimate's method as recorded; rows written without it still had an estimate."""
    if isinstance(recorded, dict) and recorded:
        return recorded
    return {"method": str(row.get("estimate_method") or "recorded"), "source": "history"}


def _from_drill(judged: Finding, row: dict[str, Any], age: float) -> Finding:
    """``judged`` saying which recorded drill its figures come from, and how old it is."""
    started = as_utc(row["started_at"])
    recorded = {"run_id": row["run_id"], "started_at": iso(started), "age_seconds": round(age)}
    if row.get("rto_seconds") is not None:
        recorded["rto_seconds_at_drill"] = row["rto_seconds"]
    return replace(judged,
                   message=f"{judged.message} — drill of {started:%Y-%m-%d %H:%M} UTC, "
                           f"{format_duration(age, 'words')} ago",
                   evidence={**judged.evidence, "recorded_drill": recorded})


def _stale(target: TargetResult, row: dict[str, Any], age: float,
           max_age: float) -> tuple[TargetResult, RestoreOrigin]:
    """``target`` whose newest drill is older than ``max_age``: its figures are no evidence,
    so ``restore.*`` are ``error`` and the target carries no restore figures."""
    started = as_utc(row["started_at"])
    head = (f"{no_recent_drill(max_age)}: the newest drill of this backup set ran "
            f"{started:%Y-%m-%d %H:%M} UTC, {format_duration(age, 'words')} ago")
    evidence = {"recorded_drill": {"run_id": row["run_id"], "started_at": iso(started),
                                   "age_seconds": round(age)},
                "max_drill_age_seconds": round(max_age)}
    stale = (finding("restore.sample", Status.ERROR,
                     f"{head}; its sampled restores are not evidence of today's backups",
                     {**evidence, "error": head}),
             finding("restore.rto", Status.ERROR,
                     f"{head}; its restore time is not evidence of today's RTO",
                     {**evidence, "error": head}))
    origin = RestoreOrigin("history", str(row["run_id"]), started, age, stale=True)
    return replace(target, checks=(*target.checks, *stale)), origin


def restore_target(target: TargetResult, client: Client, row: dict[str, Any] | None,
                   files: Sequence[dict[str, Any]], moment: datetime,
                   max_age: float = DEFAULT_MAX_DRILL_AGE_SECONDS
                   ) -> tuple[TargetResult, RestoreOrigin]:
    """``target`` with the restore of its newest recorded drill ``row`` (None: none) and the
    ``restore.*`` findings judged again from it, as of ``moment``; a drill older than
    ``max_age`` seconds is no evidence (:func:`_stale`)."""
    if row is None:
        missing = (finding("restore.sample", Status.ERROR, NO_DRILL, {"error": NO_DRILL}),
                   finding("restore.rto", Status.ERROR, NO_DRILL, {"error": NO_DRILL}))
        return replace(target, checks=(*target.checks, *missing)), RestoreOrigin("none")
    started = as_utc(row["started_at"])
    age = max(0.0, (moment - started).total_seconds())
    if age > max_age:
        return _stale(target, row, age, max_age)
    restore = restore_from_history(row, files, client)
    method = restore.estimate_method
    notes = method.get("sample_notes", [])
    judged = (sample_finding(restore, str(method.get("ground_truth", "")),
                             notes if isinstance(notes, list) else []),
              rto_finding(restore))
    checks = (*target.checks, *(_from_drill(f, row, age) for f in judged))
    origin = RestoreOrigin("history", str(row["run_id"]), started, age)
    return replace(target, checks=checks, restore=restore), origin


def newest_per_target(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The newest runs row of each target (``rows`` oldest first, as the history reads)."""
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:  # oldest first: later rows win
        newest[str(row["target"])] = row
    return newest


def restore_targets(targets: Sequence[TargetResult], client: Client,
                    runs: Sequence[dict[str, Any]], files: Sequence[dict[str, Any]],
                    moment: datetime, max_age: float = DEFAULT_MAX_DRILL_AGE_SECONDS
                    ) -> tuple[list[TargetResult], dict[str, RestoreOrigin]]:
    """Every target of ``targets`` with the restore of its newest drill in ``runs`` (runs
    rows, oldest first) and ``files`` (files rows), and where each target's came from; a
    drill older than ``max_age`` seconds is no evidence."""
    newest = newest_per_target(runs)
    run_ids = {row["run_id"] for row in newest.values()}
    files = [f for f in files if f["run_id"] in run_ids]
    results: list[TargetResult] = []
    origins: dict[str, RestoreOrigin] = {}
    for target in targets:
        row = newest.get(target.target)
        own = [f for f in files if row is not None and f["run_id"] == row["run_id"]
               and f["target"] == target.target]
        result, origins[target.target] = restore_target(target, client, row, own, moment,
                                                        max_age)
        results.append(result)
    return results, origins
