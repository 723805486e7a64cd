"""The result and configuration model: frozen dataclasses every other module speaks.

Glossary:
  client   one MSP customer, one ``targets/*.toml`` file;
  target   one backup set of a client (an S3 bucket/prefix or a restic repository);
  finding  the outcome of one check id on one target (status, message, evidence);
  plan     a restore-test plan from ``restore_tests/*.toml``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from backupcheck.inventory_summary import InventorySummary as InventorySummary  # re-exported
from backupcheck.manifest_check import ManifestCheck as ManifestCheck  # re-exported


class Status(enum.StrEnum):
    """Outcome of a check; ordering by severity is ``pass < warn < error < fail``.

    ``muted`` is a finding an accepted risk (``[mute]`` in ``backupcheck.toml``) covers: shown
    as itself, counted as ``pass`` wherever statuses are combined.
    """

    PASS = "pass"
    WARN = "warn"
    ERROR = "error"
    FAIL = "fail"
    MUTED = "muted"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Status.PASS: 0, Status.MUTED: 0, Status.WARN: 1, Status.ERROR: 2, Status.FAIL: 3}


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status of ``statuses`` (``pass`` when there are none; muted is pass)."""
    counted = (Status.PASS if s is Status.MUTED else s for s in statuses)
    return max(counted, key=lambda s: s.severity, default=Status.PASS)


def exit_code_for(status: Status) -> int:
    """SPEC exit codes: 1 for any failure, 3 when something could not be checked, else 0."""
    return {Status.FAIL: 1, Status.ERROR: 3}.get(status, 0)


class FileOutcome(enum.StrEnum):
    """What became of one sampled file (stored as its string value in the history)."""

    OK = "ok"                  # restored, and its digest matched the ground truth
    UNPROVEN = "unproven"      # restored, but no ground truth could judge it
    DIGEST = "digest"          # restored, digest differs from the ground truth
    SIZE = "size"              # restored, size differs from the ground truth
    MISSING = "missing"        # not in the backup
    UNREADABLE = "unreadable"  # in the backup, but its bytes could not be read

    @property
    def failed(self) -> bool:
        """A problem the drill reports (``restore.sample`` fails)."""
        return self in _FAILED_OUTCOMES

    @property
    def mismatched(self) -> bool:
        """Restored bytes that differ from the ground truth."""
        return self in (FileOutcome.DIGEST, FileOutcome.SIZE)

    @property
    def restored(self) -> bool:
        """Bytes came back whole, so the file's timing counts for the restore model."""
        return self in (FileOutcome.OK, FileOutcome.UNPROVEN, FileOutcome.DIGEST,
                        FileOutcome.SIZE)


_FAILED_OUTCOMES = frozenset({FileOutcome.DIGEST, FileOutcome.SIZE, FileOutcome.MISSING,
                              FileOutcome.UNREADABLE})
#: every outcome value, as the history stores them
FILE_OUTCOMES = frozenset(o.value for o in FileOutcome)


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Policy:
    object_lock_mode: Literal["COMPLIANCE", "GOVERNANCE", "any"] = "COMPLIANCE"
    min_retention_days: int = 30
    encryption: Literal["any", "AES256", "aws:kms"] = "any"
    kms_key_id: str = ""
    max_restic_keys: int = 1
    min_snapshots: int = 1
    #: current versions HEADed one by one per S3 set; beyond it a rotating sample (``warn``)
    max_object_heads: int = 100_000
    #: every object a restic restore needs must stay locked at least this long from now
    min_lock_horizon_seconds: float = 7 * 86400.0


@dataclass(frozen=True)
class S3Target:
    name: str
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    manifest: str | None = None
    inventory_report: str | None = None  # s3:// manifest.json or prefix of S3 Inventory
    kind: Literal["s3"] = "s3"


@dataclass(frozen=True)
class ResticTarget:
    name: str
    repository: str
    password_file: str | None = None
    password_command: str | None = None
    password_env: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    host: str | None = None
    paths: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    manifest: str | None = None
    source: str | None = None
    manifest_endpoint_url: str | None = None  # an s3:// manifest's endpoint (None: the repo's)
    #: how snapshots are read: our own reader (local, s3:, rest:), or the restic binary
    reader: Literal["auto", "native", "restic"] = "auto"
    kind: Literal["restic"] = "restic"


Target = S3Target | ResticTarget


@dataclass(frozen=True)
class Client:
    name: str
    rpo_seconds: float
    rto_seconds: float
    policy: Policy
    targets: tuple[Target, ...]
    source_file: Path


@dataclass(frozen=True)
class Plan:
    name: str = "weekly"
    files: int = 20
    max_bytes: int = 2 * 1024**3
    read_data_subset: str = "2%"
    include_newest: bool = True
    snapshot: str = "latest"
    #: for ``snapshot = "random-within:30d"``: the window in seconds, else None
    snapshot_window_seconds: float | None = None
    prefer_unverified: bool = True
    jobs: int = 4
    #: parallel streams a real full restore uses (``restic restore``, ``aws s3 sync``): the
    #: RTO model's streams, never the drill's own ``jobs``
    restore_streams: int = 8
    #: what creating and writing one file costs the restore target, per stream: a drill
    #: never writes to disk, so the RTO model takes it from the plan (``restore_file_cost``)
    restore_file_seconds: float = 0.003
    #: the plan file it was read from; "" for the built-in defaults
    file: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file or None, "name": self.name}


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Muted:
    """The accepted risk behind a ``muted`` finding: why, until when, and what it hides."""

    reason: str
    until: str  # YYYY-MM-DD, the last day the mute holds
    status: Status  # what the check found


@dataclass(frozen=True)
class Finding:
    """One check id judged on one target."""

    id: str
    status: Status
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    #: one line telling the operator how to fix a failing check
    hint: str = ""
    #: set when the status is ``muted``
    muted: Muted | None = None

    def to_json(self) -> dict[str, Any]:
        doc = {
            "id": self.id,
            "status": str(self.status),
            "message": self.message,
            "evidence": dict(self.evidence),
        }
        if self.muted is not None:
            doc["muted"] = {"reason": self.muted.reason, "until": self.muted.until,
                            "status": str(self.muted.status)}
        return doc


@dataclass(frozen=True)
class Problem:
    """A sampled file that did not come back right."""

    path: str
    reason: Literal["digest", "size", "missing", "unreadable"]
    expected: str = ""
    actual: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "reason": self.reason,
            "expected": self.expected,
            "actual": self.actual,
        }


@dataclass(frozen=True)
class FileResult:
    """One sampled file's restore: what came back and how fast."""

    path: str
    size: int
    bytes: int
    seconds: float
    ttfb_seconds: float
    result: FileOutcome
    xxh3_128: str = ""
    expected_xxh3_128: str = ""
    truth: str = ""  # where the expected digest came from: manifest | metadata | source | ""
    retries: int = 0
    #: why a file failed, or why it is unproven (which ground truth was missing or stale)
    detail: str = ""
    #: what the file was in the backup (restic: mtime; S3: mtime and object version): the
    #: history's coverage counts a file only while these are unchanged
    mtime_ns: int | None = None
    version_id: str = ""


@dataclass(frozen=True)
class RestoreResult:
    seed: int
    snapshot: str
    sampled: int
    verified: int
    mismatched: int
    unreadable: int
    unproven: int
    bytes: int
    seconds: float
    ttfb_seconds: float
    throughput_bytes_per_s: float
    total_bytes: int
    total_files: int
    estimated_full_restore_seconds: float
    rto_seconds: float
    coverage: float
    retries: int
    problems: tuple[Problem, ...]
    files: tuple[FileResult, ...]
    estimate_method: Mapping[str, Any] = field(default_factory=dict)
    manifest: ManifestCheck = field(default_factory=ManifestCheck)
    #: the estimate's interval (bootstrap over the sampled files); both 0.0 without one
    estimate_low_seconds: float = 0.0
    estimate_high_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "sampled": self.sampled,
            "verified": self.verified,
            "mismatched": self.mismatched,
            "unreadable": self.unreadable,
            "unproven": self.unproven,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 6),
            "ttfb_seconds": round(self.ttfb_seconds, 6),
            "throughput_bytes_per_s": round(self.throughput_bytes_per_s, 1),
            "total_bytes": self.total_bytes,
            "total_files": self.total_files,
            "estimated_full_restore_seconds": round(self.estimated_full_restore_seconds, 3),
            "estimate_low_seconds": round(self.estimate_low_seconds, 3),
            "estimate_high_seconds": round(self.estimate_high_seconds, 3),
            "rto_seconds": self.rto_seconds,
            "snapshot": self.snapshot,
            "coverage": round(self.coverage, 6),
            "retries": self.retries,
            "missing": self.manifest.missing,
            "manifest": self.manifest.to_json(),
            "estimate_method": dict(self.estimate_method),
            "problems": [p.to_json() for p in self.problems],
            "files": [
                {"path": f.path, "size": f.size, "bytes": f.bytes,
                 "seconds": round(f.seconds, 6), "ttfb_seconds": round(f.ttfb_seconds, 6),
                 "result": f.result, "xxh3_128": f.xxh3_128,
                 "expected_xxh3_128": f.expected_xxh3_128, "truth": f.truth,
                 "note": f.detail, "retries": f.retries}
                for f in self.files
            ],
        }


@dataclass(frozen=True)
class TargetResult:
    target: str
    kind: str
    checks: tuple[Finding, ...] = ()
    restore: RestoreResult | None = None
    inventory: InventorySummary | None = None

    @property
    def status(self) -> Status:
        return worst(f.status for f in self.checks)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "target": self.target,
            "kind": self.kind,
            "status": str(self.status),
            "checks": [f.to_json() for f in self.checks],
        }
        if self.restore is not None:
            doc["restore"] = self.restore.to_json()
        if self.inventory is not None:
            doc["inventory"] = self.inventory.to_json()
        return doc


@dataclass(frozen=True)
class ClientResult:
    client: str
    targets: tuple[TargetResult, ...]
    #: findings of the client itself, not of a target: ``config`` when its file is broken
    findings: tuple[Finding, ...] = ()

    @property
    def status(self) -> Status:
        return worst([*(t.status for t in self.targets), *(f.status for f in self.findings)])

    def to_json(self) -> dict[str, Any]:
        doc = {"client": self.client, "status": str(self.status),
               "targets": [t.to_json() for t in self.targets]}
        if self.findings:
            doc["findings"] = [f.to_json() for f in self.findings]
        return doc


SCHEMA = "backupcheck.report/1"


@dataclass(frozen=True)
class RunReport:
    command: str
    started_at: str
    finished_at: str
    clients: tuple[ClientResult, ...]
    shard: str = ""  # "I/N" when the run was one shard of N (``--shard``)
    plan: Plan | None = None  # the restore plan of a drill or verify

    @property
    def status(self) -> Status:
        return worst(c.status for c in self.clients)

    @property
    def exit_code(self) -> int:
        """SPEC: 1 for a failure, else 2 for a client file that could not be loaded, else 3
        when something could not be checked."""
        code = exit_code_for(self.status)
        broken = any(f.id == "config" for c in self.clients for f in c.findings)
        return 2 if broken and code != 1 else code

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "command": self.command,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": str(self.status),
            "clients": [c.to_json() for c in self.clients],
            **({"plan": self.plan.to_json()} if self.plan is not None else {}),
            **({"shard": self.shard} if self.shard else {}),
        }
