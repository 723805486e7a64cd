"""Benchmark: ``build_manifest`` vs ``xxhsum -H2`` over the same tree (many small files, a few big).

Run from the repository root::

    python -m benchmarks.bench_manifest [--size-mb 2048] [--reps 3]

The tree is generated once per run (``--data DIR`` keeps and reuses it). The page cache
cannot be dropped without root-only knobs, so every variant is first run once to warm it
and all timings are *warm cache*: they measure CPU and memory cost, not the disk. Variants
run interleaved, in a rotating order, and the table shows medians. Target (issue 8):
ours >= 1.0x the speed of ``xxhsum -H2``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from backupcheck.manifest.build import build_manifest
from backupcheck.manifest.schema import ManifestStats

RESULTS = Path(__file__).resolve().parent / "results" / "manifest.json"
MiB = 1 << 20
#: at --size-mb 2048: 20,000 files of 4-64 KiB (~0.65 GiB) and 6 files of 256 MiB
SMALL_FILES_PER_2GIB = 20_000
BIG_FILES = 6


def make_tree(root: Path, size_mb: int, seed: int = 1) -> dict[str, Any]:
    """Write the benchmark tree; returns its shape. Content is unique per file and block."""
    scale = size_mb / 2048
    small_count = max(1, round(SMALL_FILES_PER_2GIB * scale))
    big_size = max(1, round(256 * scale)) * MiB
    rnd = random.Random(seed)
    pool = rnd.randbytes(128 * 1024)
    total = 0
    for i in range(small_count):
        directory = root / "small" / f"d{i // 500:03d}"
        if i % 500 == 0:
            directory.mkdir(parents=True, exist_ok=True)
        size = rnd.randint(4, 64) * 1024
        start = rnd.randrange(0, len(pool) - size)
        (directory / f"f{i:06d}.bin").write_bytes(i.to_bytes(8, "little") + pool[start + 8:
                                                                                  start + size])
        total += size
    block = bytearray(os.urandom(MiB))
    (root / "big").mkdir(parents=True, exist_ok=True)
    for i in range(BIG_FILES):
        with open(root / "big" / f"image{i}.img", "wb") as fh:
            for j in range(big_size // MiB):
                block[:16] = i.to_bytes(8, "little") + j.to_bytes(8, "little")
                fh.write(block)
        total += big_size
    return {"small_files": small_count, "small_sizes": "4-64 KiB", "big_files": BIG_FILES,
            "big_file_bytes": big_size, "files": small_count + BIG_FILES, "bytes": total}


def shell(command: str) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True,
                       stdout=subprocess.DEVNULL)
    return run


def variants(tree: Path, out: Path, files: int,
             methods: dict[str, str]) -> dict[str, Callable[[], None]]:
    q = shlex.quote(str(tree))
    per_call = max(1, -(-files // 16))  # 16 xxhsum calls, so -P2 can balance them
    fresh = ("import sys; from pathlib import Path; from backupcheck.manifest.build import "
             "build_manifest; build_manifest(Path(sys.argv[1]), Path(sys.argv[2]))")
    return {
        "backupcheck build_manifest": lambda: _note(methods, "backupcheck build_manifest",
                                                    build_manifest(tree, out)),
        "backupcheck, 1 worker": lambda: _note(methods, "backupcheck, 1 worker",
                                               build_manifest(tree, out, workers=1)),
        "backupcheck, new interpreter": lambda: _ignore(subprocess.run(
            [sys.executable, "-c", fresh, str(tree), str(out)], check=True)),
        "xxhsum -H2": shell(f"find {q} -type f -print0 | xargs -0 xxhsum -H2 > /dev/null 2>&1"),
        "xxhsum -H2, xargs -P2": shell(
            f"find {q} -type f -print0 | xargs -0 -P2 -n {per_call} xxhsum -H2 > /dev/null 2>&1"),
    }


def cpu_seconds() -> float:
    """User + system CPU of this process and its reaped children (pool workers, xxhsum)."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _note(methods: dict[str, str], name: str, stats: ManifestStats) -> None:
    methods[name] = stats.method  # serial, or processes:fork / processes:forkserver


def _ignore(_: object) -> None:
    return None


def check_digests(tree: Path, out: Path) -> int:
    """Our manifest must agree with xxhsum on every file: returns the number compared."""
    listing = subprocess.run(
        ["bash", "-c", f"cd {shlex.quote(str(tree))} && find . -type f -print0 | "
                       "xargs -0 xxhsum -H2"], check=True, capture_output=True, text=True).stdout
    theirs = {}
    for line in listing.splitlines():
        digest, _, name = line.partition("  ")
        theirs[name.removeprefix("./")] = digest
    ours = dict(zip(*pq.read_table(out, columns=["path", "xxh3_128"]).to_pydict().values(),
                    strict=True))
    if ours != theirs:
        raise SystemExit(f"digest mismatch: {len(ours)} ours vs {len(theirs)} xxhsum rows differ")
    return len(ours)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=2048, help="tree size (default 2048)")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions (default 3)")
    parser.add_argument("--data", type=Path, help="keep the tree here and reuse it next time")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    args = parser.parse_args(argv)
    if shutil.which("xxhsum") is None:
        raise SystemExit("xxhsum not found (Debian: apt-get install xxhash)")

    scratch = Path(tempfile.mkdtemp(prefix="bench-manifest-"))
    try:
        base = args.data or scratch
        tree = base / f"tree-{args.size_mb}mb"
        marker = base / f"tree-{args.size_mb}mb.json"
        if marker.exists():
            shape = json.loads(marker.read_text())
        else:
            shutil.rmtree(tree, ignore_errors=True)
            tree.mkdir(parents=True)
            print(f"writing a {args.size_mb} MiB tree to {tree} ...", file=sys.stderr)
            shape = make_tree(tree, args.size_mb)
            marker.write_text(json.dumps(shape))
        out = scratch / "manifest.parquet"
        methods: dict[str, str] = {}
        runs = variants(tree, out, shape["files"], methods)

        print("warming the page cache (one untimed run of each) ...", file=sys.stderr)
        for run in runs.values():
            run()
        compared = check_digests(tree, out)
        print(f"digests agree with xxhsum -H2 on all {compared} files", file=sys.stderr)

        load_before = os.getloadavg()[0]
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        names = list(runs)
        for rep in range(args.reps):
            order = names[rep % len(names):] + names[:rep % len(names)]
            for name in order:
                cpu_before = cpu_seconds()
                started = time.perf_counter()
                runs[name]()
                seconds[name].append(time.perf_counter() - started)
                cpu[name].append(cpu_seconds() - cpu_before)
            print(f"rep {rep + 1}/{args.reps} done", file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    total_bytes = shape["bytes"]
    load = (load_before, os.getloadavg()[0])
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    ours = medians["backupcheck build_manifest"]
    baseline = medians["xxhsum -H2"]
    print(f"\nmanifest build, {shape['files']:,} files ({shape['small_files']:,} x "
          f"{shape['small_sizes']}, {shape['big_files']} x {shape['big_file_bytes'] // MiB} "
          f"MiB), {total_bytes / MiB:,.0f} MiB, warm page cache, {os.cpu_count()} CPUs, "
          f"median of {args.reps}; load average {load[0]:.1f} -> {load[1]:.1f}\n")
    print(f"{'variant':30} {'median s':>9} {'min s':>7} {'CPU s':>6} {'MiB/s':>7} "
          f"{'speed vs xxhsum -H2':>20}")
    for name, median in medians.items():
        print(f"{name:30} {median:9.3f} {min(seconds[name]):7.3f} "
              f"{statistics.median(cpu[name]):6.2f} {total_bytes / MiB / median:7.0f} "
              f"{baseline / median:19.2f}x")
    ratio = baseline / ours
    ratio_p2 = medians["xxhsum -H2, xargs -P2"] / ours
    verdict = "met" if ratio >= 1.0 else "NOT met"
    print(f"\nhashing: {methods.get('backupcheck build_manifest')}")
    print(f"ours vs xxhsum -H2: {ratio:.2f}x (target >= 1.0x: {verdict}); "
          f"vs xxhsum -H2 with xargs -P2: {ratio_p2:.2f}x")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "manifest",
        "cache": "warm page cache (dropping it needs root-only knobs): CPU and memory cost only",
        "params": {"size_mb": args.size_mb, "reps": args.reps, **shape},
        "machine": {"cpus": os.cpu_count(), "load_average_before_after": load,
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "xxhsum": subprocess.run(["xxhsum", "--version"], capture_output=True,
                                             text=True).stderr.strip()},
        "seconds": seconds,
        "cpu_seconds": cpu,
        "hashing_method": methods,
        "median_seconds": medians,
        "speed_vs_xxhsum": {name: baseline / median for name, median in medians.items()},
        "target": {"ours_vs_xxhsum_min": 1.0, "ratio": ratio, "met": ratio >= 1.0,
                   "ratio_vs_xxhsum_p2": ratio_p2},
    }, indent=2) + "\n")
    print(f"results written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
