"""Benchmark 2: S3 sample verification, ours vs a plain parallel GET vs the by-hand route.

Same objects, same server, same run, interleaved:

* **ours**: the drill's streamed verification (``S3Backend.open_file`` → ``restore_one``:
  xxh3-128 as the bytes arrive, ranged GETs in parallel for objects at or above
  ``s3stream.PARALLEL_THRESHOLD``) on ``jobs`` streams, every digest checked;
* **plain GET**: boto3 ``get_object`` and read the body into nothing, ``jobs`` threads;
* **by hand**: ``aws s3 cp --recursive`` into a temporary directory, then ``xxhsum -H2``.

Targets (issue 8): ours >= 0.9x the plain GET's throughput; ours faster than by hand.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import xxhash

from benchmarks.common import (
    CHILD_SESSION,
    Comparison,
    MiB,
    MotoServer,
    Timings,
    interleave,
    log,
    make_client,
    mb_per_s,
    streamed_verify,
    use_test_credentials,
)

BUCKET = "bench-s3-verify"
PREFIX = "Veeam/Backup Job 1/"


def object_sizes(count: int, total_mb: int, seed: int = 2) -> list[int]:
    """A backup-like mix: many small objects, some medium, a few above the parallel threshold.

    Small (64 KiB - 1 MiB) and medium (2 - 12 MiB) objects are drawn at random; the large
    ones share what is left of ``total_mb`` and are never smaller than 20 MiB.
    """
    from backupcheck.backends.s3stream import PARALLEL_THRESHOLD

    rng = random.Random(seed)
    large = max(1, round(count * 0.15))
    medium = max(1, round(count * 0.25))
    small = max(1, count - large - medium)
    sizes = [rng.randint(64 * 1024, MiB) for _ in range(small)]
    sizes += [rng.randint(2 * MiB, 12 * MiB) for _ in range(medium)]
    left = total_mb * MiB - sum(sizes)
    big = max(PARALLEL_THRESHOLD + 4 * MiB, left // large)
    sizes += [big + rng.randint(0, MiB) for _ in range(large)]
    rng.shuffle(sizes)
    return sizes


def populate(server: MotoServer, sizes: list[int]) -> dict[str, str]:
    """Upload the objects (with ``x-amz-meta-xxh3-128``); returns relative key -> digest."""
    s3 = server.client()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})

    def put(item: tuple[int, int]) -> tuple[str, str]:
        index, size = item
        data = random.Random(index).randbytes(size)
        digest = xxhash.xxh3_128_hexdigest(data)
        name = f"job{index % 3}/{index:04d}.vib"
        s3.put_object(Bucket=BUCKET, Key=PREFIX + name, Body=data,
                      Metadata={"xxh3-128": digest})
        return name, digest

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(put, enumerate(sizes)))


def run(*, objects: int, total_mb: int, jobs: int, reps: int) -> list[Comparison]:
    use_test_credentials()
    if shutil.which("xxhsum") is None:
        raise RuntimeError("xxhsum not found (Debian: apt-get install xxhash)")
    aws = Path(sys.executable).with_name("aws")
    if not aws.exists():
        raise RuntimeError(f"{aws} not found (awscli is in the dev extra)")
    sizes = object_sizes(objects, total_mb)
    total = sum(sizes)
    from backupcheck.backends.s3stream import PARALLEL_THRESHOLD

    above = sum(s >= PARALLEL_THRESHOLD for s in sizes)
    log(f"S3: {len(sizes)} objects, {total / MiB:.0f} MiB ({above} at or above the "
        f"{PARALLEL_THRESHOLD // MiB} MiB parallel threshold), jobs {jobs}")
    scratch = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    try:
        timings, server_cpu = _measure(scratch, sizes, jobs, reps, aws)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _rows(timings, server_cpu, sizes, jobs)


def _measure(scratch: Path, sizes: list[int], jobs: int, reps: int,
             aws: Path) -> tuple[Timings, float]:
    from backupcheck.backends.s3_backend import S3Backend
    from backupcheck.clock import now_utc
    from backupcheck.model import Plan, S3Target

    total = sum(sizes)
    with MotoServer() as server:
        expected = populate(server, sizes)
        target = S3Target(name="bench", bucket=BUCKET, prefix=PREFIX, endpoint_url=server.url)
        backend = S3Backend(make_client("bench", [target], scratch / "bench.toml"), target)
        catalog = backend.catalog(Plan(), seed=0, now=now_utc())
        if catalog.total_files != len(sizes) or catalog.total_bytes != total:
            raise RuntimeError(f"the bucket lists {catalog.total_files} objects, not {len(sizes)}")
        plain_client = server.client()
        keys = [PREFIX + e.path for e in catalog.entries]
        download = scratch / "download"

        def ours() -> dict[str, float]:
            return {"bytes": streamed_verify(backend, catalog, expected, jobs)}

        def plain() -> dict[str, float]:
            def get(key: str) -> int:
                body = plain_client.get_object(Bucket=BUCKET, Key=key)["Body"]
                n = 0
                while chunk := body.read(MiB):
                    n += len(chunk)
                return n

            with ThreadPoolExecutor(max_workers=jobs) as pool:
                got = sum(pool.map(get, keys))
            if got != total:
                raise RuntimeError(f"plain GET read {got} bytes, not {total}")
            return {"bytes": got}

        def by_hand() -> None:
            subprocess.run([str(aws), "s3", "cp", "--recursive", "--only-show-errors",
                            "--endpoint-url", server.url, f"s3://{BUCKET}/{PREFIX}",
                            str(download)], check=True, capture_output=True,
                           start_new_session=CHILD_SESSION)
            subprocess.run(["bash", "-o", "pipefail", "-c",
                            f"find '{download}' -type f -print0 | xargs -0 xxhsum -H2"],
                           check=True, capture_output=True, start_new_session=CHILD_SESSION)

        def clean(name: str) -> None:
            shutil.rmtree(download, ignore_errors=True)

        variants: dict[str, Any] = {"ours": ours, "plain GET": plain, "aws s3 cp + xxhsum": by_hand}
        cpu_before = server.cpu_seconds()
        timings = interleave(variants, reps, before_each=clean, label="s3")
        server_cpu = server.cpu_seconds() - cpu_before
        backend.close()
    return timings, server_cpu


def _rows(timings: Timings, server_cpu: float, sizes: list[int], jobs: int) -> list[Comparison]:
    from backupcheck.backends.s3stream import PARALLEL_THRESHOLD, PART_SIZE

    total = sum(sizes)
    above = sum(s >= PARALLEL_THRESHOLD for s in sizes)
    variants = list(timings.seconds)
    med = {name: timings.median(name) for name in variants}
    ratio_plain = med["plain GET"] / med["ours"]
    ratio_hand = med["aws s3 cp + xxhsum"] / med["ours"]
    details = {"objects": len(sizes), "bytes": total, "jobs": jobs,
               "objects_at_or_above_parallel_threshold": above,
               "parallel_threshold_bytes": PARALLEL_THRESHOLD,
               "throughput_mib_s": {n: round(mb_per_s(total, s), 1) for n, s in med.items()},
               "server_cpu_seconds_all_runs": round(server_cpu, 2),
               "client_cpu_seconds_median": {
                   n: round(timings.extra_median(n, "cpu_self_s")
                            + timings.extra_median(n, "cpu_children_s"), 2) for n in variants},
               "server": "moto (subprocess), ranged GETs sliced (benchmarks/motoserver.py)"}
    compared = (f"{len(sizes)} S3 objects, {total / MiB:.0f} MiB ({above} >= "
                f"{PARALLEL_THRESHOLD // MiB} MiB), {jobs} streams")
    seconds = dict(timings.seconds)
    cpu = details["client_cpu_seconds_median"]
    ranged = sum(-(-size // PART_SIZE) for size in sizes if size >= PARALLEL_THRESHOLD)
    note = (f"client CPU ours {cpu['ours']:.2f}s vs plain {cpu['plain GET']:.2f}s; ours reads "
            f"the {above} large objects as {ranged} parallel {PART_SIZE // MiB} MiB ranged GETs "
            f"(GETs in all: {len(sizes) - above + ranged} vs {len(sizes)})")
    return [
        Comparison("s3 verify vs plain GET", compared + ": ours vs parallel boto3 GET",
                   {"ours": med["ours"], "plain GET": med["plain GET"]}, ratio_plain,
                   f"{ratio_plain:.2f}x throughput", ">= 0.90x", ratio_plain >= 0.9,
                   details, seconds, note),
        Comparison("s3 verify vs by hand", compared + ": ours vs aws s3 cp + xxhsum -H2",
                   {"ours": med["ours"], "aws s3 cp + xxhsum": med["aws s3 cp + xxhsum"]},
                   ratio_hand, f"{ratio_hand:.2f}x faster", "> 1.00x", ratio_hand > 1.0,
                   details, seconds),
    ]
