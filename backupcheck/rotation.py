"""``read_data_subset = "rotate/N"``: pack coverage that completes.

Each drill of a target reads the next 1/N slice of the repository's packs
(``restic check --read-data-subset n/N``), so every pack is read once in N drills. The
position is not stored anywhere of its own: it is derived from the history's runs rows of the
target (``read_data_slice``/``read_data_slices``), so shards and overlapping runs that share a
history share it too. Drill k reads slice ``(k mod N) + 1``: the slice after the last one
recorded with the same N, or slice 1 when there is none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backupcheck.clock import iso

_ROTATE = re.compile(r"^rotate/(\d+)$")


@dataclass(frozen=True)
class SliceRead:
    """One recorded drill that read a slice of a rotation."""

    at: datetime
    slice: int
    of: int


@dataclass(frozen=True)
class Rotation:
    """Where this drill stands in the rotation, for ``restic check`` and its evidence."""

    slice: int
    of: int
    #: when the last drill that completed a full cycle ran (this drill's time when this
    #: slice completes one), or None when no cycle has completed yet
    cycle_completed_at: datetime | None
    #: slices still to read before the current cycle completes (after this drill's)
    slices_left: int
    #: why the position could not come from the history ("" when it did)
    note: str = ""

    @property
    def subset(self) -> str:
        """The ``--read-data-subset`` argument."""
        return f"{self.slice}/{self.of}"

    def evidence(self) -> dict[str, Any]:
        return {"slice": self.slice, "of": self.of, "slices_left": self.slices_left,
                "cycle_completed_at": iso(self.cycle_completed_at)
                if self.cycle_completed_at else None, "note": self.note}

    def cycle(self) -> str:
        """Where the cycle stands: ``2 slices left in this cycle, …`` and the like."""
        if self.note:
            return self.note
        if self.slices_left == 0:
            return f"full cycle completed: every pack read in the last {self.of} drills"
        done = (f"last full cycle completed {iso(self.cycle_completed_at)}"
                if self.cycle_completed_at else "no full cycle completed yet")
        return f"{self.slices_left} slices left in this cycle, {done}"


def rotation_slices(subset: str) -> int | None:
    """N of ``rotate/N`` (N ≥ 1), or None for any other value."""
    match = _ROTATE.match(subset)
    if match is None or int(match.group(1)) < 1:
        return None
    return int(match.group(1))


def next_rotation(reads: Sequence[SliceRead], of: int, now: datetime,
                  note: str = "") -> Rotation:
    """The slice this drill reads, given the slices earlier drills read (any order)."""
    ours = sorted((r for r in reads if r.of == of and 1 <= r.slice <= of),
                  key=lambda r: r.at)
    current = ours[-1].slice % of + 1 if ours else 1
    completed: datetime | None = None
    seen: set[int] = set()
    for read in ours:
        seen.add(read.slice)
        if len(seen) == of:
            completed, seen = read.at, set()
    seen.add(current)
    if len(seen) == of:
        completed, seen = now, set()
    return Rotation(current, of, completed, of - len(seen) if seen else 0, note)


def first_rotation(of: int, now: datetime) -> Rotation:
    """Without a history there is no position: slice 1, and the evidence says so."""
    return next_rotation((), of, now, note="no history: the rotation advances only in "
                         "drills that record their runs")
