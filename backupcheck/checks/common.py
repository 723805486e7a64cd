"""Helpers shared by the check modules: building findings and human-readable ages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backupcheck.checks import HINTS
from backupcheck.model import Finding, Status


def finding(check_id: str, status: Status, message: str,
            evidence: Mapping[str, Any] | None = None) -> Finding:
    """A finding for a registered check id, with its remediation hint when not passing."""
    if check_id not in HINTS:
        raise KeyError(f"unregistered check id {check_id!r}")
    hint = HINTS[check_id] if status in (Status.FAIL, Status.ERROR, Status.WARN) else ""
    return Finding(id=check_id, status=status, message=message, evidence=dict(evidence or {}),
                   hint=hint)


def age_text(seconds: float) -> str:
    """Compact age: ``45s``, ``12m``, ``5h``, ``3d``, ``3.5d``."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}m"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f}h"
    days = seconds / 86400
    return f"{days:.0f}d" if days >= 10 else f"{days:.1f}d"
