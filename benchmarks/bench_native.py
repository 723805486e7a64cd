"""Benchmark (issue 14): the native restic reader vs restic itself, in the same run.

One generated tree (random, incompressible, log-normal sizes) backed up by the real restic into
a repository on local disk (and with ``--s3`` one on a moto server in a child process), and
one big single file. Variants, interleaved:

* **native**: the drill's sample verification with ``reader = "auto"``: a fresh
  ``ResticBackend`` (one scrypt, index load, tree walk) → ``restore_one`` over every file,
  ``jobs`` streams;
* **restic reader**: the same with ``reader = "restic"`` (one ``restic dump`` per file);
* **restore --verify**: ``restic restore --verify`` of the same files in one call;
* **big file**: the native stream of one big file vs one ``restic dump`` of it.

Targets: native >= 2.0x faster than restore --verify; native >= 1.0x the throughput of one
``restic dump`` of the big file; one key derivation per target (counted).

    python -m benchmarks.bench_native [--files 200] [--total-mb 200] [--big-mb 1024]
                                      [--jobs 8] [--reps 3] [--s3] [--no-local]
                                      [--no-restic-reader]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import xxhash

from benchmarks.bench_restic import make_tree, restic, restic_env
from benchmarks.common import (
    MiB,
    MotoServer,
    interleave,
    make_client,
    streamed_verify,
    timed,
    use_test_credentials,
)

PASSWORD = "bench-native-password"


def _backend(target: object) -> object:
    from backupcheck.backends.restic_backend import ResticBackend

    return ResticBackend(make_client("bench", [target], Path("bench.toml")), target)  # type: ignore[arg-type]


def _verify(target: object, digests: dict[str, str], jobs: int, prefix: str) -> int:
    from backupcheck.clock import now_utc
    from backupcheck.model import Plan

    backend = _backend(target)
    try:
        catalog = backend.catalog(Plan(), seed=0, now=now_utc())  # type: ignore[attr-defined]
        catalog = dataclasses.replace(catalog, entries=[
            e for e in catalog.entries if e.path.startswith(prefix + "/")])
        return streamed_verify(backend, catalog, digests, jobs)
    finally:
        backend.close()  # type: ignore[attr-defined]


def compare(label: str, repository: str, extra_env: dict[str, str], source: Path,
            digests: dict[str, str], big: Path, big_digest: str, scratch: Path, *, jobs: int,
            reps: int, restic_reader: bool = True) -> list[str]:
    from dataclasses import replace

    from backupcheck.backends.resticrepo.keys import derivations
    from backupcheck.model import ResticTarget

    password_file = scratch / "password"
    env = restic_env(repository, password_file, extra_env)
    with timed(f"restic init + backup ({label})"):
        restic(env, "init", "-q", stdout=subprocess.DEVNULL)
        restic(env, "backup", "-q", str(source), str(big), stdout=subprocess.DEVNULL)
    native = ResticTarget(name=f"bench-{label}", repository=repository,
                          password_file=str(password_file), env=extra_env)
    with_restic = replace(native, reader="restic")
    snapshot = restic(env, "--no-lock", "snapshots", "--json", "--latest", "1",
                      capture_output=True).stdout
    import json
    snap = json.loads(snapshot)[0]["id"]
    files = [f"{source}/{rel}" for rel in digests]
    restore_dir = scratch / "restore"
    include = [a for p in files for a in ("--include", p)]
    total = sum((source / rel).stat().st_size for rel in digests)
    rel_digests = {str(source / rel).lstrip("/"): d for rel, d in digests.items()}
    prefix = str(source).lstrip("/")
    big_rel = str(big).lstrip("/")

    def clean(_: str) -> None:
        shutil.rmtree(restore_dir, ignore_errors=True)

    def restore_verify() -> None:
        restic(env, "--no-lock", "restore", "--verify", snap, "--target", str(restore_dir),
               *include, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def big_native() -> None:
        from backupcheck.clock import now_utc
        from backupcheck.model import Plan

        backend = _backend(native)
        try:
            catalog = backend.catalog(Plan(), seed=0, now=now_utc())  # type: ignore[attr-defined]
            catalog = dataclasses.replace(catalog, entries=[
                e for e in catalog.entries if e.path == big_rel])
            streamed_verify(backend, catalog, {big_rel: big_digest}, 1)
        finally:
            backend.close()  # type: ignore[attr-defined]

    def big_dump() -> None:
        hasher = xxhash.xxh3_128()
        child = subprocess.Popen(["restic", "--no-lock", "dump", snap, str(big)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert child.stdout is not None
        while chunk := child.stdout.read(1 << 20):
            hasher.update(chunk)
        if child.wait() != 0 or hasher.hexdigest() != big_digest:
            raise RuntimeError("restic dump of the big file failed")

    before = derivations()
    _verify(native, rel_digests, jobs, prefix)
    per_target = derivations() - before
    variants = {
        "native": lambda: {"bytes": _verify(native, rel_digests, jobs, prefix)},
        "restic reader": lambda: {"bytes": _verify(with_restic, rel_digests, jobs, prefix)},
        "restore --verify": restore_verify,
        "big native": big_native,
        "big restic dump": big_dump,
    }
    if not restic_reader:  # one restic dump per file: a minute per repetition
        del variants["restic reader"]
    timings = interleave(variants, reps, warmup=False, before_each=clean,
                         label=f"native {label}")
    clean("")
    med = {n: timings.median(n) for n in variants}
    big_size = big.stat().st_size
    reader = (f", restic reader {med['restic reader']:.2f}s" if restic_reader else "")
    lines = [
        f"[{label}] {len(files)} files, {total / MiB:.0f} MiB, {jobs} streams; big file "
        f"{big_size / MiB:.0f} MiB; key derivations per drill of this target: {per_target}",
        f"[{label}] native {med['native']:.2f}s{reader}, "
        f"restore --verify {med['restore --verify']:.2f}s",
        f"[{label}] native vs restore --verify: "
        f"{med['restore --verify'] / med['native']:.2f}x faster (target >= 2.0x)",
    ]
    if restic_reader:
        lines.append(f"[{label}] native vs the restic reader: "
                     f"{med['restic reader'] / med['native']:.2f}x faster")
    lines.append(
        f"[{label}] big file: native {big_size / MiB / med['big native']:.0f} MiB/s, "
        f"restic dump {big_size / MiB / med['big restic dump']:.0f} MiB/s: "
        f"{med['big restic dump'] / med['big native']:.2f}x the throughput (target >= 1.0x)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--total-mb", type=int, default=200)
    parser.add_argument("--big-mb", type=int, default=1024)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--s3", action="store_true", help="also on a moto S3 server")
    parser.add_argument("--no-local", action="store_true", help="skip the local repository")
    parser.add_argument("--no-restic-reader", action="store_true",
                        help="skip the reader = restic variant (one restic dump per file)")
    args = parser.parse_args()
    use_test_credentials()
    scratch = Path(tempfile.mkdtemp(prefix="bench-native-"))
    os.environ["RESTIC_CACHE_DIR"] = str(scratch / "cache")
    started = time.perf_counter()
    try:
        (scratch / "password").write_text(PASSWORD + "\n")
        with timed(f"writing {args.files} files, {args.total_mb} MiB + {args.big_mb} MiB"):
            digests = make_tree(scratch / "src", args.files, args.total_mb)
            big = scratch / "big" / "big.bin"
            big.parent.mkdir()
            hasher = xxhash.xxh3_128()
            with open(big, "wb") as handle:
                for _ in range(args.big_mb):
                    chunk = os.urandom(MiB)
                    handle.write(chunk)
                    hasher.update(chunk)
        lines: list[str] = []
        if not args.no_local:
            lines += compare("local", str(scratch / "repo"), {}, scratch / "src", digests, big,
                             hasher.hexdigest(), scratch, jobs=args.jobs, reps=args.reps,
                             restic_reader=not args.no_restic_reader)
        if args.s3:
            with MotoServer() as server:
                server.client().create_bucket(Bucket="bench-native")
                creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
                lines += compare("s3", f"s3:{server.url}/bench-native", creds, scratch / "src",
                                 digests, big, hasher.hexdigest(), scratch, jobs=args.jobs,
                                 reps=args.reps, restic_reader=not args.no_restic_reader)
        print("\n".join(lines))
        print(f"(whole run {time.perf_counter() - started:.0f}s)")
    finally:
        os.environ.pop("RESTIC_CACHE_DIR", None)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
