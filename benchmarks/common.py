"""Shared benchmark machinery: the S3 server process, interleaved timing, medians, results.

Every comparison runs its variants in the same process run, interleaved in a rotating order
(so a noisy neighbour or a warming page cache hits every variant alike), several times, and
reports medians. A :class:`Comparison` carries what was compared, the medians, the ratio the
target is about, and the verdict; ``__main__`` prints them as one table and writes JSON.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import xxhash
from botocore.config import Config

REPO_ROOT = Path(__file__).resolve().parent.parent
MiB = 1 << 20

#: test credentials only; the benchmarks never talk to anything but 127.0.0.1
TEST_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1"}


#: Every child a benchmark starts (restic, aws, xxhsum, backupcheck, the bare loop) gets its
#: own session, as backupcheck's restic adapter does with its children. It matters: with the
#: kernel's autogroup scheduling (on by default), each session shares one slice of the CPUs
#: with every other session, so on a busy machine four `restic dump`s in our session got half
#: the wall-clock speed of the same four in sessions of their own (measured: 26.5 s vs 13.8 s,
#: equal CPU). Variants that differ only in that would compare the scheduler, not the tools.
CHILD_SESSION = True


def use_test_credentials() -> None:
    os.environ.update(TEST_ENV)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE",
                 "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(name, None)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the S3 server process


class MotoServer:
    """``python -m benchmarks.motoserver`` as a child process, listening on 127.0.0.1."""

    def __init__(self, *extra_args: str, timeout: float = 600) -> None:
        env = {**os.environ, **TEST_ENV, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.motoserver", "--port", "0", *extra_args],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL, text=True, start_new_session=CHILD_SESSION)
        assert self.process.stdout is not None
        # the server prints its address once it serves (filling a big bucket takes a while)
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise RuntimeError(f"the moto server process did not start within {timeout:.0f}s")
        address = json.loads(line)
        self.host, self.port = address["host"], int(address["port"])
        self.url = f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def client(self, max_pool: int = 32) -> Any:
        """An unguarded client for setting up data (the benchmark may write; the tool may not)."""
        return boto3.session.Session().client(
            "s3", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(max_pool_connections=max_pool, retries={"mode": "standard"}))

    def cpu_seconds(self) -> float:
        """User + system CPU the server process used so far (from /proc)."""
        with open(f"/proc/{self.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> MotoServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


#: a synthetic client's bucket settings: what the S3 policy checks pass
LOCK = {"ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}}}
PAB = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
       "RestrictPublicBuckets": True}


def make_locked_bucket(s3: Any, bucket: str) -> None:
    """``bucket``, object-locked (COMPLIANCE, 30 days), SSE-S3 encrypted, public access
    blocked: a synthetic client whose policy checks pass."""
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=LOCK)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PAB)


def put_proven(s3: Any, bucket: str, key: str, data: bytes, **extra: Any) -> None:
    """``data`` at ``key`` with its ``x-amz-meta-xxh3-128``, so a drill's sample is proven."""
    s3.put_object(Bucket=bucket, Key=key, Body=data,
                  Metadata={"xxh3-128": xxhash.xxh3_128_hexdigest(data)}, **extra)


# ---------------------------------------------------------------- timing


@dataclass
class Timings:
    """Seconds per variant over the repetitions, plus any extra per-run measurements."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def median(self, name: str) -> float:
        return statistics.median(self.seconds[name])

    def extra_median(self, name: str, key: str) -> float:
        return statistics.median(self.extra[name][key])


#: a variant returns None, or a dict of extra numbers to keep (bytes, peak RSS, ...)
Variant = Callable[[], Mapping[str, float] | None]


def interleave(variants: Mapping[str, Variant], reps: int, *, warmup: bool = True,
               before_each: Callable[[str], None] | None = None, label: str = "") -> Timings:
    """Run every variant ``reps`` times, interleaved, rotating the order each repetition.

    With ``warmup`` each variant runs once untimed first (page cache, connection pools,
    imports). ``before_each`` runs untimed before every timed run (e.g. clearing a target dir).
    """
    names = list(variants)
    timings = Timings({n: [] for n in names}, {n: {} for n in names})
    if warmup:
        for name in names:
            if before_each:
                before_each(name)
            variants[name]()
    for rep in range(reps):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for name in order:
            if before_each:
                before_each(name)
            own, kids = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            extra = dict(variants[name]() or {})
            timings.seconds[name].append(time.perf_counter() - started)
            extra["cpu_self_s"] = _cpu(resource.RUSAGE_SELF) - own
            extra["cpu_children_s"] = _cpu(resource.RUSAGE_CHILDREN) - kids
            for key, value in extra.items():
                timings.extra[name].setdefault(key, []).append(float(value))
        log(f"  {label} rep {rep + 1}/{reps}: " + ", ".join(
            f"{n} {timings.seconds[n][-1]:.2f}s" for n in names))
    return timings


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_child(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              stdout: Any = subprocess.DEVNULL, cwd: Path | None = None) -> dict[str, float]:
    """Run a child to completion; returns its peak RSS (MB) and CPU seconds.

    The peak is the child's own ``VmHWM`` (high-water mark of its address space), polled every
    20 ms until it exits. Not ``ru_maxrss`` from ``wait4()``/``RUSAGE_CHILDREN``: Linux carries
    the forking process's high-water mark across ``exec``, so a child of a big parent (this
    one, a few hundred MB) would report the parent's size instead of its own.
    """
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(list(argv), env=dict(env) if env is not None else None,
                                   stdout=stdout, stderr=errors, cwd=cwd,
                                   stdin=subprocess.DEVNULL, start_new_session=CHILD_SESSION)
        peak_kib = 0
        status_file = f"/proc/{process.pid}/status"
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            with contextlib.suppress(OSError, IndexError, ValueError):
                with open(status_file) as fh:
                    text = fh.read()
                peak_kib = max(peak_kib, int(text.split("VmHWM:")[1].split()[0]))
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            tail = errors.read()[-2000:].decode(errors="replace")
            raise RuntimeError(f"{' '.join(argv[:4])} ... exited {process.returncode}: {tail}")
    return {"peak_rss_mb": peak_kib / 1024, "cpu_s": usage.ru_utime + usage.ru_stime}


@contextmanager
def timed(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    log(f"  {label}: {time.perf_counter() - started:.1f}s")


# ---------------------------------------------------------------- results


@dataclass
class Comparison:
    """One row of the results table: a ratio judged against its target."""

    name: str
    compared: str
    #: variant -> median seconds
    medians: dict[str, float]
    ratio: float
    ratio_text: str
    target: str
    passed: bool | None  # None: not measured (skipped)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.passed is None:
            return "SKIP"
        return "PASS" if self.passed else "MISS"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "compared": self.compared, "median_seconds": self.medians,
                "seconds": self.seconds,
                "ratio": self.ratio if math.isfinite(self.ratio) else None,
                "ratio_text": self.ratio_text,
                "target": self.target, "verdict": self.verdict, "details": self.details,
                "note": self.note}


def skipped(name: str, why: str) -> Comparison:
    return Comparison(name, why, {}, float("nan"), "-", "-", None, note=why)


def mb_per_s(nbytes: float, seconds: float) -> float:
    return nbytes / MiB / seconds if seconds > 0 else 0.0


# ---------------------------------------------------------------- our streamed verification


def make_client(name: str, targets: Sequence[Any], source_file: Path) -> Any:
    """A backupcheck Client with default policy, rpo 26h, rto 4h."""
    from backupcheck.model import Client, Policy

    return Client(name=name, rpo_seconds=26 * 3600, rto_seconds=4 * 3600, policy=Policy(),
                  targets=tuple(targets), source_file=source_file)


def streamed_verify(backend: Any, catalog: Any, expected: Mapping[str, str], jobs: int) -> int:
    """The drill's restore step over every catalog entry: ``jobs`` streams, xxh3-128 each.

    Exactly what ``restore_target`` does (its read plan, ``restore_one`` on ``open_file``, a
    thread pool of ``jobs``, one watchdog), with the ground truth handed in like a loaded
    manifest. Raises unless every expected file was read and verifies; returns the bytes read.
    """
    from concurrent.futures import ThreadPoolExecutor

    from backupcheck.restore.drill import read_plan
    from backupcheck.restore.stream import Watchdog, restore_one
    from backupcheck.restore.truth import Expected

    entries = [e for e in catalog.entries if e.path in expected]
    if len(entries) != len(expected):
        raise RuntimeError(f"the catalog holds {len(entries)} of the {len(expected)} expected "
                           "files: the benchmark would time less than it says")
    watchdog = Watchdog()
    try:
        def one(entry: Any) -> Any:
            truth = Expected(expected[entry.path], entry.size, "manifest")
            return restore_one(lambda: backend.open_file(catalog, entry), entry, truth,
                               watchdog)

        with read_plan(backend, catalog, entries) as order, \
                ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="restore") as pool:
            results = list(pool.map(one, [entries[i] for i in order]))
    finally:
        watchdog.close()
    bad = [f"{r.path}: {r.result} {r.detail}" for r in results if r.result != "ok"]
    if bad:
        raise RuntimeError(f"{len(bad)} files did not verify: {bad[:3]}")
    return sum(r.bytes for r in results)
