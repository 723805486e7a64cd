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

TEMPLATE = "fleet.html.j2"


def headroom_text(seconds: float | None) -> str:
    """``2.5 h`` to spare, or ``over by 4 s``; ``—`` when no estimate is known."""
    if seconds is None:
        return "—"
    return prose(seconds) if seconds >= 0 else f"over by {prose(-seconds)}"


def _row(row: FleetRow) -> dict[str, Any]:
    return {
        "client": row.client, "status": status_key(row.status), "headline": row.headline,
        "headroom": headroom_text(row.headroom_seconds),
        "over": row.headroom_seconds is not None and row.headroom_seconds < 0,
        "estimate": prose(row.estimate_seconds) if row.estimate_seconds is not None else "—",
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
