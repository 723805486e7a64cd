"""Benchmark (issue 20): synthetic clients drilled by N concurrent ``--shard I/N`` processes.

    python -m benchmarks.bench_shards [--clients 1000] [--shards 1,2,4,8] [--history dir|s3|both]
                                      [--latency-ms 0] [--out FILE.json]

Each client has two targets: an S3 prefix in one of a few shared object-locked buckets (a
handful of small objects carrying ``x-amz-meta-xxh3-128``, so the sample is proven) and a
restic repository on disk shared by all clients (one small snapshot), both on loopback (the
S3 side is ``benchmarks.motoserver`` in its own process). For every N, N ``backupcheck drill
--shard I/N`` processes start at once and write one history (a fresh directory, and/or a
fresh ``s3://`` prefix on the same server). Measured: the wall time until the last shard
ends, each shard's peak RSS (its ``VmHWM``), and the merged history: its runs rows must be
exactly clients x targets, every ``(client, target)`` once, each row carrying its shard.

Prints one Markdown table and writes the figures as JSON (default
``benchmarks/results/shards.json``). The machine this runs on is shared and small: the
figures are for the projection in ``docs/scaling.md``, not a claim about a cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO_ROOT,
    TEST_ENV,
    MotoServer,
    log,
    make_locked_bucket,
    put_proven,
    run_child,
    use_test_credentials,
)

BUCKETS = 8
OBJECTS_PER_CLIENT = 3
PLAN = ('name = "bench"\nfiles = 3\nmax_bytes = "16MiB"\nread_data_subset = ""\n'
        'prefer_unverified = false\njobs = 2\n')
HISTORY_BUCKET = "bench-history"


def make_restic_repository(root: Path) -> tuple[Path, Path]:
    """One small restic repository (one snapshot) every client's restic target drills."""
    repository, password, data = root / "restic-repo", root / "restic.pass", root / "data"
    password.write_text("bench-password\n")
    data.mkdir()
    rng = random.Random(7)
    for i in range(6):
        (data / f"file{i}.bin").write_bytes(rng.randbytes(rng.randint(1024, 32 * 1024)))
    env = {**os.environ, "RESTIC_PASSWORD_FILE": str(password), "RESTIC_REPOSITORY":
           str(repository)}
    subprocess.run(["restic", "init", "-q"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["restic", "backup", "-q", "--host", "bench", "."], cwd=data, env=env,
                   check=True, stdout=subprocess.DEVNULL)
    return repository, password


def populate(server: MotoServer, targets: Path, clients: int, repository: Path,
             password: Path) -> None:
    s3 = server.client()
    for b in range(BUCKETS):
        make_locked_bucket(s3, f"bench-shared-{b}")
    s3.create_bucket(Bucket=HISTORY_BUCKET)

    def one(index: int) -> None:
        name = f"client{index:04d}"
        bucket = f"bench-shared-{index % BUCKETS}"
        rng = random.Random(index)
        for j in range(OBJECTS_PER_CLIENT):
            data = rng.randbytes(rng.randint(512, 8 * 1024))
            put_proven(s3, bucket, f"{name}/{j:02d}.dat", data, ChecksumAlgorithm="SHA256")
        (targets / f"{name}.toml").write_text(
            f'client = "{name}"\nrpo = "26h"\nrto = "4h"\n'
            f'[[targets]]\nname = "{name}-s3"\nkind = "s3"\nbucket = "{bucket}"\n'
            f'prefix = "{name}/"\nendpoint_url = "{server.url}"\n'
            f'[[targets]]\nname = "{name}-restic"\nkind = "restic"\n'
            f'repository = "{repository}"\npassword_file = "{password}"\n')

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, range(clients)))


def merged_rows(history: str, server: MotoServer) -> list[dict[str, Any]]:
    from backupcheck.history import open_history

    return list(open_history(history, endpoint_url=server.url).read_runs().to_pylist())


def run_shards(count: int, targets: Path, plan: Path, history: str, server: MotoServer,
               settings: Path) -> dict[str, Any]:
    env = {**os.environ, **TEST_ENV}
    env.pop("JOB_COMPLETION_INDEX", None)

    def shard(index: int) -> dict[str, float]:
        argv = [sys.executable, "-m", "backupcheck", "drill", "--targets", str(targets),
                "--plan", str(plan), "--history", history, "--settings", str(settings),
                "--format", "json", "--shard", f"{index}/{count}", "--seed", "1"]
        return run_child(argv, env={**env, "AWS_BATCH_JOB_ARRAY_INDEX": str(index)},
                         cwd=REPO_ROOT)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        shards = list(pool.map(shard, range(count)))
    wall = time.perf_counter() - started
    return {"wall_s": wall, "peak_rss_mb": [s["peak_rss_mb"] for s in shards],
            "cpu_s": [s["cpu_s"] for s in shards]}


def check_history(rows: list[dict[str, Any]], clients: int, count: int) -> dict[str, Any]:
    pairs = [(r["client"], r["target"]) for r in rows]
    expected = {(f"client{i:04d}", f"client{i:04d}-{k}") for i in range(clients)
                for k in ("s3", "restic")}
    return {"rows": len(rows), "expected": len(expected),
            "duplicates": len(pairs) - len(set(pairs)),
            "missing": len(expected - set(pairs)), "extra": len(set(pairs) - expected),
            "shards_recorded": sorted({r["shard"] for r in rows}),
            "ok": sorted(pairs) == sorted(expected)
            and {r["shard"] for r in rows} == {f"{i}/{count}" for i in range(count)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--shards", default="1,2,4,8")
    parser.add_argument("--history", choices=("dir", "s3", "both"), default="both")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "results" / "shards.json")
    args = parser.parse_args(argv)
    use_test_credentials()
    counts = [int(n) for n in args.shards.split(",")]
    kinds = ["dir", "s3"] if args.history == "both" else [args.history]
    results: list[dict[str, Any]] = []
    extra = ("--latency-ms", str(args.latency_ms)) if args.latency_ms else ()
    with tempfile.TemporaryDirectory(prefix="bench-shards-") as scratch, \
            MotoServer(*extra) as server:
        root = Path(scratch)
        targets = root / "targets"
        targets.mkdir()
        repository, password = make_restic_repository(root)
        log(f"bench_shards: {args.clients} clients x 2 targets on {server.url}")
        populate(server, targets, args.clients, repository, password)
        plan = root / "plan.toml"
        plan.write_text(PLAN)
        settings = root / "backupcheck.toml"
        settings.write_text(f'[history]\nendpoint_url = "{server.url}"\n')
        for kind in kinds:
            for count in counts:
                history = (str(root / f"history-{count}") if kind == "dir"
                           else f"s3://{HISTORY_BUCKET}/n{count}/")
                log(f"bench_shards: N={count}, {kind} history ...")
                measured = run_shards(count, targets, plan, history, server, settings)
                verdict = check_history(merged_rows(history, server), args.clients, count)
                row = {"history": kind, "shards": count, "clients": args.clients,
                       **measured, **verdict}
                results.append(row)
                log(f"bench_shards: N={count} {kind}: {measured['wall_s']:.1f}s, rows "
                    f"{verdict['rows']}/{verdict['expected']}, ok={verdict['ok']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"clients": args.clients, "targets_per_client": 2,
                                    "latency_ms": args.latency_ms, "cpus": os.cpu_count(),
                                    "results": results}, indent=2))
    print("| history | N | wall s | targets/s | rows (expected) | dup | missing | "
          "peak RSS per shard MB (max) | ok |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['history']} | {r['shards']} | {r['wall_s']:.1f} | "
              f"{2 * r['clients'] / r['wall_s']:.2f} | {r['rows']} ({r['expected']}) | "
              f"{r['duplicates']} | {r['missing']} | {max(r['peak_rss_mb']):.0f} | "
              f"{'yes' if r['ok'] else 'NO'} |")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
