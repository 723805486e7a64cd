"""Choosing which files a drill restores: seeded, size-stratified, within the plan's budget.

The same seed over the same backup gives the same sample, so ``--seed`` repeats a drill.
With ``prefer_unverified``, files no earlier drill verified come first: weekly drills then
walk through the whole backup over time instead of re-reading the same lucky files.

The files are cut into :data:`STRATA` size strata of equal *bytes* (a backup whose bytes sit
in one big file has that file as a stratum of its own), and each stratum gets one pick before
the rest of the sample is drawn uniformly; the largest file that fits the budget is always
one of them. So the RTO estimate times the kind of file that holds the backup's bytes, not
only the many small ones, and the same backup gives a like sample whatever the seed.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from backupcheck.backends.base import CatalogEntry
from backupcheck.model import Plan

#: size strata of equal bytes, one pick each (within ``files`` and the budget)
STRATA = 4


@dataclass(frozen=True)
class Sample:
    entries: tuple[CatalogEntry, ...]
    newest: str  # path of the newest file when it was included, else ""
    notes: tuple[str, ...] = ()
    #: paths picked as their size stratum's representative (the largest file first)
    stratified: tuple[str, ...] = ()

    def description(self, entries: Sequence[CatalogEntry]) -> dict[str, object]:
        """What was sampled, for the evidence: counts, bytes, sizes, the strata's picks."""
        sizes = sorted(e.size for e in self.entries)
        return {"files": len(self.entries), "bytes": sum(sizes),
                "smallest_bytes": sizes[0] if sizes else 0,
                "largest_bytes": sizes[-1] if sizes else 0,
                "backup_largest_bytes": max((e.size for e in entries), default=0),
                "size_strata": STRATA, "stratum_picks": list(self.stratified)}


def _strata(entries: Sequence[CatalogEntry], count: int) -> list[list[CatalogEntry]]:
    """``entries`` by size, cut where the running bytes pass each 1/count of the total; the
    largest file first in the last stratum."""
    by_size = sorted(entries, key=lambda e: (e.size, e.path))
    total = sum(e.size for e in by_size) or 1
    strata: list[list[CatalogEntry]] = [[] for _ in range(count)]
    running = 0
    for entry in by_size:
        running += entry.size
        strata[min(count - 1, (running - 1) * count // total if running else 0)].append(entry)
    return [list(reversed(stratum)) for stratum in reversed(strata) if stratum]


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
    stratified: list[str] = []
    taken = {newest_path}
    for index, stratum in enumerate(_strata(entries, STRATA)):
        if picked >= plan.files:
            break
        if index == 0 and stratum[0].size > budget:
            notes.append(f"the largest file {stratum[0].path} ({stratum[0].size} bytes) "
                         "exceeds the byte budget and was not sampled")
        fits = [e for e in stratum if e.size <= budget and e.path not in taken]
        if plan.prefer_unverified and verified:
            # coverage grows from the unverified; only the top stratum's largest file is
            # timed again when every file of it was verified before
            fresh = [e for e in fits if e.path not in verified]
            fits = fresh or (fits if index == 0 else [])
        if not fits:
            continue
        # the largest file that fits stands for the top stratum; a seeded pick for the others
        entry = fits[0] if index == 0 else rng.choice(sorted(fits, key=lambda e: e.path))
        chosen.append(entry)
        budget -= entry.size
        taken.add(entry.path)
        stratified.append(entry.path)
        picked += 1
    for entry in order:
        if picked >= plan.files:
            break
        if entry.path in taken:
            continue
        if entry.size <= budget:
            chosen.append(entry)
            budget -= entry.size
            picked += 1
    if not chosen:
        smallest = min(entries, key=lambda e: (e.size, e.path))
        chosen.append(smallest)
        notes.append("no file fits the byte budget; sampled the smallest file")
    return Sample(tuple(chosen), newest_path, tuple(notes), tuple(stratified))
