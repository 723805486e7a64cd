"""The fleet overview's figures: one row per client, read from the client's evidence pack.

Plain values and pure functions: ``commands.fleet`` builds the packs and fills the rows;
``report.fleet_html`` lays them out. Coverage is the lowest target's; the drill age is that of
the oldest restore figures used; open findings leave accepted risks (muted) out.

RTO headroom is judged as ``restore.rto`` judges (:mod:`backupcheck.restore.standing`), on
the estimate's interval, not its point. The worst target is the one whose standing is worst
(over, then at risk, then within), then the one with the least RTO left above the high end.
Its ``headroom_seconds`` is the RTO minus the *low* end of its estimate: negative exactly when
the RTO is breached (``restore.rto`` fails). ``high_headroom_seconds`` is the RTO minus the
high end: negative when the restore may not meet the RTO (at risk: ``restore.rto`` warns, or
over). The overview shows "over by" the low end's excess, "at risk: up to … over" with the
high end's, and within the RTO the time left even at the high end.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from backupcheck.audit.model import AuditResult
from backupcheck.model import RestoreResult, Status
from backupcheck.restore.standing import Standing, judged_interval, restore_standing

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class FleetRow:
    """One client's line in the overview."""

    client: str
    status: Status
    exit_code: int
    headline: str
    #: RTO minus the low end of the worst target's estimate (negative: breached, the
    #: target's ``restore.rto`` fails)
    headroom_seconds: float | None = None
    rto_seconds: float | None = None
    #: the worst target's point estimate and its interval
    estimate_seconds: float | None = None
    worst_target: str = ""
    #: RTO minus the high end of the worst target's estimate (negative: at risk or over)
    high_headroom_seconds: float | None = None
    estimate_low_seconds: float | None = None
    estimate_high_seconds: float | None = None
    #: the worst target's standing: ``over``, ``at risk``, ``within``; "" without an estimate
    rto_standing: str = ""
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
    worst: tuple[tuple[int, float], str, RestoreResult, Standing] | None = None
    coverages = []
    for target in facts.report.clients[0].targets:
        restore = target.restore
        if restore is None:
            continue
        coverages.append(restore.coverage)
        standing = restore_standing(restore)
        if standing is None or not restore.rto_seconds:
            continue
        key = (standing.rank, -_high_headroom(restore))
        if worst is None or key > worst[0]:
            worst = (key, target.target, restore, standing)
    open_findings = sum(1 for f in facts.findings if f.open and f.status != "muted")
    row = replace(row, coverage=min(coverages) if coverages else None,
                  open_findings=open_findings, rto_seconds=facts.client.rto_seconds)
    if worst is not None:
        _, name, restore, standing = worst
        low, _ = _interval(restore)
        row = replace(row, headroom_seconds=restore.rto_seconds - low,
                      rto_seconds=restore.rto_seconds,
                      estimate_seconds=restore.estimated_full_restore_seconds,
                      worst_target=name, high_headroom_seconds=_high_headroom(restore),
                      estimate_low_seconds=restore.estimate_low_seconds,
                      estimate_high_seconds=restore.estimate_high_seconds,
                      rto_standing=str(standing))
    return row


def _interval(restore: RestoreResult) -> tuple[float, float]:
    return judged_interval(restore.estimated_full_restore_seconds, restore.estimate_low_seconds,
                           restore.estimate_high_seconds)


def _high_headroom(restore: RestoreResult) -> float:
    """The RTO minus the estimate's high end as the check takes it (never below the point)."""
    return restore.rto_seconds - _interval(restore)[1]


def sort_key(row: FleetRow) -> tuple[int, int, float, str]:
    """Worst first: by status, then RTO standing (over, at risk, within), then least RTO
    headroom above the estimate's high end (none known counts as worst)."""
    headroom = (row.high_headroom_seconds if row.high_headroom_seconds is not None
                else float("-inf"))
    rank = Standing(row.rto_standing).rank if row.rto_standing else len(Standing)
    return (-row.status.severity, -rank, headroom, row.client)
