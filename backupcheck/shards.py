"""Shards: which clients shard ``I`` of ``N`` runs (``--shard I/N``, ``--shard auto/N``).

Kubernetes Indexed Jobs and AWS Batch array jobs run N copies of one command, each with its
index in the environment; every copy computes the same split on its own, so there is nothing
to coordinate. The split must therefore be a pure function of what every copy sees alike:
the client names and, when a history is at hand, each client's last drill time recorded
*before the current UTC day* (a copy that starts after another finished must not see that
copy's new rows, or the two would split differently and a client could run twice or never).

The split is the longest-processing-time rule: clients ordered by their last drill time,
longest first, each to the least-loaded shard so far. A client without a recorded time
weighs the mean of the known ones (1 s when none is known), and ties are broken by a stable
hash of the name (xxh3-64), not by file order, so with no history at all the split is a
round-robin in hash order: even in counts and the same on every machine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import xxhash

from backupcheck.clock import as_utc
from backupcheck.errors import UsageError

#: where the engines put a copy's index: Kubernetes Indexed Job, AWS Batch array job
INDEX_VARIABLES = ("JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX")
_SHARD = re.compile(r"^\s*(auto|\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str, environ: Mapping[str, str] | None = None) -> Shard:
    """``"2/8"`` or ``"auto/8"`` (index from :data:`INDEX_VARIABLES`) → :class:`Shard`.

    Anything else, an index out of range, or ``auto`` without an index variable is a
    :class:`UsageError` (exit 2) naming ``--shard``.
    """
    env = os.environ if environ is None else environ
    match = _SHARD.match(text or "")
    if match is None:
        raise UsageError(f"--shard {text!r}: write it as I/N (0-based index I of N shards) "
                         "or auto/N")
    raw_index, count = match.group(1), int(match.group(2))
    if count < 1:
        raise UsageError(f"--shard {text!r}: N must be at least 1")
    if raw_index == "auto":
        found = [(name, env[name]) for name in INDEX_VARIABLES if env.get(name, "").strip()]
        if not found:
            raise UsageError(f"--shard {text!r}: neither {' nor '.join(INDEX_VARIABLES)} is "
                             "set (they are set by a Kubernetes Indexed Job and an AWS Batch "
                             "array job); give the index instead: --shard I/N")
        name, value = found[0]
        if not value.strip().isdigit():
            raise UsageError(f"--shard {text!r}: {name}={value!r} is not a whole number")
        index = int(value)
        source = f" ({name}={index})"
    else:
        index, source = int(raw_index), ""
    if index >= count:
        raise UsageError(f"--shard {text!r}{source}: the index must be below N={count} "
                         "(indexes are 0-based)")
    return Shard(index, count)


def stable_hash(name: str) -> int:
    """The same 64-bit number for ``name`` in every process and on every machine."""
    return int(xxhash.xxh3_64_intdigest(name.encode("utf-8")))


def assign(names: Sequence[str], count: int,
           weights: Mapping[str, float] | None = None) -> dict[str, int]:
    """Each of ``names`` → its shard in ``range(count)`` (see the module docstring)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    known = {n: float(w) for n, w in (weights or {}).items()
             if n in set(names) and w is not None and w >= 0}
    default = sum(known.values()) / len(known) if known else 1.0
    weight = {n: known.get(n, default) for n in names}
    order = sorted(set(names), key=lambda n: (-weight[n], stable_hash(n), n))
    loads = [0.0] * count
    placed = [0] * count
    shards: dict[str, int] = {}
    for name in order:
        # least loaded; on equal load the one with fewer clients, then the lowest index
        chosen = min(range(count), key=lambda i: (loads[i], placed[i], i))
        shards[name] = chosen
        loads[chosen] += weight[name]
        placed[chosen] += 1
    return shards


def balance_cutoff(moment: datetime) -> datetime:
    """The start of ``moment``'s UTC day: only drills that started before it weigh."""
    return as_utc(moment).replace(hour=0, minute=0, second=0, microsecond=0)


def drill_seconds(runs: pa.Table, before: datetime) -> dict[str, float]:
    """Each client's last drill time before ``before``: the restore seconds of every target
    of its newest run that started earlier (runs rows, :data:`RUNS_SCHEMA` columns)."""
    cutoff = as_utc(before)
    newest: dict[str, tuple[datetime, str]] = {}
    rows = runs.select(["run_id", "started_at", "client", "seconds"]).to_pylist()
    for row in rows:
        started = row["started_at"]
        if started is None or as_utc(started) >= cutoff or not row["client"]:
            continue
        mark = (as_utc(started), str(row["run_id"]))
        if row["client"] not in newest or mark > newest[row["client"]]:
            newest[row["client"]] = mark
    totals: dict[str, float] = {}
    for row in rows:
        latest = newest.get(row["client"])
        if latest is not None and str(row["run_id"]) == latest[1]:
            totals[row["client"]] = totals.get(row["client"], 0.0) + float(row["seconds"] or 0)
    return totals


def select(names: Sequence[str], shard: Shard,
           weights: Mapping[str, float] | None = None) -> list[str]:
    """The names that belong to ``shard``, in their given order."""
    shards = assign(names, shard.count, weights)
    return [n for n in names if shards[n] == shard.index]
