"""The fleet overview ``index.html`` of ``audit --all``: one row per client, worst first.

Self-contained like the client pack (same Content-Security-Policy: no scripts, no fonts,
images or styles fetched from elsewhere). Autoescaping is on and every string passes through
:func:`visible`: client names and messages come from files an attacker may have written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from backupcheck import __version__
from backupcheck.audit.fleet import FleetRow
from backupcheck.report.html import ICON, WORD, _environment, prose, status_key, when, words
from backupcheck.restore.standing import Standing

TEMPLATE = "fleet.html.j2"


def headroom_text(row: FleetRow) -> str:
    """As ``restore.rto`` judges the worst target (``audit.fleet``): ``over by 4 s`` (its low
    end past the RTO), ``at risk: up to 4 s over`` (only its high end past it), or the time
    left even at the high end (``2.5 h``); ``—`` when no estimate is known."""
    if row.headroom_seconds is None or row.high_headroom_seconds is None:
        return "—"
    if row.rto_standing == Standing.OVER:
        return f"over by {prose(-row.headroom_seconds)}"
    if row.rto_standing == Standing.AT_RISK:
        return f"at risk: up to {prose(-row.high_headroom_seconds)} over"
    return prose(row.high_headroom_seconds)


def _estimate_text(row: FleetRow) -> str:
    if row.estimate_seconds is None:
        return "—"
    if row.estimate_low_seconds is None or row.estimate_high_seconds is None:
        return prose(row.estimate_seconds)
    return (f"{prose(row.estimate_seconds)} ({prose(row.estimate_low_seconds)}–"
            f"{prose(row.estimate_high_seconds)})")


def _row(row: FleetRow) -> dict[str, Any]:
    return {
        "client": row.client, "status": status_key(row.status), "headline": row.headline,
        "headroom": headroom_text(row),
        "standing": Standing(row.rto_standing).css if row.rto_standing else "",
        "estimate": _estimate_text(row),
        "rto": prose(row.rto_seconds) if row.rto_seconds else "—",
        "worst_target": row.worst_target,
        "coverage": f"{row.coverage:.1%}" if row.coverage is not None else "—",
        "drill_age": words(row.drill_age_seconds) if row.drill_age_seconds is not None
        else "no drill",
        "open_findings": row.open_findings, "link": row.link, "exit_code": row.exit_code,
    }


def render_fleet_html(rows: Sequence[FleetRow], generated_at: datetime) -> str:
    """The whole overview page as one string (``rows`` already sorted worst first)."""
    counts = {key: sum(1 for r in rows if status_key(r.status) == key)
              for key in ("fail", "error", "warn", "pass")}
    context = {"rows": [_row(r) for r in rows], "generated": when(generated_at),
               "counts": counts, "total": len(rows), "version": __version__,
               "icon": ICON, "word": WORD}
    return _environment().get_template(TEMPLATE).render(context)
