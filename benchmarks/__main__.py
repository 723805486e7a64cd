"""Every benchmark comparison of issue 8 in one run: one table, one JSON file.

    python -m benchmarks [--quick] [--only restic,s3,inventory,manifest,clients] [--reps N]
                         [--jobs N] [size parameters, see --help] [--strict]

Each comparison sets up its own data on loopback (restic repositories on disk, a moto S3
server in a child process), runs its variants interleaved ``--reps`` times in the same run and
compares medians. The table says what was compared, the medians, the ratio, the target and
PASS / MISS; ``benchmarks/results/results.json`` keeps all of it plus every single timing.
Exit code 0 unless a benchmark could not run (1), or with ``--strict`` a target was missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import Comparison, log, skipped

RESULTS = Path(__file__).resolve().parent / "results" / "results.json"
NAMES = ("restic", "s3", "inventory", "manifest", "clients")

#: (default, --quick) per size parameter
SIZES: dict[str, tuple[int, int, str]] = {
    "restic_files": (50, 20, "files in the restic snapshot (all are verified)"),
    "restic_mb": (256, 100, "MiB in those files"),
    "s3_objects": (40, 12, "S3 objects to verify"),
    "s3_mb": (512, 96, "MiB in those objects"),
    "inventory_versions": (100_000, 20_000, "object versions + delete markers to inventory"),
    "manifest_mb": (1024, 256, "MiB in the manifest tree"),
    "clients": (50, 20, "clients in the many-clients drill"),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (a few minutes on 2 idle cores)")
    parser.add_argument("--only", default=",".join(NAMES),
                        help=f"comma-separated subset of {','.join(NAMES)}")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions (default 3)")
    parser.add_argument("--jobs", type=int, default=4,
                        help="parallel streams, ours and the baselines alike (default 4, the "
                             "plan default)")
    for name, (default, quick, text) in SIZES.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, dest=name,
                            help=f"{text} (default {default:,}; --quick {quick:,})")
    parser.add_argument("--clients-latency-ms", type=float, default=10.0,
                        help="also run the many-clients drill with this round trip per S3 "
                             "request (default 10; 0: loopback only)")
    parser.add_argument("--restic-s3", action="store_true",
                        help="also compare with a restic repository on the moto server")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    for name, (default, quick, _) in SIZES.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else default)
    args.only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(args.only) - set(NAMES))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    if args.reps < 1 or args.jobs < 1:
        parser.error("--reps and --jobs must be at least 1")
    return args


def run_manifest(args: argparse.Namespace) -> list[Comparison]:
    """benchmarks.bench_manifest (owned by the manifest work) through its own entry point."""
    try:
        from benchmarks import bench_manifest
    except ImportError as exc:
        return [skipped("manifest vs xxhsum", f"benchmarks/bench_manifest.py not available: "
                                              f"{exc}")]
    out = args.out.parent / "manifest.json"
    argv = ["--size-mb", str(args.manifest_mb), "--reps", str(args.reps), "--out", str(out)]
    # its own table goes to stderr with the other progress output; ours is printed at the end
    with contextlib.redirect_stdout(sys.stderr):
        try:
            code = bench_manifest.main(argv)
        except SystemExit as exc:  # it exits with a message when xxhsum is missing
            code = exc.code if isinstance(exc.code, int) else 1
            if not isinstance(exc.code, int):
                return [skipped("manifest vs xxhsum", str(exc.code))]
    if code:
        raise RuntimeError(f"bench_manifest exited {code}")
    doc = json.loads(out.read_text())
    med = doc["median_seconds"]
    ours, theirs = "backupcheck build_manifest", "xxhsum -H2"
    ratio = float(doc["target"]["ratio"])
    params = doc.get("params", {})
    compared = (f"manifest build over {params.get('files', '?'):,} files, "
                f"{params.get('bytes', 0) / (1 << 20):,.0f} MiB (warm cache): ours vs xxhsum -H2")
    return [Comparison("manifest vs xxhsum", compared, {"ours": med[ours], theirs: med[theirs]},
                       ratio, f"{ratio:.2f}x speed", ">= 1.00x", bool(doc["target"]["met"]),
                       {"all_medians": med, "params": params, "source": str(out)},
                       {"ours": doc["seconds"][ours], theirs: doc["seconds"][theirs]})]


def runners(args: argparse.Namespace) -> dict[str, Callable[[], list[Comparison]]]:
    def restic() -> list[Comparison]:
        from benchmarks import bench_restic

        rows = bench_restic.run(files=args.restic_files, total_mb=args.restic_mb,
                                jobs=args.jobs, reps=args.reps, on_s3=args.restic_s3)
        for row in rows:
            if row.passed is False and "restore --verify" in row.name:
                row.note = bench_restic.describe_bottleneck(row)
        return rows

    def s3() -> list[Comparison]:
        from benchmarks import bench_s3

        return bench_s3.run(objects=args.s3_objects, total_mb=args.s3_mb, jobs=args.jobs,
                            reps=args.reps)

    def inventory() -> list[Comparison]:
        from benchmarks import bench_inventory

        return bench_inventory.run(versions=args.inventory_versions, reps=args.reps)

    def clients() -> list[Comparison]:
        from benchmarks import bench_clients

        return bench_clients.run(clients=args.clients, reps=args.reps,
                                 latency_ms=args.clients_latency_ms)

    return {"restic": restic, "s3": s3, "inventory": inventory,
            "manifest": lambda: run_manifest(args), "clients": clients}


def machine() -> dict[str, Any]:
    def version(argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            return (done.stdout or done.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "not found"

    try:
        from importlib.metadata import version as package_version

        moto = package_version("moto")
    except Exception:  # noqa: BLE001 - informational only
        moto = "?"
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "restic": version(["restic", "version"]),
            "xxhsum": version(["xxhsum", "--version"]), "moto": moto}


def print_table(rows: list[Comparison], args: argparse.Namespace) -> None:
    print(f"\nbackupcheck benchmarks: {os.cpu_count()} CPUs, median of {args.reps} interleaved "
          f"runs, {args.jobs} streams{' (--quick)' if args.quick else ''}\n")
    header = f"{'comparison':34} {'medians (s)':46} {'ratio':>18} {'target':>10}  verdict"
    print(header)
    print("-" * len(header))
    for row in rows:
        medians = ", ".join(f"{name} {value:.2f}" for name, value in row.medians.items())
        print(f"{row.name:34} {medians:46} {row.ratio_text:>18} {row.target:>10}  "
              f"{row.verdict}")
    print()
    for row in rows:
        print(f"* {row.name}: {row.compared}")
        if row.note:
            print(f"    {row.note}")
    print()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows: list[Comparison] = []
    errors = 0
    started = time.time()
    table = runners(args)
    for name in args.only:
        log(f"== {name}")
        load_before = os.getloadavg()
        began = time.perf_counter()
        try:
            found = table[name]()
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not stop the others
            errors += 1
            log(traceback.format_exc())
            found = [skipped(name, f"could not run: {type(exc).__name__}: {exc}")]
        elapsed = time.perf_counter() - began
        for row in found:
            row.details.setdefault("load_average_before_after",
                                   [round(load_before[0], 2), round(os.getloadavg()[0], 2)])
            row.details.setdefault("benchmark_wall_seconds", round(elapsed, 1))
        rows += found
        log(f"== {name} done in {elapsed:.0f}s")
    print_table(rows, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "schema": "backupcheck.benchmarks/1",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_seconds": round(time.time() - started, 1),
        "params": {k: v for k, v in vars(args).items() if k not in ("out",)},
        "machine": machine(),
        "comparisons": [row.to_json() for row in rows],
    }
    args.out.write_text(json.dumps(document, indent=2, default=_plain) + "\n")
    log(f"results written to {args.out}")
    if errors:
        return 1
    if args.strict and any(row.passed is False for row in rows):
        return 1
    return 0


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


if __name__ == "__main__":
    raise SystemExit(main())
