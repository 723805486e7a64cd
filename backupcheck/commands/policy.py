"""The policy facts of one target, with the plan's data rotation resolved for it.

``read_data_subset = "rotate/N"`` is not a ``restic check`` argument: each target reads its
own next slice, found from the history's runs rows (``drill``), or slice 1 without a history
(``verify``, ``drill --no-history``), and the facts carry where the rotation stands so that
``restic.integrity`` can say it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from backupcheck.backends.base import Backend
from backupcheck.backends.restic_facts import ResticFacts
from backupcheck.model import Plan, Target
from backupcheck.rotation import SliceRead, first_rotation, next_rotation, rotation_slices

#: the slices earlier drills of this target read, or None when there is no history
SliceReads = Callable[[], Sequence[SliceRead]] | None


def policy_facts(backend: Backend, target: Target, plan: Plan, now: datetime,
                 reads: SliceReads = None) -> Any:
    """``backend.policy_facts`` for the plan as it applies to ``target`` today."""
    slices = rotation_slices(plan.read_data_subset) if target.kind == "restic" else None
    if slices is None:
        return backend.policy_facts(plan, now)
    rotation = next_rotation(reads(), slices, now) if reads is not None \
        else first_rotation(slices, now)
    facts = backend.policy_facts(replace(plan, read_data_subset=rotation.subset), now)
    return replace(facts, rotation=rotation) if isinstance(facts, ResticFacts) else facts
