"""Benchmark: the RTO estimate against a real full restore of the same data, in the same run.

    python -m benchmarks.bench_rto [--reps N] [--only SHAPE,...] [--out FILE]

For every shape the estimate is ``backupcheck drill --format json`` (a child process, the
default plan streams ``restore_streams`` = 8), and *actual* is a real full restore right after
it: ``restic restore latest --target TMP`` for restic, and for S3 a download of every current
object to TMP on ``restore_streams`` threads (one boto3 GET each, what ``aws s3 sync`` does).
The table prints estimate / actual and whether low <= actual <= high (no false pass, no false
fail). Target: the point within +-25 % of the actual, the actual inside the interval.

Shapes (sizes kept small so the whole run takes a few minutes on two busy cores):
restic local many small files; restic local few big files; restic on the loopback S3 server,
mixed; S3 small objects; S3 behind 20 ms per request; S3 behind a shared 8 MB/s link. The
latency and the thin link are :class:`tests.faultproxy.FaultProxy` between the tool and moto.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import REPO_ROOT, TEST_ENV, MiB, MotoServer, log, use_test_credentials
from tests.faultproxy import FaultProxy

STREAMS = 8  # the plan default restore_streams
PASSWORD = "bench-rto-password"
SHAPES = ("restic-small", "restic-big", "restic-s3-mixed", "s3-small", "s3-latency",
          "s3-throttle")
RESULTS = Path(__file__).resolve().parent / "results" / "rto.json"


@dataclass
class Row:
    shape: str
    what: str
    estimate: float = 0.0
    low: float = 0.0
    high: float = 0.0
    actuals: list[float] = field(default_factory=list)
    method: dict[str, Any] = field(default_factory=dict)

    @property
    def actual(self) -> float:
        return statistics.median(self.actuals) if self.actuals else float("nan")

    @property
    def ratio(self) -> float:
        return self.estimate / self.actual if self.actual else float("nan")

    @property
    def inside(self) -> bool:
        return self.low <= self.actual <= self.high

    @property
    def met(self) -> bool:
        return 0.75 <= self.ratio <= 1.25 and self.inside


# ---------------------------------------------------------------- data


def tree(root: Path, small: int, small_max: int, big: int, big_mb: int, seed: int) -> Path:
    """``small`` files of 100..``small_max`` bytes in 20 directories, ``big`` files of
    ``big_mb`` MiB; random bytes (nothing compresses or dedupes)."""
    rng = random.Random(seed)
    for i in range(small):
        path = root / f"d{i % 20:02d}" / f"f{i:05d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(100, small_max)))
    for i in range(big):
        (root / "big").mkdir(parents=True, exist_ok=True)
        with open(root / "big" / f"disk{i}.img", "wb") as handle:
            for _ in range(big_mb):
                handle.write(os.urandom(MiB))
    return root


def restic_env(repository: str, password_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    env.update(TEST_ENV, RESTIC_REPOSITORY=repository, RESTIC_PASSWORD_FILE=str(password_file))
    return env


def restic(env: dict[str, str], *args: str, cwd: Path | None = None) -> None:
    subprocess.run(["restic", *args], env=env, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd,
                   start_new_session=True)


# ---------------------------------------------------------------- the two sides


def drill(work: Path, client_toml: str) -> dict[str, Any]:
    """``backupcheck drill`` of one target; its restore object."""
    targets = work / "targets"
    targets.mkdir(parents=True, exist_ok=True)
    (targets / "bench.toml").write_text(client_toml, encoding="utf-8")
    plan = work / "plan.toml"
    plan.write_text(f'name = "bench"\nfiles = 20\nmax_bytes = "256MiB"\nread_data_subset = ""\n'
                    f"jobs = 4\nrestore_streams = {STREAMS}\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "backupcheck", "drill", "--targets", str(targets), "--plan",
         str(plan), "--format", "json", "--no-history", "--checks", "restore.*"],
        cwd=REPO_ROOT, env={**os.environ, **TEST_ENV}, capture_output=True, text=True,
        timeout=900, check=False, start_new_session=True)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"drill exited {done.returncode}: {done.stderr[-2000:]}")
    target = json.loads(done.stdout)["clients"][0]["targets"][0]
    if "restore" not in target:
        raise RuntimeError(f"no restore in the drill's report: {target['checks']}")
    return dict(target["restore"])


def restic_restore(env: dict[str, str], target: Path) -> float:
    shutil.rmtree(target, ignore_errors=True)
    started = time.perf_counter()
    restic(env, "--no-lock", "restore", "latest", "--target", str(target))
    return time.perf_counter() - started


def s3_download(client: Any, bucket: str, prefix: str, target: Path) -> float:
    """Every current object under ``prefix`` to ``target`` on STREAMS threads (timed with
    the listing, as a real restore must list before it fetches)."""
    shutil.rmtree(target, ignore_errors=True)
    started = time.perf_counter()
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])]

    def fetch(key: str) -> None:
        path = target / key
        path.parent.mkdir(parents=True, exist_ok=True)
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        with open(path, "wb") as handle:
            while chunk := body.read(MiB):
                handle.write(chunk)

    with ThreadPoolExecutor(max_workers=STREAMS) as pool:
        list(pool.map(fetch, keys))
    return time.perf_counter() - started


# ---------------------------------------------------------------- shapes


def restic_client(repository: str, password_file: Path) -> str:
    return (f'client = "bench"\nrpo = "1000d"\nrto = "4h"\n[[targets]]\nname = "bench"\n'
            f'kind = "restic"\nrepository = "{repository}"\npassword_file = "{password_file}"\n')


def s3_client_toml(bucket: str, endpoint: str) -> str:
    return (f'client = "bench"\nrpo = "1000d"\nrto = "4h"\n[policy]\nmax_object_heads = 5\n'
            f'[[targets]]\nname = "bench"\nkind = "s3"\nbucket = "{bucket}"\n'
            f'prefix = "backup/"\nendpoint_url = "{endpoint}"\n')


def restic_shape(row: Row, work: Path, repository: str, source: Path, reps: int) -> Row:
    password = work / "password"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    env = restic_env(repository, password)
    restic(env, "init", "-q")
    restic(env, "backup", "-q", ".", cwd=source)
    return measure(row, lambda: drill(work, restic_client(repository, password)),
                   lambda: restic_restore(env, work / "restored"), reps)


def measure(row: Row, estimate: Callable[[], dict[str, Any]], actual: Callable[[], float],
            reps: int) -> Row:
    restore = estimate()
    row.estimate = float(restore["estimated_full_restore_seconds"])
    row.low = float(restore["estimate_low_seconds"])
    row.high = float(restore["estimate_high_seconds"])
    row.method = dict(restore.get("estimate_method", {}))
    row.method["drill_files"] = restore["total_files"]
    row.method["drill_bytes"] = restore["total_bytes"]
    for _ in range(reps):
        row.actuals.append(actual())
    log(f"  {row.shape}: estimate {row.estimate:.2f}s [{row.low:.2f}, {row.high:.2f}], "
        f"actual {row.actuals}")
    return row


def fill_bucket(client: Any, bucket: str, count: int, size: int, seed: int) -> None:
    rng = random.Random(seed)
    client.create_bucket(Bucket=bucket)
    payloads = [rng.randbytes(size) for _ in range(min(count, 50))]

    def put(i: int) -> None:
        client.put_object(Bucket=bucket, Key=f"backup/d{i % 20:02d}/o{i:05d}.bin",
                          Body=payloads[i % len(payloads)])

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, range(count)))


@contextmanager
def scratch() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="bench-rto-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run(shapes: tuple[str, ...] = SHAPES, reps: int = 1) -> list[Row]:
    use_test_credentials()
    rows: list[Row] = []
    with scratch() as work, MotoServer() as server:
        client = server.client(max_pool=STREAMS * 2)
        proxy = FaultProxy(server.host, server.port)
        try:
            for shape in shapes:
                log(f"== {shape}")
                here = work / shape
                here.mkdir()
                rows.append(SHAPE_RUNNERS[shape](here, server, client, proxy, reps))
                proxy.add_latency(0)
                proxy.throttle(0)
        finally:
            proxy.close()
    return rows


def _restic_small(work: Path, server: MotoServer, client: Any, proxy: FaultProxy,
                  reps: int) -> Row:
    source = tree(work / "src", 5000, 4000, 0, 0, seed=1)
    return restic_shape(Row("restic-small", "restic local, 5,000 files of 0.1-4 kB"), work,
                        str(work / "repo"), source, reps)


def _restic_big(work: Path, server: MotoServer, client: Any, proxy: FaultProxy,
                reps: int) -> Row:
    source = tree(work / "src", 3, 4000, 3, 48, seed=2)
    return restic_shape(Row("restic-big", "restic local, 3 files of 48 MiB (+3 small)"), work,
                        str(work / "repo"), source, reps)


def _restic_s3(work: Path, server: MotoServer, client: Any, proxy: FaultProxy,
               reps: int) -> Row:
    client.create_bucket(Bucket="bench-restic")
    source = tree(work / "src", 1000, 8000, 2, 16, seed=3)
    return restic_shape(Row("restic-s3-mixed", "restic on loopback S3, 1,000 small + 2 x 16 MiB"),
                        work, f"s3:{server.url}/bench-restic", source, reps)


def _s3(row: Row, work: Path, client: Any, bucket: str, endpoint: str, reps: int) -> Row:
    return measure(row, lambda: drill(work, s3_client_toml(bucket, endpoint)),
                   lambda: s3_download(client, bucket, "backup/", work / "restored"), reps)


def _s3_small(work: Path, server: MotoServer, client: Any, proxy: FaultProxy,
              reps: int) -> Row:
    fill_bucket(client, "bench-small", 1500, 4096, seed=4)
    return _s3(Row("s3-small", "S3 loopback, 1,500 objects of 4 kB"), work, client,
               "bench-small", server.url, reps)


def _s3_latency(work: Path, server: MotoServer, client: Any, proxy: FaultProxy,
                reps: int) -> Row:
    fill_bucket(client, "bench-far", 600, 16384, seed=5)
    proxy.add_latency(0.02)
    far = server_client(proxy.url)
    return _s3(Row("s3-latency", "S3 + 20 ms per request, 600 objects of 16 kB"), work, far,
               "bench-far", proxy.url, reps)


def _s3_throttle(work: Path, server: MotoServer, client: Any, proxy: FaultProxy,
                 reps: int) -> Row:
    fill_bucket(client, "bench-thin", 24, MiB, seed=6)
    proxy.throttle(8 * 1000 * 1000)
    thin = server_client(proxy.url)
    return _s3(Row("s3-throttle", "S3 behind a shared 8 MB/s link, 24 objects of 1 MiB"),
               work, thin, "bench-thin", proxy.url, reps)


def server_client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing", config=Config(max_pool_connections=STREAMS * 2))


SHAPE_RUNNERS: dict[str, Callable[[Path, MotoServer, Any, FaultProxy, int], Row]] = {
    "restic-small": _restic_small, "restic-big": _restic_big, "restic-s3-mixed": _restic_s3,
    "s3-small": _s3_small, "s3-latency": _s3_latency, "s3-throttle": _s3_throttle}


def table(rows: list[Row]) -> str:
    header = (f"{'shape':16} {'estimate s':>10} {'low':>7} {'high':>7} {'actual s':>9} "
              f"{'est/act':>8} {'in [low,high]':>13}  target")
    lines = [header, "-" * len(header)]
    for row in rows:
        lines.append(f"{row.shape:16} {row.estimate:10.2f} {row.low:7.2f} {row.high:7.2f} "
                     f"{row.actual:9.2f} {row.ratio:8.2f} {'yes' if row.inside else 'NO':>13}  "
                     f"{'met' if row.met else 'MISS'}")
    lines.append("")
    lines += [f"* {row.shape}: {row.what}; actual runs {[round(a, 2) for a in row.actuals]}"
              for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_rto",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1, help="real restores per shape")
    parser.add_argument("--only", default=",".join(SHAPES), help="comma-separated shapes")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    shapes = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(shapes) - set(SHAPES)
    if unknown:
        parser.error(f"unknown shapes {sorted(unknown)}; choose from {', '.join(SHAPES)}")
    started = time.time()
    rows = run(shapes, args.reps)
    print(table(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "schema": "backupcheck.bench_rto/1", "wall_seconds": round(time.time() - started, 1),
        "load_average": os.getloadavg(),
        "rows": [{**asdict(row), "actual": row.actual, "ratio": row.ratio,
                  "inside": row.inside, "met": row.met} for row in rows]},
        indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
