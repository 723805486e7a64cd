"""Option values the ``history`` and ``trend`` commands check or parse (``--format``,
``--since``); a bad one is a :class:`UsageError` naming the option."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from backupcheck.clock import now_utc, parse_iso
from backupcheck.errors import UsageError
from backupcheck.units import parse_duration

_DURATION = re.compile(r"^\d+(\.\d+)?\s*[smhdw]$")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``--since``: a date (``2026-11-01``), a UTC timestamp, or an age like ``30d``/``2w``."""
    value = text.strip()
    if _DURATION.match(value):
        try:
            return (now or now_utc()) - timedelta(seconds=parse_duration(value))
        except ValueError as exc:
            raise UsageError(f"--since: {exc}") from None
    try:
        return parse_iso(value)
    except ValueError:
        raise UsageError(f"--since: cannot parse {text!r} (write a date like 2026-11-01, "
                         "a time like 2026-11-01T03:00Z, or an age like 30d)") from None


def check_format(fmt: str, allowed: Sequence[str]) -> str:
    """``fmt`` when it is one of ``allowed``."""
    if fmt not in allowed:
        raise UsageError(f"--format: {fmt!r} is not one of {', '.join(allowed)}")
    return fmt


#: ``--seed``: what the history's int64 seed column can record
MAX_SEED = 2**63 - 1


def check_seed(seed: int | None) -> int | None:
    """``seed`` when it is None or a seed the history can record (0 to 2**63-1)."""
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise UsageError(f"--seed: expected an integer from 0 to {MAX_SEED}, got {seed}")
    return seed
