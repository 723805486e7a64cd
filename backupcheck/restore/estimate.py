"""Estimating how long a full restore of the chosen backup would take, with an interval.

The model is the same for every kind and knows nothing of how bytes are fetched::

    seconds = once + (files * (per_file + write) + requests * per_request
                      + bytes / stream_rate) / streams

``streams`` is the plan's ``restore_streams`` (what ``restic restore`` and ``aws s3 sync``
use), never the drill's ``--jobs``. ``write`` is the plan's ``restore_file_cost`` (default
3 ms): what creating and writing one file costs the restore target, which a drill that never
writes to disk cannot time. ``benchmarks/bench_rto.py`` saw ``restic restore`` of 5,000 small
files take 3.1-4.6 s to this machine's disk and 0.74-0.85 s to tmpfs (about 5 ms per file
per stream on the disk, of which the reader's own per-file work measures a part).
``per_file`` and ``stream_rate`` are measured by the probe (:mod:`backupcheck.restore.probe`)
with all ``streams`` reading at once, so a link they share (its rate split between them) and
a far endpoint (every request waits) are in the figures; the same reads on one stream alone
give the saturation shown in the evidence.

How the measured time to first byte maps onto a real restore is the reader's to say:

* ``per_file`` (an S3 GET): every file or object pays it on its stream, and the listing of
  the backup is paid once (``once``);
* ``fetch`` (the native restic reader): a real ``restic restore`` fetches packs, not files,
  so it pays one request (``per_request``: the quickest small read alone) per
  :data:`PACK_BYTES` of data. Each file pays what a small probed file (under
  :data:`SMALL_READ`, read the way a restore reads: a pack region fetched once for its files)
  took to its first byte beyond one request with every stream busy (``per_file``: its own
  work; the first quartile, since the reads that waited for the region's fetch are the
  requests). The first byte of a big file comes with the first fetched and decrypted pack
  region (up to 8 MiB), so the stream rate counts that wait with the bytes after it. The
  restore pays once the repository's opening (key derivation, index: ``startup_seconds``,
  what ``restic restore`` pays too) and the listing;
* ``once`` (``restic dump``: process start-up and index load): a real restore pays it once,
  plus the listing of the backup's files (a restore walks the same trees).

The interval is a bootstrap over the probed files (their times to first byte and throughput
resampled), widened to at least -20 % / +25 % of the point: the error the benchmark
(``benchmarks/bench_rto.py``) allows the model; +60 % for ``fetch`` (:data:`FETCH_HIGH_FLOOR`).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from backupcheck.model import FileResult
from backupcheck.restore.probe import Probe, Read

TtfbPaid = Literal["per_file", "fetch", "once"]

_TIMED = {"ok", "unproven", "digest", "size"}
BOOTSTRAP_ROUNDS = 400
LOW_QUANTILE, HIGH_QUANTILE = 0.05, 0.95
#: the interval is never narrower than this around the point (the model's own error)
LOW_FLOOR, HIGH_FLOOR = 0.8, 1.25
#: the high end for a reader that is not the restore tool (``fetch``: our restic reader
#: streams to memory, ``restic restore`` also writes every file and byte to its target's
#: disk, which the drill never does): ``benchmarks/bench_rto.py`` measured real local restic
#: restores at up to 1.6x the model, so the interval reaches 1.6x
FETCH_HIGH_FLOOR = 1.6
#: a probed file this small is one fetch: its first byte is the file's own work
SMALL_READ = 256 << 10
#: bytes a real ``restic restore`` fetches per request at most: restic (0.14 on) writes pack
#: files of at least 4 MiB and reads a pack's blobs for many files together
PACK_BYTES = 4 << 20


@dataclass(frozen=True)
class RestoreCosts:
    """What one full restore pays, whatever fetches the bytes."""

    once_seconds: float
    per_file_seconds: float
    stream_bytes_per_second: float
    streams: int
    #: a request per ``request_bytes`` of data (0: requests are counted per file)
    per_request_seconds: float = 0.0
    request_bytes: int = 0
    #: what creating and writing a file costs the restore target (the plan's, not measured)
    write_seconds: float = 0.0

    def requests(self, total_bytes: int) -> int:
        return -(-total_bytes // self.request_bytes) if self.request_bytes else 0

    def seconds(self, files: int, total_bytes: int) -> float:
        rate = self.stream_bytes_per_second
        moving = total_bytes / rate if rate > 0 else 0.0
        asking = self.requests(total_bytes) * self.per_request_seconds
        per_file = self.per_file_seconds + self.write_seconds
        return self.once_seconds + (files * per_file + asking + moving) / self.streams


@dataclass(frozen=True)
class Estimate:
    seconds: float
    low_seconds: float
    high_seconds: float
    method: dict[str, Any]


def _moving(reads: Sequence[Read]) -> tuple[Read, ...]:
    """The reads that time a stream's throughput: those of at least :data:`SMALL_READ` bytes
    when there are any (a few kB say nothing of a rate, and a resample of only those gave
    a high end fifty times the real restore), else all."""
    big = tuple(r for r in reads if r.bytes >= SMALL_READ)
    return big or tuple(reads)


def _rate(reads: Sequence[Read], *, first_byte_beyond: float | None = None) -> float:
    """Bytes per second of ``reads`` from their first byte on; with ``first_byte_beyond``
    also the part of each wait for the first byte beyond that per-file cost (a fetch)."""
    moved = sum(r.bytes for r in reads)
    spent = sum(r.seconds for r in reads)
    if first_byte_beyond is not None:
        spent += sum(max(0.0, r.ttfb_seconds - first_byte_beyond) for r in reads)
    return moved / max(spent, 1e-6) if moved else 0.0


def _lower_quartile(values: Sequence[float]) -> float:
    """The first quartile (the median of fewer than four): a small file read the way a
    restore reads waits for its pack region only when it is the first to need it; the
    quick ones are its own work (the waits are the requests, counted per pack)."""
    if len(values) < 4:
        return statistics.median(values)
    return statistics.quantiles(values, n=4, method="inclusive")[0]


def _costs(probe: Probe, paid: TtfbPaid, listing_seconds: float, startup_seconds: float,
           write_seconds: float) -> RestoreCosts:
    moving = _moving(probe.together_bytes)
    if paid == "fetch":
        # one request: the quickest first byte on one stream alone (a small file's fetch);
        # what a small file took beyond it with every stream busy, read the way a restore
        # reads (a pack region fetched once for its files), is each file's own work: the
        # first quartile, since the reads that waited for a region's fetch are the request
        request = min(r.ttfb_seconds for r in probe.alone)
        small = [r.ttfb_seconds for r in probe.together_requests if r.bytes < SMALL_READ]
        own = _lower_quartile(small) if small else request
        return RestoreCosts(startup_seconds + listing_seconds, max(0.0, own - request),
                            _rate(moving, first_byte_beyond=own), probe.streams,
                            per_request_seconds=request, request_bytes=PACK_BYTES,
                            write_seconds=write_seconds)
    if paid == "per_file":  # a real restore lists the objects before it fetches them
        once = listing_seconds
        per_file = statistics.fmean(r.ttfb_seconds for r in probe.together_requests)
    else:
        once = statistics.median(r.ttfb_seconds for r in probe.alone) + listing_seconds
        per_file = 0.0
    return RestoreCosts(once, per_file, _rate(moving), probe.streams,
                        write_seconds=write_seconds)


def _resampled(probe: Probe, rng: random.Random) -> Probe:
    def pick(reads: tuple[Read, ...]) -> tuple[Read, ...]:
        return tuple(rng.choices(reads, k=len(reads)))

    return Probe(pick(probe.alone), pick(_moving(probe.together_bytes)),
                 pick(probe.together_requests), probe.streams, probe.files)


def probe_from_files(files: Sequence[FileResult], streams: int) -> Probe | None:
    """The verification's own timings as a probe (when no probe could be run)."""
    reads = tuple(Read(f.bytes, f.ttfb_seconds, f.seconds) for f in files
                  if f.result in _TIMED)
    return Probe(reads, reads, reads, max(1, streams), len(reads)) if reads else None


def nothing_to_restore() -> Estimate:
    """A backup without a regular file: a full restore moves no data."""
    return Estimate(0.0, 0.0, 0.0, {
        "method": "nothing to restore: the backup holds no regular file (from its listing)",
        "total_files": 0, "total_bytes": 0})


def estimate_full_restore(probe: Probe, total_files: int, total_bytes: int, *,
                          paid: TtfbPaid = "per_file", listing_seconds: float = 0.0,
                          startup_seconds: float = 0.0, write_seconds: float = 0.0,
                          seed: int = 0) -> Estimate:
    """The point estimate and its bootstrap interval for the whole backup."""
    inputs = (paid, listing_seconds, startup_seconds, write_seconds)
    costs = _costs(probe, *inputs)
    point = costs.seconds(total_files, total_bytes)
    rng = random.Random(seed)
    rounds = sorted(_costs(_resampled(probe, rng), *inputs).seconds(total_files, total_bytes)
                    for _ in range(BOOTSTRAP_ROUNDS))
    low = min(rounds[int(LOW_QUANTILE * (len(rounds) - 1))], point * LOW_FLOOR)
    high = max(rounds[int(HIGH_QUANTILE * (len(rounds) - 1))],
               point * (FETCH_HIGH_FLOOR if paid == "fetch" else HIGH_FLOOR))
    alone_rate = _rate(probe.alone)
    alone_ttfb = statistics.fmean(r.ttfb_seconds for r in probe.alone)
    return Estimate(point, low, high, {
        "method": "restore model: once + (files * (per_file + write) + requests * "
                  "per_request + bytes / stream_rate) / streams",
        "time_to_first_byte_paid": paid,
        "once_seconds": round(costs.once_seconds, 6),
        "per_file_seconds": round(costs.per_file_seconds, 6),
        "write_seconds": write_seconds,
        "write_seconds_from": "the plan's restore_file_cost (assumed: a drill never writes "
                              "to disk, so what creating a file costs the restore target "
                              "cannot be timed)",
        "per_request_seconds": round(costs.per_request_seconds, 6),
        "requests": costs.requests(total_bytes) or None,
        "stream_bytes_per_second": round(costs.stream_bytes_per_second, 1),
        "restore_streams": costs.streams,
        "listing_seconds": round(listing_seconds, 6),
        "startup_seconds": round(startup_seconds, 6),
        "total_files": total_files,
        "total_bytes": total_bytes,
        "interval": f"bootstrap {LOW_QUANTILE:.0%}-{HIGH_QUANTILE:.0%} over the probed files "
                    f"({BOOTSTRAP_ROUNDS} rounds), at least -20 %/+"
                    + ("60 % of the point (restic restore also writes to disk)"
                       if paid == "fetch" else "25 % of the point"),
        "estimate_low_seconds": round(low, 3),
        "estimate_high_seconds": round(high, 3),
        "probe": {
            "files": probe.files, "alone_reads": len(probe.alone),
            "together_reads": len(probe.together_bytes) + len(probe.together_requests),
            "alone_bytes_per_second": round(alone_rate, 1),
            "alone_ttfb_seconds": round(alone_ttfb, 6),
            # how much faster all streams together move bytes than one alone (1 = a shared
            # link already full with one stream; streams = no sharing at all)
            "bytes_speedup": round(costs.streams * costs.stream_bytes_per_second
                                   / alone_rate, 3) if alone_rate else None,
        },
    })
