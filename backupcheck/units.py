"""Durations and sizes: parsing what users write, and the one formatter for each audience.

Parsing: ``30s``, ``90m``, ``26h``, ``7d``, ``2w``, ``4h30m`` (humanfriendly) and sizes like
``2GiB``. Formatting, by where the text appears:

* ``compact`` — finding messages and tables (``45s``, ``12m``, ``5h``, ``3.5d``);
* ``table``   — figures in report columns (``38.0s``, ``12.5m``, ``4.0h``);
* ``prose``   — the audit page, as a client reads it (``4.0 h``, ``12 min``, ``0.04 s``);
* ``words``   — how old something is (``15 seconds``, ``3 days``).
"""

from __future__ import annotations

import re
from typing import Literal

import humanfriendly

DurationStyle = Literal["compact", "table", "prose", "words"]

#: ``500MB``, ``2GiB``, ``2G``, ``4096``: decimal prefixes, or binary ones with ``i``
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:([kmgtpKMGTP])(i)?)?[bB]?")
#: one ``<number><unit>`` part of a compound duration such as ``4h30m`` or ``2d12h``
_PART = r"\d+(?:\.\d+)?[a-zA-Z]+"
_COMPOUND = re.compile(rf"(?:{_PART}){{2,}}")


def parse_duration(text: str) -> float:
    """``30s``, ``90m``, ``26h``, ``7d``, ``2w``, ``4h30m`` → seconds. Raises ValueError."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("expected a duration like 30s, 90m, 26h, 7d or 2w")
    if text.strip().replace(".", "", 1).isdigit():  # humanfriendly reads "8" as seconds
        raise ValueError(f"duration {text!r} has no unit (write it like 30s, 90m, 26h, 7d "
                         "or 2w)")
    text = text.strip()
    # humanfriendly reads one <number><unit>; a compound one is the sum of its parts
    parts = re.findall(_PART, text) if _COMPOUND.fullmatch(text) else [text]
    try:
        seconds = sum(float(humanfriendly.parse_timespan(part)) for part in parts)
    except humanfriendly.InvalidTimespan:
        raise ValueError(
            f"cannot parse duration {text!r} (write it like 30s, 90m, 26h, 7d or 2w)"
        ) from None
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    return seconds


def _compact(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f}m"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f}h"
    days = seconds / 86400
    return f"{days:.0f}d" if days >= 10 else f"{days:.1f}d"


def _table(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _prose(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 7200:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    if seconds >= 10:
        return f"{seconds:.0f} s"
    return f"{seconds:.1f} s" if seconds >= 1 else f"{seconds:.2f} s"


def _words(seconds: float) -> str:
    for limit, unit, size in ((90, "second", 1), (90 * 60, "minute", 60),
                              (48 * 3600, "hour", 3600), (float("inf"), "day", 86400)):
        if seconds < limit:
            count = round(max(0.0, seconds) / size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    raise AssertionError("unreachable")


_STYLES = {"compact": _compact, "table": _table, "prose": _prose, "words": _words}
#: what an unknown duration looks like in each style
_UNKNOWN = {"compact": "?", "table": "-", "prose": "—", "words": "unknown"}


def format_duration(seconds: float | None, style: DurationStyle = "compact") -> str:
    """``seconds`` as text for one audience (see the module docstring)."""
    if seconds is None:
        return _UNKNOWN[style]
    return _STYLES[style](seconds)


def human_bytes(count: float) -> str:
    """``512 B``, ``1.5 KiB``, ``3.2 GiB``."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    value = float(count)
    for unit in units:
        if abs(value) < 1024 or unit == units[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} PiB"


def parse_size(text: str) -> int:
    """``2GiB``, ``500MB`` → bytes. Raises ValueError."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("expected a size like 500MB or 2GiB")
    # strict on purpose: a lenient parser reads "2 GiB please" or "2 Gremlins" as 2 GB
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"cannot parse size {text!r} (write it like 500MB or 2GiB)")
    number, prefix, binary = match.group(1), (match.group(2) or "").upper(), match.group(3)
    scale = (1024 if binary else 1000) ** " KMGTP".index(prefix or " ")
    size = int(float(number) * scale)
    if size <= 0:
        raise ValueError(f"size {text!r} must be positive")
    return size
