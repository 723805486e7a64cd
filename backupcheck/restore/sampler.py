"""Choosing which files a drill restores: seeded, uniform, within the plan's budget.

The same seed over the same backup gives the same sample, so ``--seed`` repeats a drill.
With ``prefer_unverified``, files no earlier drill verified come first: weekly drills then
walk through the whole backup over time instead of re-reading the same lucky files.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from backupcheck.backends.base import CatalogEntry
from backupcheck.model import Plan


@dataclass(frozen=True)
class Sample:
    entries: tuple[CatalogEntry, ...]
    newest: str  # path of the newest file when it was included, else ""
    notes: tuple[str, ...] = ()


def choose_sample(entries: Sequence[CatalogEntry], plan: Plan, seed: int,
                  verified: Collection[str] = frozenset()) -> Sample:
    """Up to ``plan.files`` files within ``plan.max_bytes``, plus the newest when asked."""
    if not entries:
        return Sample((), "", ("the backup holds no files",))
    rng = random.Random(seed)
    # sort first so the shuffle does not depend on listing order
    order = sorted(entries, key=lambda e: e.path)
    rng.shuffle(order)
    if plan.prefer_unverified and verified:
        order.sort(key=lambda e: e.path in verified)  # stable: keeps the shuffled order
    chosen: list[CatalogEntry] = []
    notes: list[str] = []
    budget = plan.max_bytes
    newest_path = ""
    if plan.include_newest:
        newest = max(entries, key=lambda e: (e.mtime is not None, e.mtime or 0, e.path))
        if newest.size <= budget:
            chosen.append(newest)
            budget -= newest.size
            newest_path = newest.path
        else:
            notes.append(f"newest file {newest.path} ({newest.size} bytes) exceeds the byte "
                         "budget and was not sampled")
    picked = 0
    for entry in order:
        if picked >= plan.files:
            break
        if entry.path == newest_path:
            continue
        if entry.size <= budget:
            chosen.append(entry)
            budget -= entry.size
            picked += 1
    if not chosen:
        smallest = min(entries, key=lambda e: (e.size, e.path))
        chosen.append(smallest)
        notes.append("no file fits the byte budget; sampled the smallest file")
    return Sample(tuple(chosen), newest_path, tuple(notes))
