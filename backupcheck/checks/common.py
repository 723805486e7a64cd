"""What the check modules share: binding judging functions to registry ids, and findings.

Each ``checks/<kind>.py`` makes one :class:`Judges` for its kind and binds every judging
function to its registry id with ``@JUDGES.judge("id")``; :meth:`Judges.run` then applies them
in the registry's order. The registry (``checks/registry.py``) stays the one list of ids.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Generic, TypeVar

from backupcheck.checks.registry import Kind, finding, ids_of, spec
from backupcheck.model import Finding

__all__ = ["FUTURE_TOLERANCE", "Judges", "finding"]

#: a backup dated further ahead of this machine's clock than this is "from the future": a
#: wrong clock or a forged time, never a fresh backup (less is ordinary clock skew)
FUTURE_TOLERANCE = timedelta(minutes=5)

F = TypeVar("F")
Judge = Callable[[F], Finding]


class Judges(Generic[F]):
    """The judging functions of one storage kind, keyed by registry id."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self._by_id: dict[str, Judge[F]] = {}

    def judge(self, check_id: str) -> Callable[[Judge[F]], Judge[F]]:
        """Bind the decorated function to ``check_id`` (which the registry must list)."""
        if spec(check_id).kind != self.kind:
            raise ValueError(f"{check_id} is not a {self.kind} check in the registry")

        def bind(function: Judge[F]) -> Judge[F]:
            self._by_id[check_id] = function
            return function
        return bind

    def ids(self) -> tuple[str, ...]:
        """Registry ids of this kind that have a judging function, in registry order."""
        return tuple(i for i in ids_of(self.kind) if i in self._by_id)

    def missing(self) -> tuple[str, ...]:
        """Registry ids of this kind without a judging function (a test keeps this empty)."""
        return tuple(i for i in ids_of(self.kind) if i not in self._by_id)

    def run(self, facts: F, only: Callable[[str], bool] = lambda _: True) -> list[Finding]:
        """Every judging function (or those whose id ``only`` accepts), in registry order."""
        return [self._by_id[i](facts) for i in self.ids() if only(i)]
