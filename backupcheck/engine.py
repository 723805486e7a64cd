"""Runs a command over every target of every client, concurrently, and collects the results.

A failing target never stops the others: anything a target raises becomes ``error`` findings
for that target alone, except bad configuration found while it runs (:class:`ConfigError`),
which ends the run with exit 2 as bad configuration always does. (A missing or malformed
manifest is not that: the drill judges it as its target's ``restore.sample`` ``error``.)
The engine never prints; it reports progress through a callback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime

import xxhash

from backupcheck.backends.base import Backend
from backupcheck.checks.registry import finding
from backupcheck.clock import iso, now_utc
from backupcheck.errors import BackupcheckError, ConfigError, ReadOnlyViolation
from backupcheck.kinds import KINDS, open_backend
from backupcheck.model import Client, ClientResult, Finding, RunReport, Status, Target, TargetResult

log = logging.getLogger(__name__)

#: called once per finished target with (client name, target name)
Progress = Callable[[str, str], None]
#: ``(client, target, files, bytes)``: a drill's sampled files coming back, as they come
Restored = Callable[[str, str, int, int], None]
TargetWork = Callable[[Client, Target, Backend], TargetResult]

DEFAULT_WORKERS = 8


def unavailable_findings(kind: str, message: str,
                         extra_ids: Sequence[str] = ()) -> tuple[Finding, ...]:
    """Every check of ``kind`` as ``error``: the target could not be checked at all."""
    ids = (*KINDS[kind].check_ids, *extra_ids)
    first = finding(ids[0], Status.ERROR, message, {"error": message})
    rest = (finding(i, Status.ERROR, f"not checked: {message}", {"error": message})
            for i in ids[1:])
    return (first, *rest)


def broken_client_result(name: str, error: ConfigError) -> ClientResult:
    """A client whose file could not be loaded: one ``config`` ``error`` finding, no targets."""
    evidence = {"file": error.file, "line": error.line, "key": error.key}
    return ClientResult(name, (), (finding("config", Status.ERROR, str(error), evidence),))


def with_clients(report: RunReport, extra: Sequence[ClientResult]) -> RunReport:
    """``report`` with ``extra`` clients added, all in name order."""
    if not extra:
        return report
    clients = sorted((*report.clients, *extra), key=lambda c: c.client)
    return replace(report, clients=tuple(clients))  # keeps plan, shard and the rest


def seed_for(client: str, target: str, base_seed: int) -> int:
    """A per-target seed derived from the run seed, stable across runs and processes."""
    return int(xxhash.xxh3_64_intdigest(f"{base_seed}:{client}:{target}".encode()) % 2**31)


def run_base_seed(started: datetime) -> int:
    """The base seed of a run without ``--seed``: its start time to the microsecond, so the
    objects a capped S3 set samples rotate from run to run instead of skipping the same ones
    every week. Each target's seed (in its evidence) is derived from it."""
    return int(started.timestamp() * 1_000_000)


class OpenBackends:
    """The backends of a run that are still open, so an interrupt can close them all.

    Closing a backend kills its restic children and drops its connections, which ends the
    blocked reads of its worker threads at once instead of at their timeouts.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._backends: dict[int, Backend] = {}

    def add(self, backend: Backend) -> None:
        with self._lock:
            self._backends[id(backend)] = backend

    def remove(self, backend: Backend) -> None:
        with self._lock:
            self._backends.pop(id(backend), None)

    def close_all(self) -> None:
        with self._lock:
            backends = list(self._backends.values())
            self._backends.clear()
        for backend in backends:
            try:
                backend.close()
            except Exception:  # noqa: BLE001 - best effort while interrupted
                log.debug("closing a backend after an interrupt failed", exc_info=True)


def _run_one(client: Client, target: Target, work: TargetWork, seed: int | None, base_seed: int,
             extra_ids: Sequence[str], registry: OpenBackends) -> TargetResult:
    backend: Backend | None = None
    try:
        chosen = seed if seed is not None else seed_for(client.name, target.name, base_seed)
        backend = open_backend(client, target, chosen)
        registry.add(backend)
        return work(client, target, backend)
    except (ReadOnlyViolation, ConfigError):
        # a bug, or a configuration no run can succeed with: not a fault of this target's
        # storage, so stop with exit 2 (ConfigError) or loudly (ReadOnlyViolation)
        raise
    except BackupcheckError as exc:
        log.info("%s/%s: %s", client.name, target.name, exc)
        return TargetResult(target.name, target.kind,
                            unavailable_findings(target.kind, str(exc), extra_ids))
    except Exception as exc:  # noqa: BLE001 - one broken target must not stop the others
        log.debug("%s/%s failed", client.name, target.name, exc_info=True)
        message = f"internal error: {type(exc).__name__}: {exc}".splitlines()[0]
        return TargetResult(target.name, target.kind,
                            unavailable_findings(target.kind, message, extra_ids))
    finally:
        if backend is not None:
            registry.remove(backend)
            try:
                backend.close()
            except Exception:  # noqa: BLE001 - closing must not hide the result
                log.debug("closing %s/%s failed", client.name, target.name, exc_info=True)


def run_targets(
    command: str,
    clients: Sequence[Client],
    work: TargetWork,
    *,
    progress: Progress | None = None,
    workers: int = DEFAULT_WORKERS,
    seed: int | None = None,
    extra_check_ids: Sequence[str] = (),
) -> RunReport:
    """Apply ``work`` to every target concurrently; results keep the configuration's order.

    ``seed`` (``--seed``) is every target's sampling seed as given; without it each target
    gets its own, derived from the run's start time (:func:`run_base_seed`).
    """
    started = now_utc()
    base_seed = run_base_seed(started)
    jobs = [(client, target) for client in clients for target in client.targets]

    registry = OpenBackends()

    def one(job: tuple[Client, Target]) -> TargetResult:
        client, target = job
        result = _run_one(client, target, work, seed, base_seed, extra_check_ids, registry)
        if progress is not None:
            progress(client.name, target.name)
        return result

    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs) or 1)),
                              thread_name_prefix="target")
    try:
        results = list(pool.map(one, jobs))
    except BaseException as exc:
        # SIGINT / SIGTERM (or a bug): stop queued targets, kill running restic children, and
        # do not wait for workers blocked in a read: the CLI ends the process. After a signal
        # the restic children are gone already; closing the rest must not delay the exit.
        pool.shutdown(wait=False, cancel_futures=True)
        if isinstance(exc, KeyboardInterrupt):
            threading.Thread(target=registry.close_all, daemon=True,
                             name="close-after-interrupt").start()
        else:
            registry.close_all()
        raise
    pool.shutdown(wait=True)
    by_client: dict[str, list[TargetResult]] = {c.name: [] for c in clients}
    for (client, _), result in zip(jobs, results, strict=True):
        by_client[client.name].append(result)
    return RunReport(
        command=command,
        started_at=iso(started),
        finished_at=iso(now_utc()),
        clients=tuple(ClientResult(name, tuple(rs)) for name, rs in by_client.items()),
    )
