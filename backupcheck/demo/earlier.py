"""Earlier drills for the demo's history, so that ``history`` and ``trend`` show a series.

A fresh estate has no past, so five weekly drills before today's are simulated: which files
each one verified is chosen the way the sampler would (seeded, unverified files first,
within the plan's budget) before today's real drill runs, so that today's drill sees them,
samples other files and reports the coverage they add up to. Their timings are written after
today's drill, scaled from what it measured on this machine (within a few percent, so no
client regresses by chance), except for the one target whose link got slow this week
(initech-offsite), whose earlier estimates sat comfortably under its RTO. Every simulated
row says so in ``estimate_inputs``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from backupcheck import __version__
from backupcheck.demo.estate import BuiltTarget
from backupcheck.model import Plan, RunReport, Status, TargetResult, worst
from backupcheck.report.html import SIMULATED_METHOD, SIMULATED_SNAPSHOT

WEEKS = 5
SIMULATED = '{"method": "simulated earlier drill", "written_by": "backupcheck demo"}'
#: earlier estimates of the target that breaks its RTO today, as fractions of the RTO
SLOW_LINK_TARGET = "initech-offsite"
SLOW_LINK_HISTORY = (0.38, 0.40, 0.43, 0.45, 0.48)


@dataclass(frozen=True)
class EarlierDrill:
    run_id: str
    started_at: datetime


@dataclass
class EarlierHistory:
    drills: list[EarlierDrill]
    #: (client, target) -> for each earlier drill, the paths it verified
    verified: dict[tuple[str, str], list[list[str]]]
    #: (client, target) -> path -> (size, xxh3-128)
    files: dict[tuple[str, str], dict[str, tuple[int, str]]]
    #: (client, target) -> path -> (mtime_ns, version id): what the earlier drills verified
    identity: dict[tuple[str, str], dict[str, tuple[int | None, str]]] = field(
        default_factory=dict)

    def verified_files(self, client: str, target: str
                       ) -> set[tuple[str, int, int | None, str]]:
        key = (client, target)
        files, identity = self.files.get(key, {}), self.identity.get(key, {})
        return {(p, files[p][0], *identity.get(p, (None, "")))
                for run in self.verified.get(key, []) for p in run}


def plan_earlier(targets: Sequence[BuiltTarget], plan: Plan, now: datetime) -> EarlierHistory:
    """Choose the files the earlier drills verified (weekly, oldest first)."""
    drills = [EarlierDrill(f"{moment:%Y%m%dT%H%M%SZ}-demo-earlier", moment)
              for moment in (now - timedelta(weeks=week) for week in range(WEEKS, 0, -1))]
    verified: dict[tuple[str, str], list[list[str]]] = {}
    files: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}
    identity: dict[tuple[str, str], dict[str, tuple[int | None, str]]] = {}
    for built in targets:
        key = (built.client, built.target)
        files[key] = dict(built.files)
        identity[key] = dict(built.identity)
        rng = random.Random(f"{built.client}/{built.target}")
        seen: set[str] = set()
        runs: list[list[str]] = []
        for _ in drills:
            order = sorted(built.files)
            rng.shuffle(order)
            order.sort(key=lambda path: path in seen)  # unverified first, as the sampler does
            budget, chosen = plan.max_bytes, list[str]()
            for path in order:
                size = built.files[path][0]
                if len(chosen) < plan.files and size <= budget:
                    chosen.append(path)
                    budget -= size
            seen.update(chosen)
            runs.append(chosen)
        verified[key] = runs
    return EarlierHistory(drills, verified, files, identity)


class SeenByTodaysDrill:
    """The history today's drill consults: the earlier drills' verified files; appends go
    to the real store."""

    def __init__(self, earlier: EarlierHistory, store: Any) -> None:
        self.earlier, self.store = earlier, store

    def verified_files(self, client: str, target: str
                       ) -> set[tuple[str, int, int | None, str]]:
        return self.earlier.verified_files(client, target)

    def data_slices(self, client: str, target: str) -> list[tuple[datetime, int, int]]:
        return []  # the demo's plan reads a percentage, not a rotation

    def append(self, run_id: str, started_at: datetime, report: RunReport,
               plan_name: str) -> None:
        self.store.append(run_id, started_at, report, plan_name)


def _usual_status(target: TargetResult) -> str:
    """What the target looked like before this week's planted problems: no failures."""
    return str(worst(f.status for f in target.checks
                     if f.status not in (Status.FAIL, Status.ERROR)))


def earlier_rows(earlier: EarlierHistory, report: RunReport, plan: Plan
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Runs and files rows of the earlier drills, scaled from today's measurements."""
    runs: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    for client in report.clients:
        for target in client.targets:
            today = target.restore
            key = (client.client, target.target)
            if today is None or not today.estimate_method or key not in earlier.verified:
                continue
            rng = random.Random(f"timings/{client.client}/{target.target}")
            catalog: Mapping[str, tuple[int, str]] = earlier.files[key]
            covered: set[str] = set()
            for index, (drill, paths) in enumerate(zip(earlier.drills, earlier.verified[key],
                                                       strict=True)):
                if target.target == SLOW_LINK_TARGET:
                    estimate = today.rto_seconds * SLOW_LINK_HISTORY[index]
                else:
                    estimate = today.estimated_full_restore_seconds * rng.uniform(0.92, 1.06)
                speedup = (today.estimated_full_restore_seconds / estimate) if estimate else 1.0
                throughput = today.throughput_bytes_per_s * speedup
                ttfb = today.ttfb_seconds * rng.uniform(0.9, 1.1)
                moved = sum(catalog[p][0] for p in paths)
                covered.update(paths)
                row_key = {"run_id": drill.run_id, "started_at": drill.started_at,
                           "client": client.client, "target": target.target}
                runs.append({
                    **row_key, "kind": target.kind, "status": _usual_status(target),
                    "plan": plan.name, "seed": rng.randrange(2**31), "snapshot": SIMULATED_SNAPSHOT,
                    "sampled": len(paths), "verified": len(paths), "mismatched": 0,
                    "unreadable": 0, "unproven": 0, "retries": 0, "bytes": moved,
                    "seconds": moved / throughput if throughput else 0.0,
                    "ttfb_seconds": ttfb, "throughput_bytes_per_s": throughput,
                    "total_bytes": today.total_bytes, "total_files": today.total_files,
                    "estimated_full_restore_seconds": estimate,
                    "rto_seconds": today.rto_seconds,
                    "coverage": len(covered) / today.total_files if today.total_files else 0.0,
                    "estimate_method": SIMULATED_METHOD, "estimate_inputs": SIMULATED,
                    "tool_version": __version__,
                })
                identity = earlier.identity.get(key, {})
                files.extend({
                    **row_key, "path": path, "size": catalog[path][0],
                    "xxh3_128": catalog[path][1], "result": "ok", "bytes": catalog[path][0],
                    "seconds": catalog[path][0] / throughput if throughput else 0.0,
                    "ttfb_seconds": ttfb, "mtime_ns": identity.get(path, (None, ""))[0],
                    "version_id": identity.get(path, (None, ""))[1] or None,
                } for path in paths)
    return runs, files
