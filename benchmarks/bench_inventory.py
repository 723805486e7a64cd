"""Benchmark 3: ``backupcheck inventory --out`` at scale vs a bare boto3 paginator loop.

One versioned bucket holds ``versions`` listing entries under one prefix: object versions
(three per key) and a few thousand delete markers, put straight into the moto server's
memory before it starts (see ``benchmarks/motoserver.py``). Both sides run as child
processes of the same interpreter, interleaved:

* **ours**: ``python -m backupcheck inventory --targets DIR --out inv.parquet --format json``
  (bucket settings, the streamed listing, Parquet rows in batches, the JSON report);
* **bare loop**: ``list_object_versions`` paginator that only counts versions and markers.

Peak RSS of each child comes from ``wait4()``'s rusage. Targets (issue 8): ours <= 1.2x the
bare loop's time; peak RSS < 200 MB.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

from benchmarks.common import (
    REPO_ROOT,
    TEST_ENV,
    Comparison,
    MotoServer,
    interleave,
    log,
    run_child,
    timed,
    use_test_credentials,
)

BUCKET = "bench-inventory"
PREFIX = "Veeam/"
PER_KEY = 3
RSS_LIMIT_MB = 200

BARE_LOOP = """
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
versions = markers = 0
for page in s3.get_paginator("list_object_versions").paginate(Bucket=sys.argv[2],
                                                              Prefix=sys.argv[3]):
    versions += len(page.get("Versions", []))
    markers += len(page.get("DeleteMarkers", []))
print(versions, markers)
"""


def shape(entries: int) -> tuple[int, int]:
    """(keys, delete markers) so that keys * PER_KEY + markers == entries, ~4% markers."""
    keys = round(entries * 0.96 / PER_KEY)
    return keys, entries - keys * PER_KEY


def run(*, versions: int, reps: int) -> list[Comparison]:
    use_test_credentials()
    keys, markers = shape(versions)
    scratch = Path(tempfile.mkdtemp(prefix="bench-inventory-"))
    try:
        with timed(f"moto server with {keys * PER_KEY:,} versions + {markers:,} delete markers"):
            server = MotoServer("--versions", BUCKET, PREFIX, str(keys), str(PER_KEY),
                                str(markers))
        with server:
            targets = scratch / "targets"
            targets.mkdir()
            (targets / "acme.toml").write_text(
                'client = "acme"\nrpo = "26h"\nrto = "4h"\n[[targets]]\nname = "acme-veeam"\n'
                f'kind = "s3"\nbucket = "{BUCKET}"\nprefix = "{PREFIX}"\n'
                f'endpoint_url = "{server.url}"\n')
            out = scratch / "inventory.parquet"
            report = scratch / "report.json"
            env = {**_clean_env(), **TEST_ENV}

            def ours() -> dict[str, float]:
                with open(report, "wb") as fh:
                    return run_child([sys.executable, "-m", "backupcheck", "inventory",
                                      "--targets", str(targets), "--out", str(out),
                                      "--format", "json"], env=env, stdout=fh, cwd=scratch)

            def bare() -> dict[str, float]:
                counted = scratch / "counted.txt"
                with open(counted, "wb") as fh:
                    usage = run_child([sys.executable, "-c", BARE_LOOP, server.url, BUCKET,
                                       PREFIX], env=env, stdout=fh, cwd=scratch)
                if counted.read_text().split() != [str(keys * PER_KEY), str(markers)]:
                    raise RuntimeError(f"bare loop counted {counted.read_text()!r}")
                return usage

            variants = {"ours": ours, "bare loop": bare}
            # no warm-up round: a round lists the whole bucket twice; the first timed round
            # pays the same cold costs on both sides (interpreter, imports)
            cpu_before = server.cpu_seconds()
            timings = interleave(variants, reps, warmup=False, label="inventory")
            server_cpu = (server.cpu_seconds() - cpu_before) / (len(variants) * reps)
            rows = pq.ParquetFile(out).metadata.num_rows
            summary = json.loads(report.read_text())["clients"][0]["targets"][0]["inventory"]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if rows != versions:
        raise RuntimeError(f"inventory wrote {rows} rows, expected {versions}")
    if summary["versions"] != keys * PER_KEY or summary["delete_markers"] != markers:
        raise RuntimeError(f"inventory summary does not match the bucket: {summary}")

    med = {name: timings.median(name) for name in variants}
    ratio = med["ours"] / med["bare loop"]
    rss = max(timings.extra["ours"]["peak_rss_mb"])
    rss_bare = max(timings.extra["bare loop"]["peak_rss_mb"])
    cpu = {name: round(timings.extra_median(name, "cpu_s"), 2) for name in variants}
    cpu_ratio = cpu["ours"] / cpu["bare loop"] if cpu["bare loop"] else float("nan")
    details = {"versions": keys * PER_KEY, "delete_markers": markers, "rows": rows,
               "peak_rss_mb": {"ours": round(rss, 1), "bare loop": round(rss_bare, 1)},
               "child_cpu_seconds_median": cpu,
               "child_cpu_ratio": round(cpu_ratio, 3),
               "server_cpu_seconds_per_run": round(server_cpu, 2),
               "server": "moto (subprocess), listing pages cut from a presorted list"}
    compared = (f"{keys * PER_KEY:,} versions + {markers:,} delete markers: inventory --out "
                "(subprocess) vs bare paginator loop (subprocess)")
    seconds = dict(timings.seconds)
    log(f"  inventory peak RSS {rss:.0f} MB (bare loop {rss_bare:.0f} MB), child CPU {cpu}, "
        f"server CPU per run {server_cpu:.1f}s")
    note = (f"CPU of the two children: ours {cpu['ours']:.1f}s vs {cpu['bare loop']:.1f}s "
            f"({cpu_ratio:.2f}x); both spend most of it in botocore's response parsing")
    return [
        Comparison("inventory vs bare loop", compared,
                   {"ours": med["ours"], "bare loop": med["bare loop"]}, ratio,
                   f"{ratio:.2f}x the time", "<= 1.20x", ratio <= 1.2, details, seconds,
                   note),
        Comparison("inventory peak RSS", f"peak RSS of inventory --out over {versions:,} rows",
                   {}, rss, f"{rss:.0f} MB", f"< {RSS_LIMIT_MB} MB", rss < RSS_LIMIT_MB,
                   details),
    ]


def _clean_env() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env
