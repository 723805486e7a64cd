"""The restore drill of one target: sample, stream, compare, time, estimate, judge.

List the chosen backup; sample files (seeded, favouring files no earlier drill verified);
stream each through xxh3-128 on ``jobs`` parallel streams and compare with the ground truth;
fit the restore-time model and judge ``restore.sample`` and ``restore.rto``. The command that
runs this over every target, after the policy checks, is :mod:`backupcheck.commands.drill`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from backupcheck.backends.base import Backend, Catalog, CatalogEntry
from backupcheck.checks.registry import finding
from backupcheck.engine import seed_for
from backupcheck.errors import BackupcheckError
from backupcheck.model import (
    Client,
    FileOutcome,
    FileResult,
    Finding,
    Plan,
    Problem,
    RestoreResult,
    RunReport,
    Status,
    Target,
)
from backupcheck.restore.estimate import estimate_full_restore
from backupcheck.restore.sampler import choose_sample
from backupcheck.restore.stream import DEFAULT_IDLE_TIMEOUT, Watchdog, restore_one
from backupcheck.restore.truth import GroundTruth
from backupcheck.units import format_duration


class DrillHistory(Protocol):
    """What a drill needs of the history: earlier verified files, and a place to record."""

    def verified_paths(self, client: str, target: str) -> set[str]: ...

    def append(self, run_id: str, started_at: datetime, report: RunReport,
               plan_name: str) -> None: ...


@dataclass(frozen=True)
class DrillOptions:
    plan: Plan
    #: ``--seed``: the same seed for every target; None derives one per target from the date
    seed: int | None
    jobs: int
    history: DrillHistory | None = None
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    now: datetime | None = None


def target_seed(options: DrillOptions, moment: datetime, client: str, target: str) -> int:
    """``--seed`` as given, else derived from the UTC date, the client and the target.

    The report shows the seed each target used; ``--seed`` with it repeats that sample.
    """
    if options.seed is not None:
        return options.seed
    return seed_for(client, target, int(moment.strftime("%Y%m%d")))


def new_run_id(moment: datetime) -> str:
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _problems(files: Sequence[FileResult]) -> tuple[Problem, ...]:
    problems = []
    for f in files:
        if f.result.failed:
            expected = f.expected_xxh3_128 if f.result is FileOutcome.DIGEST else ""
            actual = f.xxh3_128 if f.result is FileOutcome.DIGEST else f.detail
            if f.result is FileOutcome.SIZE:
                expected, actual = str(f.size), f"{f.bytes} bytes ({f.detail})"
            problems.append(Problem(f.path, f.result.value, expected,  # type: ignore[arg-type]
                                    actual))
    return tuple(problems)


def sample_finding(result: RestoreResult, truth: str, notes: Sequence[str]) -> Finding:
    evidence = {"seed": result.seed, "snapshot": result.snapshot, "sampled": result.sampled,
                "verified": result.verified, "mismatched": result.mismatched,
                "unreadable": result.unreadable, "unproven": result.unproven,
                "ground_truth": truth, "notes": list(notes),
                "problems": [p.to_json() for p in result.problems[:20]]}
    if result.sampled == 0:
        return finding("restore.sample", Status.FAIL, "the backup holds no files to restore",
                       evidence)
    bad = result.mismatched + result.unreadable + sum(p.reason == "missing"
                                                       for p in result.problems)
    if bad:
        kinds = sorted({p.reason for p in result.problems})
        return finding("restore.sample", Status.FAIL,
                       f"{bad} of {result.sampled} sampled files did not restore correctly "
                       f"({', '.join(kinds)})", evidence)
    if result.unproven:
        return finding("restore.sample", Status.WARN,
                       f"{result.unproven} of {result.sampled} files restored but unproven: no "
                       "ground truth (no manifest, no xxh3-128 metadata, no source)", evidence)
    return finding("restore.sample", Status.PASS,
                   f"{result.verified} of {result.sampled} sampled files restored byte for byte",
                   evidence)


def rto_finding(result: RestoreResult) -> Finding:
    evidence = {"estimated_full_restore_seconds": round(result.estimated_full_restore_seconds, 3),
                "rto_seconds": result.rto_seconds, **dict(result.estimate_method)}
    if not result.estimate_method:
        return finding("restore.rto", Status.ERROR,
                       "cannot estimate the restore time: no sampled file could be read",
                       evidence)
    estimate, rto = result.estimated_full_restore_seconds, result.rto_seconds
    text = f"estimated full restore {format_duration(estimate)} (rto {format_duration(rto)})"
    return finding("restore.rto", Status.FAIL if estimate > rto else Status.PASS, text, evidence)


def restore_target(client: Client, target: Target, backend: Backend, options: DrillOptions,
                   seed: int, now: datetime) -> tuple[RestoreResult, list[Finding]]:
    plan = options.plan
    catalog: Catalog = backend.catalog(plan, seed, now)
    verified_before: set[str] = set()
    if options.history is not None:
        verified_before = set(options.history.verified_paths(client.name, target.name))
    sample = choose_sample(catalog.entries, plan,
                           seed, verified_before if plan.prefer_unverified else ())
    truth = GroundTruth(client, target, backend)
    watchdog = Watchdog(options.idle_timeout)
    started = time.monotonic()
    try:
        def one(entry: CatalogEntry) -> FileResult:
            try:
                expected = truth.expected(entry)
            except (BackupcheckError, OSError) as exc:
                return FileResult(entry.path, entry.size, 0, 0.0, 0.0, FileOutcome.UNREADABLE,
                                  detail=f"ground truth lookup failed: {exc}")
            return restore_one(lambda: backend.open_file(catalog, entry), entry, expected,
                               watchdog)

        with ThreadPoolExecutor(max_workers=max(1, options.jobs),
                                thread_name_prefix="restore") as pool:
            files = list(pool.map(one, sample.entries))
    finally:
        watchdog.close()
    wall = time.monotonic() - started
    moved = sum(f.bytes for f in files)
    estimate = estimate_full_restore(files, catalog.total_files, catalog.total_bytes,
                                     options.jobs)
    catalog_paths = {e.path for e in catalog.entries}
    ok_now = {f.path for f in files if f.result is FileOutcome.OK}
    covered = (verified_before & catalog_paths) | ok_now
    ttfbs = sorted(f.ttfb_seconds for f in files
                   if f.result not in (FileOutcome.MISSING, FileOutcome.UNREADABLE))
    method = dict(estimate.method) if estimate else {}
    if method:
        method["ground_truth"] = truth.description
        method["sample_notes"] = list(sample.notes)
    result = RestoreResult(
        seed=seed,
        snapshot=catalog.backup_id,
        sampled=len(files),
        verified=sum(f.result is FileOutcome.OK for f in files),
        mismatched=sum(f.result.mismatched for f in files),
        unreadable=sum(f.result is FileOutcome.UNREADABLE for f in files),
        unproven=sum(f.result is FileOutcome.UNPROVEN for f in files),
        bytes=moved,
        seconds=wall,
        ttfb_seconds=ttfbs[len(ttfbs) // 2] if ttfbs else 0.0,
        throughput_bytes_per_s=moved / wall if wall > 0 else 0.0,
        total_bytes=catalog.total_bytes,
        total_files=catalog.total_files,
        estimated_full_restore_seconds=estimate.seconds if estimate else 0.0,
        rto_seconds=client.rto_seconds,
        coverage=len(covered) / catalog.total_files if catalog.total_files else 0.0,
        retries=sum(f.retries for f in files),
        problems=_problems(files),
        files=tuple(files),
        estimate_method=method,
    )
    return result, [sample_finding(result, truth.description, sample.notes), rto_finding(result)]
