"""Benchmark 5: a drill over many small clients, default concurrency vs one client at a time.

``clients`` clients, each one S3 target (an object-locked, encrypted bucket holding a few
small objects with ``x-amz-meta-xxh3-128`` metadata) on one moto server process. Both sides
call ``backupcheck.restore.drill.drill`` in this process (no interpreter start-up per client,
so the comparison is about the drill, not about Python's start), interleaved:

* **default concurrency**: one ``drill()`` over all clients (the engine's target workers,
  the plan's ``jobs`` streams per target), what ``backupcheck drill`` does;
* **one at a time**: ``drill()`` once per client, serially, what a cron loop of
  ``backupcheck drill --client X`` would do minus the interpreter start-ups.

Run twice: on plain loopback, where every request costs only CPU (ours and the server's, on
the same two cores), and with ``latency_ms`` of emulated round trip per request (a sleep in
the server, no CPU), closer to an MSP's remote S3 endpoints where a drill waits on the network.

Target (issue 8): the drill scales: serial / concurrent > 1.5x.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Comparison,
    MotoServer,
    interleave,
    log,
    make_locked_bucket,
    put_proven,
    timed,
    use_test_credentials,
)

OBJECTS_PER_CLIENT = 5
PLAN = ('name = "bench"\nfiles = 20\nmax_bytes = "1GiB"\nread_data_subset = ""\n'
        'prefer_unverified = false\njobs = 4\n')


def populate(server: MotoServer, targets: Path, clients: int) -> None:
    s3 = server.client()

    def one(index: int) -> None:
        name = f"client{index:03d}"
        bucket = f"bench-{name}-backups"
        make_locked_bucket(s3, bucket)
        rng = random.Random(index)
        for j in range(OBJECTS_PER_CLIENT):
            data = rng.randbytes(rng.randint(1024, 64 * 1024))
            put_proven(s3, bucket, f"nightly/{j:02d}.dat", data)
        (targets / f"{name}.toml").write_text(
            f'client = "{name}"\nrpo = "26h"\nrto = "4h"\n[[targets]]\nname = "{name}-s3"\n'
            f'kind = "s3"\nbucket = "{bucket}"\nprefix = "nightly/"\n'
            f'endpoint_url = "{server.url}"\n')

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, range(clients)))


def check_report(report: Any, clients: int) -> None:
    """Every client drilled, every sample restored and proven by its metadata digest."""
    results = [t for c in report.clients for t in c.targets]
    if len(results) != clients:
        raise RuntimeError(f"drilled {len(results)} targets, expected {clients}")
    for target in results:
        sample = next(f for f in target.checks if f.id == "restore.sample")
        if str(sample.status) != "pass":
            raise RuntimeError(f"{target.target}: restore.sample {sample.status}: "
                               f"{sample.message}")


def run(*, clients: int, reps: int, latency_ms: float = 10.0) -> list[Comparison]:
    """The comparison on loopback, then (``latency_ms`` > 0) with a WAN-like round trip."""
    use_test_credentials()
    rows = [compare(clients, reps, 0.0)]
    if latency_ms > 0:
        rows.append(compare(clients, reps, latency_ms))
    return rows


def compare(clients: int, reps: int, latency_ms: float) -> Comparison:
    from backupcheck.commands.drill import DrillOptions, drill
    from backupcheck.config import load_clients, load_plan
    from backupcheck.engine import DEFAULT_WORKERS

    server_args = ("--latency-ms", str(latency_ms)) if latency_ms else ()
    where = f"{latency_ms:g} ms per request" if latency_ms else "loopback"
    scratch = Path(tempfile.mkdtemp(prefix="bench-clients-"))
    try:
        with MotoServer(*server_args) as server:
            targets = scratch / "targets"
            targets.mkdir()
            with timed(f"{clients} clients' buckets ({where})"):
                populate(server, targets, clients)
            (scratch / "plan.toml").write_text(PLAN)
            plan = load_plan(scratch / "plan.toml")
            everyone = load_clients(targets)
            options = DrillOptions(plan=plan, seed=1, jobs=plan.jobs, history=None)

            def concurrent() -> None:
                check_report(drill(everyone, options), clients)

            def serial() -> None:
                for client in everyone:
                    check_report(drill([client], options), 1)

            variants = {"default concurrency": concurrent, "one at a time": serial}
            # warm-up: one client's drill loads every module both sides use
            check_report(drill(everyone[:1], options), 1)
            cpu_before = server.cpu_seconds()
            timings = interleave(variants, reps, warmup=False, label=f"clients ({where})")
            server_cpu = server.cpu_seconds() - cpu_before
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    client_cpu = client_creation_cpu()
    med = {name: timings.median(name) for name in variants}
    ratio = med["one at a time"] / med["default concurrency"]
    cpu = {name: round(timings.extra_median(name, "cpu_self_s"), 2) for name in variants}
    runs = len(variants) * reps
    details = {"clients": clients, "objects_per_client": OBJECTS_PER_CLIENT,
               "server_latency_ms": latency_ms,
               "target_workers": DEFAULT_WORKERS, "jobs": plan.jobs,
               "drill_process_cpu_seconds_median": cpu,
               "server_cpu_seconds_per_run": round(server_cpu / runs, 2),
               "how": "in-process drill() calls (no interpreter start-up per client)",
               "make_s3_client_cpu_seconds": round(client_cpu, 3)}
    log(f"  clients ({where}): drill CPU per run {cpu}, server CPU per run "
        f"~{server_cpu / runs:.1f}s")
    note = ""
    if ratio <= 1.5:
        busy = cpu["default concurrency"]
        note = (f"the drill is CPU-bound in this process (one GIL): {busy:.1f}s CPU per "
                f"concurrent drill of {med['default concurrency']:.1f}s wall, while the "
                f"server used {server_cpu / runs:.1f}s on the same {os.cpu_count()} cores; "
                f"creating each target's guarded S3 client costs {client_cpu:.2f}s CPU, "
                f"x {clients} targets")
    name = "many clients" + (f" ({latency_ms:g} ms RTT)" if latency_ms else "")
    return Comparison(
        name, f"drill over {clients} small S3 clients on one server ({where}): default "
        "concurrency vs one client at a time (in-process drill() calls)",
        med, ratio, f"{ratio:.2f}x faster", "> 1.50x", ratio > 1.5, details,
        dict(timings.seconds), note)


def client_creation_cpu(runs: int = 5) -> float:
    """Median CPU seconds to create one guarded S3 client, as every S3 target does."""
    import time

    from backupcheck.backends.s3guard import make_s3_client

    spent = []
    for _ in range(runs):
        started = time.process_time()
        make_s3_client(endpoint_url="http://127.0.0.1:9").close()
        spent.append(time.process_time() - started)
    return sorted(spent)[runs // 2]
