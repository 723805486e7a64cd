"""The audit's evidence model: what was asked, every figure found, and where each came from.

Plain frozen values: ``commands.audit`` fills them; the renderers (``report.html``,
``audit.document``) read them. Nothing here runs a check, reads the history or renders a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from backupcheck.audit.findings import FindingRecord
from backupcheck.audit.pack import SIG_NAME, SUMS_NAME, verify_command
from backupcheck.audit_verdict import Verdict
from backupcheck.clock import as_utc
from backupcheck.history.store import HistoryStore
from backupcheck.model import Client, Plan, RunReport
from backupcheck.mutes import Mute
from backupcheck.trend import Trend
from backupcheck.units import format_duration

if TYPE_CHECKING:  # signing (cryptography, bcrypt) loads only when an audit signs a pack
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

Source = Literal["fresh", "history", "none"]
#: restore figures older than this are not evidence (``--max-drill-age``, SPEC default 8d)
DEFAULT_MAX_DRILL_AGE_SECONDS = 8 * 86400.0


@dataclass(frozen=True)
class AuditOptions:
    """What ``backupcheck audit`` was asked to do."""

    out: Path
    #: a directory, ``s3://bucket/prefix``, or an opened store (``history.open_history``)
    history_dir: Path | str | HistoryStore
    plan: Plan = field(default_factory=Plan)
    #: run a drill now (``--run-drill``) instead of using the newest drill in the history
    run_drill: bool = False
    #: record the fresh drill into the history (``--no-history`` turns it off)
    record_history: bool = True
    seed: int | None = None
    jobs: int | None = None
    now: datetime | None = None
    #: only for the reproduction commands shown in the page
    targets_dir: Path | None = None
    plan_path: Path | None = None
    command_line: str = ""
    #: accepted risks (``[mute]``): the pack shows them muted while they hold
    mutes: tuple[Mute, ...] = ()
    #: restore figures of a drill older than this are not evidence: ``restore.*`` are error
    max_drill_age_seconds: float = DEFAULT_MAX_DRILL_AGE_SECONDS
    #: ``--sign-key``: sign ``SHA256SUMS`` (``SHA256SUMS.sig``)
    signing_key: Ed25519PrivateKey | None = None


@dataclass(frozen=True)
class RestoreOrigin:
    """Where one target's restore figures come from."""

    source: Source
    run_id: str = ""
    started_at: datetime | None = None
    age_seconds: float | None = None
    #: older than ``--max-drill-age``: shown for the record, never used as evidence
    stale: bool = False


@dataclass(frozen=True)
class Provenance:
    """How one group of figures was obtained: what, by which command, when, from where."""

    what: str
    command: str
    at: str
    source: str


@dataclass(frozen=True)
class AuditFacts:
    """Everything the renderers show; built once, rendered to HTML and JSON."""

    client: Client
    report: RunReport  # command "audit": checks, restore and inventory per target
    history: list[dict[str, Any]]  # runs rows of this client, oldest first
    trends: list[Trend]
    origins: dict[str, RestoreOrigin]
    mode: Literal["fresh", "history"]
    generated_at: datetime
    checks_at: datetime
    verdict: Verdict
    provenance: list[Provenance]
    environment: dict[str, str | None]
    notes: list[str]
    inventory_errors: dict[str, str]
    #: every finding's life (first seen, last seen, resolved), open ones first
    findings: list[FindingRecord] = field(default_factory=list)
    command_line: str = ""
    #: ``SHA256SUMS.sig``'s key (``SHA256:…``); "" when the pack is not signed
    signer_fingerprint: str = ""

    @property
    def period(self) -> tuple[datetime, datetime] | None:
        moments = [as_utc(row["started_at"]) for row in self.history]
        return (min(moments), max(moments)) if moments else None


@dataclass(frozen=True)
class AuditResult:
    """What the ``audit`` command returns once the pack is written."""

    client: str
    out: Path
    files: tuple[Path, ...]
    verdict: Verdict
    mode: Literal["fresh", "history"]
    #: age of the oldest restore figures used (0 for a fresh drill; None: no drill at all)
    drill_age_seconds: float | None
    #: ``report.json`` as written into the pack
    document: str = ""
    #: the evidence the pack was rendered from (the fleet overview reads its figures)
    facts: AuditFacts | None = field(default=None, compare=False, repr=False)

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    def summary_lines(self) -> list[str]:
        """What the command shows after writing the pack (untrusted text: show it safely)."""
        mark = {"pass": "✔", "warn": "⚠", "fail": "✖", "error": "?"}
        lines = [f"{self.client}: {self.verdict.headline}"]
        lines += [f"  {mark[str(i.status)]} {i.text}" for i in self.verdict.problems]
        lines += [f"  {mark[str(i.status)]} {i.text}" for i in self.verdict.warnings]
        lines += [f"  note: {note}" for note in self.verdict.notes]
        if self.mode == "fresh":
            lines.append("restore figures: a drill run now")
        elif self.drill_age_seconds is not None:
            lines.append("restore figures: the newest drill in the history, "
                         f"{format_duration(self.drill_age_seconds, 'words')} old")
        lines.append(f"wrote {', '.join(str(p) for p in self.files)}")
        lines.append(f"check the pack: cd {self.out} && sha256sum -c {SUMS_NAME}")
        if any(p.name == SIG_NAME for p in self.files):
            lines.append(f"check its signature: cd {self.out} && {verify_command()}")
        return lines
