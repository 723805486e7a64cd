"""The sampler and the restore-time estimate, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backupcheck.backends.base import CatalogEntry
from backupcheck.model import FileResult, Plan
from backupcheck.restore.estimate import estimate_full_restore, fit_line
from backupcheck.restore.sampler import choose_sample

BASE = datetime(2026, 11, 1, tzinfo=UTC)


def entries(n: int, size: int = 100) -> list[CatalogEntry]:
    return [CatalogEntry(f"dir/f{i:04d}", size, BASE + timedelta(minutes=i), f"/dir/f{i:04d}")
            for i in range(n)]


def test_same_seed_same_sample_and_other_seed_differs() -> None:
    plan = Plan(files=10, include_newest=False)
    first = choose_sample(entries(500), plan, seed=7)
    again = choose_sample(list(reversed(entries(500))), plan, seed=7)
    other = choose_sample(entries(500), plan, seed=8)
    assert [e.path for e in first.entries] == [e.path for e in again.entries]
    assert [e.path for e in first.entries] != [e.path for e in other.entries]
    assert len(first.entries) == 10


def test_newest_is_added_on_top_of_the_sample() -> None:
    sample = choose_sample(entries(50), Plan(files=5, include_newest=True), seed=1)
    assert sample.newest == "dir/f0049"
    assert sample.entries[0].path == "dir/f0049"
    assert len(sample.entries) == 6


def test_byte_budget_is_respected_but_one_file_is_always_sampled() -> None:
    budgeted = choose_sample(entries(100, size=1000), Plan(files=50, max_bytes=3500,
                                                           include_newest=False), seed=3)
    assert sum(e.size for e in budgeted.entries) <= 3500
    assert len(budgeted.entries) == 3
    huge = [CatalogEntry("big", 10**12, BASE, "big"), CatalogEntry("bigger", 10**13, BASE, "b")]
    forced = choose_sample(huge, Plan(files=5, max_bytes=1000), seed=3)
    assert [e.path for e in forced.entries] == ["big"]
    assert any("budget" in note for note in forced.notes)


def test_prefer_unverified_puts_unverified_files_first() -> None:
    all_entries = entries(20)
    verified = {e.path for e in all_entries[:15]}
    sample = choose_sample(all_entries, Plan(files=5, include_newest=False), seed=5,
                           verified=verified)
    assert {e.path for e in sample.entries} == {e.path for e in all_entries[15:]}


def test_empty_backup_gives_empty_sample() -> None:
    sample = choose_sample([], Plan(), seed=1)
    assert sample.entries == ()
    assert sample.notes


def timed(size: int, seconds: float, ttfb: float = 0.5) -> FileResult:
    return FileResult(path=f"f{size}", size=size, bytes=size, seconds=seconds,
                      ttfb_seconds=ttfb, result="ok")


def test_fit_line_recovers_a_and_b() -> None:
    a, b = fit_line([(0, 1.0), (100, 2.0), (200, 3.0)]) or (None, None)
    assert a == pytest.approx(1.0)
    assert b == pytest.approx(0.01)
    assert fit_line([(5, 1.0), (5, 2.0)]) is None


def test_estimate_pays_start_up_once_and_per_file_overhead_per_file() -> None:
    # 0.01 s per file plus 1 s per MB; start-up (ttfb) 0.5 s must be counted once
    files = [timed(s, 0.01 + s / 1e6) for s in (1_000, 500_000, 2_000_000, 4_000_000)]
    estimate = estimate_full_restore(files, total_files=10_000, total_bytes=10**9, streams=4)
    assert estimate is not None
    expected = 0.5 + (0.01 * 10_000 + 1e-6 * 10**9) / 4
    assert estimate.seconds == pytest.approx(expected, rel=1e-6)
    assert "linear fit" in estimate.method["method"]
    # many small files cost more than a few big ones of the same total size
    small = estimate_full_restore(files, total_files=1_000_000, total_bytes=10**9, streams=4)
    assert small is not None and small.seconds > estimate.seconds


def test_estimate_falls_back_to_throughput_with_few_files() -> None:
    estimate = estimate_full_restore([timed(1_000_000, 2.0)], total_files=10,
                                     total_bytes=10_000_000, streams=1)
    assert estimate is not None
    assert estimate.seconds == pytest.approx(0.5 + 20.0)
    assert "throughput" in estimate.method["method"]


def test_estimate_is_none_when_nothing_was_read() -> None:
    broken = FileResult("x", 10, 0, 0.0, 0.0, "unreadable")
    assert estimate_full_restore([broken], 1, 10, 1) is None
