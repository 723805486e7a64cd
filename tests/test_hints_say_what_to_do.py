"""A check's "What to do" says what to do, not the problem again: no hint of the registry
repeats (four words or more in a row) what its finding already says."""

from __future__ import annotations

import re

import pytest

from backupcheck.checks.registry import CHECKS, CheckSpec

RUN = 4  # words in a row that count as repeating


def runs(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(words[i:i + RUN]) for i in range(len(words) - RUN + 1)}


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_hint_does_not_repeat_the_problem(check: CheckSpec) -> None:
    said = runs(check.failed) | runs(check.fails_on) | runs(check.warned)
    for hint in filter(None, (check.hint, check.warned_hint)):
        assert not runs(hint) & said, (check.id, hint)


def test_the_repeat_detector_sees_a_repeat() -> None:
    assert runs("a sampled file did not restore correctly: investigate") & \
        runs("Some sampled files did not restore correctly")
