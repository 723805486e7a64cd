"""The sampler and the restore-time estimate, as pure functions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from backupcheck.backends.base import CatalogEntry
from backupcheck.model import FileResult, Plan
from backupcheck.restore.estimate import (
    estimate_full_restore,
    nothing_to_restore,
    probe_from_files,
)
from backupcheck.restore.probe import Probe, Read
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


def probe(ttfb: float, rate: float, *, alone_rate: float | None = None, streams: int = 8,
          size: int = 1_000_000) -> Probe:
    """Reads with ``ttfb`` each and ``rate`` bytes/s per stream (all streams together)."""
    together = tuple(Read(size, ttfb, size / rate) for _ in range(streams))
    alone_rate = alone_rate or rate
    alone = tuple(Read(size, ttfb, size / alone_rate) for _ in range(4))
    return Probe(alone, together, together, streams, streams)


def test_every_object_pays_its_time_to_first_byte_over_the_restore_streams() -> None:
    # 2,000 objects, 100 ms each before a byte, 8 streams: 25 s whatever the bytes
    estimate = estimate_full_restore(probe(0.1, 1e9), total_files=2000, total_bytes=400_000)
    assert estimate.seconds == pytest.approx(2000 * 0.1 / 8 + 400_000 / 1e9 / 8, rel=1e-6)
    assert estimate.method["per_file_seconds"] == pytest.approx(0.1)
    assert estimate.method["restore_streams"] == 8


def test_a_shared_link_is_measured_per_stream_so_more_streams_do_not_help() -> None:
    # one stream alone gets the whole 8 MB/s; eight together get 1 MB/s each
    shared = probe(0.001, 1e6, alone_rate=8e6)
    estimate = estimate_full_restore(shared, total_files=32, total_bytes=32_000_000)
    assert estimate.seconds == pytest.approx((32 * 0.001 + 32.0) / 8, rel=1e-6)
    assert estimate.method["probe"]["bytes_speedup"] == pytest.approx(1.0)
    many = estimate_full_restore(probe(0.001, 8e6 / 64, alone_rate=8e6, streams=64),
                                 total_files=32, total_bytes=32_000_000)
    assert many.seconds == pytest.approx(estimate.seconds, rel=0.01)


def test_a_once_paid_start_up_is_counted_once_with_the_listing() -> None:
    estimate = estimate_full_restore(probe(0.5, 1e8), total_files=10_000,
                                     total_bytes=10**9, paid="once", listing_seconds=2.0)
    assert estimate.seconds == pytest.approx(0.5 + 2.0 + 10**9 / 1e8 / 8, rel=1e-6)
    assert estimate.method["per_file_seconds"] == 0


def test_a_pack_reader_counts_its_first_fetch_as_moving_bytes() -> None:
    # the native restic reader fetches and decrypts up to 8 MiB before the first byte: the
    # bytes after it come from memory. Timed from the first byte on, one stream would seem to
    # move 80 GB/s and a 1 GB restore would be estimated at a few milliseconds (a false pass
    # the RTO benchmark found: 0.03 s against a real restic restore of 1.4 s)
    group = 8 << 20
    fetched = tuple(Read(group, 0.02, 0.0001) for _ in range(8))
    small = tuple(Read(2_000, 0.003, 0.0) for _ in range(8))
    alone = (*fetched[:2], Read(2_000, 0.001, 0.0), Read(2_000, 0.001, 0.0))
    reader = Probe(alone, fetched, small, 8, 16)
    estimate = estimate_full_restore(reader, total_files=5_000, total_bytes=10**9,
                                     paid="fetch", listing_seconds=0.5, startup_seconds=0.4)
    # a request is the quickest small read alone (1 ms), one per 4 MiB pack as restic reads;
    # each file's own work is what a small read took beyond it with every stream busy (2 ms)
    rate = group / (0.0001 + 0.02 - 0.003)
    requests = -(-10**9 // (4 << 20))
    assert estimate.seconds == pytest.approx(
        0.4 + 0.5 + (5_000 * 0.002 + requests * 0.001 + 10**9 / rate) / 8, rel=1e-6)
    assert estimate.method["stream_bytes_per_second"] == pytest.approx(rate, rel=1e-6)
    assert estimate.method["requests"] == requests
    # the reader measured is not restic restore, which also writes to disk: the interval
    # reaches 1.6x (FETCH_HIGH_FLOOR, from benchmarks/bench_rto.py)
    assert estimate.high_seconds >= 1.6 * estimate.seconds * (1 - 1e-9)
    assert estimate.method["startup_seconds"] == pytest.approx(0.4)
    assert estimate.low_seconds <= estimate.seconds <= estimate.high_seconds


def test_small_reads_that_waited_for_their_pack_do_not_blow_up_the_interval() -> None:
    # read the way a restore reads, the first eight small files wait 200 ms for the pack
    # region the other sixteen then take from memory: the waits are one request, not each
    # file's own work (a resample whose median was a wait gave a high end of 32 s for a
    # restore of 1 s in bench_rto)
    waits = tuple(Read(2_000, 0.2, 0.0) for _ in range(8))
    quick = tuple(Read(2_000, 0.001, 0.0) for _ in range(16))
    big = tuple(Read(8 << 20, 0.1, 0.01) for _ in range(8))
    alone = (*big[:2], Read(2_000, 0.005, 0.0), Read(2_000, 0.005, 0.0))
    estimate = estimate_full_restore(Probe(alone, big, (*waits, *quick), 8, 16),
                                     total_files=1_000, total_bytes=40_000_000, paid="fetch",
                                     startup_seconds=0.5, seed=3)
    assert estimate.method["per_file_seconds"] == 0  # the quick reads beat one request alone
    assert estimate.high_seconds <= 1.6 * estimate.seconds * 1.001


def test_a_few_small_files_among_the_largest_do_not_time_the_throughput() -> None:
    # a sample of two big files and many small ones: the bytes round reads the eight
    # largest, six of them a few kB. Their rate says nothing; a resample of only those gave
    # 55 s as the high end of a 1 s restore (bench_rto, restic on S3, mixed)
    big = tuple(Read(8 << 20, 0.01, 0.8) for _ in range(2))
    tiny = tuple(Read(4_000, 0.01, 0.05) for _ in range(6))
    requests = tuple(Read(4_000, 0.01, 0.0) for _ in range(24))
    probe = Probe((*big, *tiny[:2]), (*big, *tiny), requests, 8, 16)
    for paid in ("per_file", "fetch", "once"):
        estimate = estimate_full_restore(probe, total_files=1_000, total_bytes=40_000_000,
                                         paid=paid, seed=5)  # type: ignore[arg-type]
        assert estimate.method["stream_bytes_per_second"] == pytest.approx((8 << 20) / 0.8,
                                                                           rel=0.02), paid
        assert estimate.high_seconds <= 1.6 * estimate.seconds * 1.001, paid


def test_every_file_pays_what_creating_it_costs_the_restore_target() -> None:
    # 20,000 files of 1 kB: the bytes are nothing, yet a real restore creates 20,000 files.
    # restic restore of 5,000 small files took 3.1-4.6 s to this machine's disk (0.8 s to
    # tmpfs); a drill never writes, so the plan says what a file costs
    quick = probe(0.0001, 1e9)
    without = estimate_full_restore(quick, total_files=20_000, total_bytes=20_000_000)
    written = estimate_full_restore(quick, total_files=20_000, total_bytes=20_000_000,
                                    write_seconds=0.003)
    assert written.seconds == pytest.approx(without.seconds + 20_000 * 0.003 / 8, rel=1e-6)
    assert written.low_seconds >= without.low_seconds + 0.8 * 20_000 * 0.003 / 8 - 1e-6
    assert written.method["write_seconds"] == 0.003
    assert "restore_file_cost" in written.method["write_seconds_from"]


def test_the_interval_holds_the_point_and_is_reproducible() -> None:
    rng = random.Random(3)
    reads = tuple(Read(1_000_000, rng.uniform(0.05, 0.2), rng.uniform(0.01, 0.05))
                  for _ in range(8))
    spread = Probe(reads[:4], reads, reads, 8, 8)
    first = estimate_full_restore(spread, 5000, 10**10, seed=1)
    again = estimate_full_restore(spread, 5000, 10**10, seed=1)
    assert first.low_seconds < first.seconds < first.high_seconds
    assert first.low_seconds <= 0.8 * first.seconds
    assert first.high_seconds >= 1.25 * first.seconds
    assert (first.low_seconds, first.high_seconds) == (again.low_seconds, again.high_seconds)
    assert first.method["estimate_low_seconds"] == round(first.low_seconds, 3)


def test_nothing_to_restore_is_an_estimate_of_zero() -> None:
    estimate = nothing_to_restore()
    assert (estimate.seconds, estimate.low_seconds, estimate.high_seconds) == (0, 0, 0)
    assert "nothing to restore" in estimate.method["method"]


def test_the_verification_timings_stand_in_when_no_probe_ran() -> None:
    files = [FileResult("a", 10, 10, 0.1, 0.2, "ok"), FileResult("b", 10, 0, 0, 0, "unreadable")]
    stand_in = probe_from_files(files, 8)
    assert stand_in is not None and len(stand_in.together_requests) == 1
    assert probe_from_files([files[1]], 8) is None


def small_files_and_one_big(count: int = 500) -> list[CatalogEntry]:
    return [*entries(count, size=2_000),
            CatalogEntry("vm/disk.img", 100 * 1024 * 1024, BASE, "/vm/disk.img")]


def test_the_largest_file_is_sampled_whatever_the_seed() -> None:
    """Issue 17: a sample of small files only extrapolated 2-38 s over five seeds."""
    plan = Plan(files=10, include_newest=False)
    for seed in range(10):
        sample = choose_sample(small_files_and_one_big(), plan, seed=seed)
        assert "vm/disk.img" in {e.path for e in sample.entries}, seed
        assert sample.stratified[0] == "vm/disk.img"
        assert len(sample.entries) == 10
        described = sample.description(small_files_and_one_big())
        assert described["largest_bytes"] == described["backup_largest_bytes"]
        assert described["stratum_picks"][0] == "vm/disk.img"


def test_strata_of_equal_bytes_each_get_a_pick() -> None:
    sizes = [10] * 90 + [1_000] * 30 + [40_000, 50_000]
    catalog = [CatalogEntry(f"f{i:03d}", size, BASE, f"/f{i:03d}")
               for i, size in enumerate(sizes)]
    sample = choose_sample(catalog, Plan(files=3, include_newest=False), seed=4)
    picked = sorted(e.size for e in sample.entries)
    # 120.9 kB in four strata of ~30 kB: {50 kB}, {40 kB}, and the small files
    assert picked[-2:] == [40_000, 50_000]
    assert picked[0] in (10, 1_000)
    assert len(sample.stratified) == 3


def test_a_largest_file_over_the_budget_is_named() -> None:
    sample = choose_sample(small_files_and_one_big(50),
                           Plan(files=5, max_bytes=1024 * 1024, include_newest=False), seed=1)
    assert "vm/disk.img" not in {e.path for e in sample.entries}
    assert any("largest file vm/disk.img" in note for note in sample.notes)


def test_a_per_file_reader_pays_the_listing_once() -> None:
    estimate = estimate_full_restore(probe(0.1, 1e9), total_files=80, total_bytes=80,
                                     listing_seconds=3.0)
    assert estimate.seconds == pytest.approx(3.0 + 80 * 0.1 / 8, rel=1e-3)
