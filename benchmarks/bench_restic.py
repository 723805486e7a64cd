"""Benchmark 1: restic sample verification, ours vs ``restore --verify`` vs plain ``dump``.

One repository (local disk; with ``--restic-s3`` also one on the moto server), one snapshot
of a generated tree (random, incompressible content; log-normal file sizes), and as the
sample *every file of that snapshot*, verified three ways in the same run, interleaved:

* **ours**: the drill's streamed verification: ``ResticBackend.open_file`` (one streamed
  ``restic dump`` per file) → ``restore_one`` (xxh3-128 as the bytes arrive, compared with
  the digests taken when the tree was written), ``jobs`` streams;
* **restore --verify**: ``restic restore --verify <snap> --target TMP --include F ...`` with
  every sampled file as one ``--include``, in one invocation, as a user would;
* **plain dump**: ``restic dump <snap> F > /dev/null`` for every file, ``jobs`` at a time.

Targets (issue 8): ours >= 1.5x faster than restore --verify; ours <= 1.10x the plain dump.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
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
    interleave,
    make_client,
    streamed_verify,
    timed,
    use_test_credentials,
)

PASSWORD = "bench-restic-password"


def make_tree(root: Path, files: int, total_mb: int, seed: int = 7) -> dict[str, str]:
    """Write ``files`` files of random bytes (log-normal sizes summing to ``total_mb``).

    Returns relative path -> xxh3-128, computed as the bytes were written: the ground truth.
    """
    rng = random.Random(seed)
    weights = [rng.lognormvariate(0, 1.0) for _ in range(files)]
    scale = total_mb * MiB / sum(weights)
    digests = {}
    for i, weight in enumerate(weights):
        rel = f"share/dept{i % 8}/project{i % 3}/doc{i:04d}.bin"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        hasher = xxhash.xxh3_128()
        left = max(1, int(weight * scale))
        with open(path, "wb") as fh:
            while left > 0:
                chunk = rng.randbytes(min(left, MiB))
                fh.write(chunk)
                hasher.update(chunk)
                left -= len(chunk)
        digests[rel] = hasher.hexdigest()
    return digests


def restic_env(repository: str, password_file: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    env.update(extra, RESTIC_REPOSITORY=repository, RESTIC_PASSWORD_FILE=str(password_file))
    return env


def restic(env: dict[str, str], *args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    """Run restic to completion, in its own session like the adapter's children (see
    ``common.CHILD_SESSION``)."""
    return subprocess.run(["restic", *args], env=env, check=True, stdin=subprocess.DEVNULL,
                          start_new_session=CHILD_SESSION, **kwargs)


def compare_repository(label: str, repository: str, extra_env: dict[str, str],
                       source: Path, digests: dict[str, str], scratch: Path, *, jobs: int,
                       reps: int) -> list[Comparison]:
    from backupcheck.backends.restic_backend import ResticBackend
    from backupcheck.clock import now_utc
    from backupcheck.model import Plan, ResticTarget

    password_file = scratch / "password"
    env = restic_env(repository, password_file, extra_env)
    with timed(f"restic init + backup ({label})"):
        restic(env, "init", "-q", stdout=subprocess.DEVNULL)
        restic(env, "backup", "-q", str(source), stdout=subprocess.DEVNULL, cwd=scratch)
    target = ResticTarget(name=f"bench-{label}", repository=repository,
                          password_file=str(password_file), env=extra_env)
    backend = ResticBackend(make_client("bench", [target], scratch / "bench.toml"), target)
    catalog = backend.catalog(Plan(), seed=0, now=now_utc())
    if sorted(e.path for e in catalog.entries) != sorted(digests):
        raise RuntimeError(f"catalog paths differ from the tree: {catalog.entries[:3]}")
    listed = json.loads(restic(env, "--no-lock", "snapshots", "--json", capture_output=True).stdout)
    snapshot = next(s["id"] for s in listed if s["id"].startswith(catalog.backup_id))
    paths = [e.locator for e in catalog.entries]
    total = catalog.total_bytes
    restore_dir = scratch / "restore"
    include = [arg for path in paths for arg in ("--include", path)]

    def ours() -> dict[str, float]:
        return {"bytes": streamed_verify(backend, catalog, digests, jobs)}

    def restore_verify() -> None:
        restic(env, "--no-lock", "restore", "--verify", snapshot, "--target", str(restore_dir),
               *include, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        restored = sum(f.stat().st_size for f in restore_dir.rglob("*") if f.is_file())
        if restored != total:  # a few stat() calls: noise next to the restore itself
            raise RuntimeError(f"restore --verify restored {restored} bytes, not {total}")

    def dump() -> None:
        def one(path: str) -> None:
            restic(env, "--no-lock", "dump", snapshot, path, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(one, paths))

    def dump_all() -> None:
        # not a target: the floor for any verifier built on `restic dump` (one process, one
        # key derivation, the whole snapshot as one tar stream)
        restic(env, "--no-lock", "dump", snapshot, "/", stdout=subprocess.DEVNULL,
               stderr=subprocess.PIPE)

    def clean(_: str) -> None:
        shutil.rmtree(restore_dir, ignore_errors=True)

    variants = {"ours": ours, "restore --verify": restore_verify, "plain dump": dump,
                "one dump of all (tar)": dump_all}
    # no untimed warm-up round (each round costs a restic start per file); the page cache
    # already holds the repository, written moments ago
    try:
        timings = interleave(variants, reps, warmup=False, before_each=clean,
                             label=f"restic {label}")
    finally:
        clean("")
        backend.close()  # kills and reaps any restic child still running
    per_start = startup_cost(env)

    med = {name: timings.median(name) for name in variants}
    vs_restore = med["restore --verify"] / med["ours"]
    vs_dump = med["ours"] / med["plain dump"]
    cpu = {name: round(timings.extra_median(name, "cpu_self_s")
                       + timings.extra_median(name, "cpu_children_s"), 2) for name in variants}
    details = {"repository": label, "files": len(paths), "bytes": total, "jobs": jobs,
               "snapshot": catalog.backup_id, "cpu_seconds_median": cpu,
               "restic_start_seconds": per_start,
               "one_dump_of_all_tar_seconds": round(med["one dump of all (tar)"], 3)}
    compared = f"restic ({label}), {len(paths)} files, {total / MiB:.0f} MiB, {jobs} streams"
    seconds = dict(timings.seconds)
    return [
        Comparison(f"restic {label} vs restore --verify", compared
                   + ": ours vs restic restore --verify (one call, --include each file)",
                   {"ours": med["ours"], "restore --verify": med["restore --verify"]},
                   vs_restore, f"{vs_restore:.2f}x faster", ">= 1.50x", vs_restore >= 1.5,
                   details, seconds),
        Comparison(f"restic {label} vs plain dump", compared
                   + ": ours vs restic dump > /dev/null, same parallelism",
                   {"ours": med["ours"], "plain dump": med["plain dump"]}, vs_dump,
                   f"{vs_dump:.2f}x the time", "<= 1.10x", vs_dump <= 1.10, details, seconds,
                   f"CPU (ours incl. its restic children) {cpu['ours']:.1f}s vs plain dump "
                   f"{cpu['plain dump']:.1f}s"),
    ]


def startup_cost(env: dict[str, str], runs: int = 3) -> dict[str, float]:
    """What one restic invocation costs before it reads any data (``cat config``): median
    wall and CPU seconds. Opening a repository derives the master key with scrypt."""
    walls, cpus = [], []
    for _ in range(runs):
        started = os.times()
        restic(env, "--no-lock", "cat", "config", stdout=subprocess.DEVNULL)
        ended = os.times()
        walls.append(ended.elapsed - started.elapsed)
        cpus.append(ended.children_user + ended.children_system
                    - started.children_user - started.children_system)
    middle = runs // 2
    return {"wall_s": round(sorted(walls)[middle], 3), "cpu_s": round(sorted(cpus)[middle], 3)}


def run(*, files: int, total_mb: int, jobs: int, reps: int,
        on_s3: bool = False) -> list[Comparison]:
    use_test_credentials()
    if shutil.which("restic") is None:
        raise RuntimeError("restic not found (Debian: apt-get install restic)")
    try:
        import backupcheck.backends.restic_backend  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(f"the restic backend is not available yet: {exc}") from None
    scratch = Path(tempfile.mkdtemp(prefix="bench-restic-"))
    # restic's cache goes to the scratch dir, so no run reuses another run's cache
    os.environ["RESTIC_CACHE_DIR"] = str(scratch / "cache")
    try:
        (scratch / "password").write_text(PASSWORD + "\n")
        source = scratch / "src"
        with timed(f"writing {files} files, {total_mb} MiB"):
            digests = make_tree(source, files, total_mb)
        rows = compare_repository("local", str(scratch / "repo"), {}, source, digests, scratch,
                                  jobs=jobs, reps=reps)
        if on_s3:
            with MotoServer() as server:
                server.client().create_bucket(Bucket="bench-restic")
                creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
                rows += compare_repository("s3", f"s3:{server.url}/bench-restic", creds, source,
                                           digests, scratch, jobs=jobs, reps=reps)
        return rows
    finally:
        os.environ.pop("RESTIC_CACHE_DIR", None)
        shutil.rmtree(scratch, ignore_errors=True)


def describe_bottleneck(row: Comparison) -> str:
    """One line on where the time goes, from the measured restic start-up cost."""
    start = row.details.get("restic_start_seconds", {})
    files = row.details.get("files", 0)
    if not start or not files:
        return ""
    cpu = start["cpu_s"] * files
    cores = os.cpu_count() or 1
    floor = row.details.get("one_dump_of_all_tar_seconds")
    restore = row.medians.get("restore --verify", 0.0)
    text = (f"one restic process per file (the adapter's streamed dump), and every restic "
            f"process first derives the key (scrypt) and loads the index: "
            f"{start['cpu_s']:.2f}s CPU / {start['wall_s']:.2f}s wall per start (restic cat "
            f"config), x {files} files = {cpu:.0f}s CPU (>= {cpu / cores:.0f}s on {cores} "
            f"cores) before a byte is read; restore --verify pays it once")
    if floor and restore:
        text += (f". Even ONE `restic dump` of the whole snapshot (tar, single stream) takes "
                 f"{floor:.2f}s vs restore --verify {restore:.2f}s ({restore / floor:.2f}x): "
                 f"with restic {_restic_version()} no dump-based verifier reaches 1.5x here")
    return text


def _restic_version() -> str:
    done = subprocess.run(["restic", "version"], capture_output=True, text=True, check=False)
    parts = done.stdout.split()
    return parts[1] if len(parts) > 1 else "?"


if __name__ == "__main__":
    for comparison in run(files=20, total_mb=100, jobs=4, reps=1):
        print(json.dumps(comparison.to_json(), default=str, indent=2))
