"""The fleet overview's figures: one row per client, read from the client's evidence pack.

Plain values and pure functions: ``commands.fleet`` builds the packs and fills the rows;
``report.fleet_html`` lays them out. RTO headroom is the RTO minus the estimated full restore
of the worst target; coverage is the lowest target's; the drill age is that of the oldest
restore figures used; open findings leave accepted risks (muted) out.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from backupcheck.audit.model import AuditResult
from backupcheck.model import Status

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class FleetRow:
    """One client's line in the overview."""

    client: str
    status: Status
    exit_code: int
    headline: str
    #: RTO minus estimated full restore of the worst target (negative: breached)
    headroom_seconds: float | None = None
    rto_seconds: float | None = None
    estimate_seconds: float | None = None
    worst_target: str = ""
    #: lowest restore coverage over the client's targets (0..1)
    coverage: float | None = None
    #: age of the oldest restore figures used; None: no drill at all
    drill_age_seconds: float | None = None
    open_findings: int = 0
    #: the client's pack, relative to the overview ("" when none was written)
    link: str = ""


@dataclass(frozen=True)
class FleetResult:
    out: Path
    rows: tuple[FleetRow, ...]
    generated_at: datetime
    index: Path

    @property
    def exit_code(self) -> int:
        codes = [r.exit_code for r in self.rows if r.exit_code]
        return min(codes) if codes else 0


def pack_dir_name(client: str) -> str:
    """``DIR/CLIENT``: the client's name where it is a plain file name, else a safe slug
    with a short digest (a name with ``/`` or markup must not pick its own path)."""
    if _SAFE.fullmatch(client) and len(client) <= 128:
        return client
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", client).strip("-.")[:60] or "client"
    return f"{slug}-{hashlib.sha256(client.encode('utf-8')).hexdigest()[:8]}"


def row_of(result: AuditResult, link: str) -> FleetRow:
    """The overview's figures of one written pack."""
    verdict = result.verdict
    facts = result.facts
    row = FleetRow(client=result.client, status=verdict.status, exit_code=verdict.exit_code,
                   headline=verdict.headline, drill_age_seconds=result.drill_age_seconds,
                   link=link)
    if facts is None:
        return row
    worst: tuple[float, float, float, str] | None = None
    coverages = []
    for target in facts.report.clients[0].targets:
        restore = target.restore
        if restore is None:
            continue
        coverages.append(restore.coverage)
        if restore.estimate_method and restore.rto_seconds:
            estimate = restore.estimated_full_restore_seconds
            headroom = restore.rto_seconds - estimate
            if worst is None or headroom < worst[0]:
                worst = (headroom, restore.rto_seconds, estimate, target.target)
    open_findings = sum(1 for f in facts.findings if f.open and f.status != "muted")
    row = replace(row, coverage=min(coverages) if coverages else None,
                  open_findings=open_findings, rto_seconds=facts.client.rto_seconds)
    if worst is not None:
        row = replace(row, headroom_seconds=worst[0], rto_seconds=worst[1],
                      estimate_seconds=worst[2], worst_target=worst[3])
    return row


def sort_key(row: FleetRow) -> tuple[int, float, str]:
    """Worst first: by status, then least RTO headroom (none known counts as worst)."""
    headroom = row.headroom_seconds if row.headroom_seconds is not None else float("-inf")
    return (-row.status.severity, headroom, row.client)
