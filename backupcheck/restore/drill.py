"""The restore drill of one target: sample, stream, compare, time, estimate, judge.

List the chosen backup; sample files (seeded, favouring files no earlier drill verified);
stream each through xxh3-128 on ``jobs`` parallel streams and compare with the ground truth;
fit the restore-time model and judge ``restore.sample`` and ``restore.rto``. The command that
runs this over every target, after the policy checks, is :mod:`backupcheck.commands.drill`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Protocol, cast, get_args

from backupcheck.backends.base import Backend, Catalog, CatalogEntry
from backupcheck.clock import epoch_ns
from backupcheck.engine import Restored, seed_for
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
    Target,
)
from backupcheck.restore.completeness import check_manifest
from backupcheck.restore.estimate import (
    Estimate,
    TtfbPaid,
    estimate_full_restore,
    nothing_to_restore,
    probe_from_files,
)
from backupcheck.restore.probe import probe_streams
from backupcheck.restore.sampler import choose_sample
from backupcheck.restore.stream import DEFAULT_IDLE_TIMEOUT, Watchdog, restore_one
from backupcheck.restore.truth import NAME_NOT_FAITHFUL, GroundTruth, unfaithful
from backupcheck.restore.verdict import rto_finding, sample_finding

__all__ = ["CoverageKey", "DrillHistory", "DrillOptions", "coverage_key", "new_run_id",
           "restore_target", "rto_finding", "sample_finding", "target_seed"]

#: (path, size, mtime in ns at microsecond precision or None, S3 version id or "")
CoverageKey = tuple[str, int, int | None, str]


class DrillHistory(Protocol):
    """What a drill needs of the history: the files earlier drills verified (as they were
    then), the data slices earlier drills checked, and a place to record this one."""

    def verified_files(self, client: str, target: str
                       ) -> set[tuple[str, int, int | None, str]]: ...

    def data_slices(self, client: str, target: str) -> list[tuple[datetime, int, int]]: ...

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
    #: told ``(client, target, files, bytes)`` as sampled files come back (the progress bar)
    restored: Restored | None = None


def target_seed(options: DrillOptions, moment: datetime, client: str, target: str) -> int:
    """``--seed`` as given, else derived from the UTC date, the client and the target.

    The report shows the seed each target used; ``--seed`` with it repeats that sample.
    """
    if options.seed is not None:
        return options.seed
    return seed_for(client, target, int(moment.strftime("%Y%m%d")))


def new_run_id(moment: datetime) -> str:
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def problems_of(files: Sequence[FileResult]) -> tuple[Problem, ...]:
    """The sampled files that did not come back right, as the report lists them (also for
    a drill rebuilt from the history)."""
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


def coverage_key(path: str, size: int, mtime_ns: int | None,
                 version_id: str) -> CoverageKey | None:
    """What a verified file was; coverage holds only while it is unchanged. An S3 object
    version is its content; otherwise (restic, an unversioned bucket) size and mtime are.
    None when nothing identifies the content (no mtime, no version): never covered later."""
    if version_id and version_id != "null":
        return (path, size, None, version_id)
    if mtime_ns is None:
        return None
    return (path, size, mtime_ns, "")


def _entry_key(entry: CatalogEntry) -> CoverageKey | None:
    return coverage_key(entry.path, entry.size, epoch_ns(entry.mtime), entry.version_id)


def _restore_one(backend: Backend, catalog: Catalog, truth: GroundTruth, watchdog: Watchdog,
                 told: Callable[[int, int], None] | None, entry: CatalogEntry) -> FileResult:
    try:
        lookup = truth.lookup(entry)
    except (BackupcheckError, OSError) as exc:
        return FileResult(entry.path, entry.size, 0, 0.0, 0.0, FileOutcome.UNREADABLE,
                          detail=f"ground truth lookup failed: {exc}")
    on_bytes = None if told is None else (lambda n: told(0, n))
    result = restore_one(lambda: backend.open_file(catalog, entry), entry, lookup.expected,
                         watchdog, note=lookup.note, on_bytes=on_bytes)
    if told is not None:
        told(1, 0)
    if result.result is FileOutcome.MISSING and unfaithful(entry.path):
        # the listing gave an approximation of the name, and nothing has that name: the
        # file is there, it just cannot be asked for by name through this reader (SPEC)
        result = replace(result, result=FileOutcome.UNPROVEN, detail=NAME_NOT_FAITHFUL)
    return replace(result, mtime_ns=epoch_ns(entry.mtime), version_id=entry.version_id)


def _estimate(backend: Backend, catalog: Catalog, entries: Sequence[CatalogEntry],
              files: Sequence[FileResult], plan: Plan, listing_seconds: float,
              seed: int) -> Estimate | None:
    """The RTO model from a probe of the files that restored; None when none did."""
    if catalog.total_files == 0:
        return nothing_to_restore()
    streams = plan.restore_streams
    read = {f.path for f in files if f.result.restored}
    readable = [e for e in entries if e.path in read]
    probe = probe_streams(lambda entry: backend.open_file(catalog, entry), readable, streams,
                          partial(read_plan, backend, catalog))
    note = "timed alone and on restore_streams streams together"
    if probe is None:  # the files restored once but not again: their first timings
        probe, note = probe_from_files(files, streams), "the verification's own timings"
    if probe is None:
        return None
    # how the reader's time to first byte maps onto a real restore (estimate.TtfbPaid)
    said = getattr(backend, "ttfb_paid", "")
    paid = cast(TtfbPaid, said) if said in get_args(TtfbPaid) else "per_file"
    estimate = estimate_full_restore(probe, catalog.total_files, catalog.total_bytes,
                                     paid=paid, listing_seconds=listing_seconds,
                                     startup_seconds=getattr(backend, "startup_seconds", 0.0),
                                     write_seconds=plan.restore_file_seconds, seed=seed)
    estimate.method["probe"]["timings"] = note
    return estimate


def read_plan(backend: Backend, catalog: Catalog,
             entries: Sequence[CatalogEntry]) -> AbstractContextManager[Sequence[int]]:
    """The order to read the sample in, with the backend's read plan where it has one: the
    native restic reader reads packs front to back and shares each pack region between the
    files in it (``resticrepo.runs``). Every index appears exactly once."""
    plan = getattr(backend, "planned_reads", None)
    if plan is None:
        return nullcontext(range(len(entries)))
    return cast(AbstractContextManager[Sequence[int]], plan(catalog, entries))


def restore_target(client: Client, target: Target, backend: Backend, options: DrillOptions,
                   seed: int, now: datetime) -> tuple[RestoreResult, list[Finding]]:
    plan = options.plan
    listed = time.monotonic()
    catalog: Catalog = backend.catalog(plan, seed, now)
    listing_seconds = time.monotonic() - listed
    verified_before: set[CoverageKey | None] = set()
    if options.history is not None:
        verified_before = {coverage_key(*row) for row in
                           options.history.verified_files(client.name, target.name)}
        verified_before.discard(None)
    keys = [_entry_key(e) for e in catalog.entries]
    still_verified = {key for key in keys if key in verified_before}
    seen = {key[0] for key in still_verified if key} if plan.prefer_unverified else set()
    sample = choose_sample(catalog.entries, plan, seed, seen)
    truth = GroundTruth(client, target, backend, catalog.backup_time)
    manifest_check, listed_problems = check_manifest(truth, catalog,
                                                     {e.path for e in sample.entries})
    watchdog = Watchdog(options.idle_timeout)
    restored = options.restored
    told = None if restored is None else (
        lambda files, nbytes: restored(client.name, target.name, files, nbytes))
    started = time.monotonic()
    try:
        with read_plan(backend, catalog, sample.entries) as order, \
                ThreadPoolExecutor(max_workers=max(1, options.jobs),
                                   thread_name_prefix="restore") as pool:
            done = dict(zip(order, pool.map(partial(_restore_one, backend, catalog, truth,
                                                    watchdog, told),
                                            [sample.entries[i] for i in order]), strict=True))
        files = [done[i] for i in range(len(sample.entries))]  # in the sample's order
    finally:
        watchdog.close()
    wall = time.monotonic() - started
    moved = sum(f.bytes for f in files)
    estimate = _estimate(backend, catalog, sample.entries, files, plan, listing_seconds, seed)
    # this drill's own proof counts even for a file nothing identifies beyond this run
    ok_now: set[object] = {coverage_key(f.path, f.size, f.mtime_ns, f.version_id)
                           or (f.path, f.size) for f in files if f.result is FileOutcome.OK}
    covered = len(ok_now.union(still_verified))
    ttfbs = sorted(f.ttfb_seconds for f in files
                   if f.result not in (FileOutcome.MISSING, FileOutcome.UNREADABLE))
    method = dict(estimate.method) if estimate else {}
    if method:
        method["ground_truth"] = truth.description
        method["sample_notes"] = list(sample.notes)
        method["sampled"] = sample.description(catalog.entries)
    sampled_paths = {f.path for f in files}
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
        estimate_low_seconds=estimate.low_seconds if estimate else 0.0,
        estimate_high_seconds=estimate.high_seconds if estimate else 0.0,
        rto_seconds=client.rto_seconds,
        coverage=min(1.0, covered / catalog.total_files) if catalog.total_files else 0.0,
        retries=sum(f.retries for f in files),
        # a sampled file's own result wins over what the listing said of it
        problems=(*problems_of(files), *(p for p in listed_problems
                                       if p.path not in sampled_paths)),
        files=tuple(files),
        estimate_method=method,
        manifest=manifest_check,
    )
    return result, [sample_finding(result, truth.description, sample.notes), rto_finding(result)]
