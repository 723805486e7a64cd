"""The one place for "now" and for writing and reading moments as ISO-8601 text (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


def now_utc() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """``2026-11-22T03:00:00Z``: the report's timestamps (whole seconds)."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_full(moment: datetime | None) -> str | None:
    """``2026-11-22T03:00:00.123456+00:00`` (``isoformat``), or None: evidence timestamps."""
    return as_utc(moment).isoformat() if moment is not None else None


def parse_iso(text: str) -> datetime:
    """An ISO-8601 moment (``Z`` or an offset; naive means UTC), in UTC."""
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ns(moment: datetime | None) -> int | None:
    """Nanoseconds since the epoch at microsecond precision (what a datetime holds), exact
    (no float), or None. restic's nanosecond mtimes arrive here cut to microseconds."""
    if moment is None:
        return None
    delta = as_utc(moment) - _EPOCH
    return (delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds) * 1000
