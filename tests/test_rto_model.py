"""The RTO model against the reproductions of issue 17, on the real moto server.

The latency and the shared thin link come from :class:`tests.faultproxy.FaultProxy` between
the tool and the server. Nothing here asserts how long anything took: each test asserts what
the drill *concluded* (pass / warn / fail), which a physical floor decides. 2,000 objects
behind 100 ms per request cannot be fetched in 20 s on 8 streams (25 s at least); 32 MiB
through one 8 MB/s link cannot arrive in 2 s however many streams share it (4 s at least).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from backupcheck.checks.registry import spec
from backupcheck.model import Finding, RestoreResult, Status
from backupcheck.restore.verdict import rto_finding
from tests.conftest import S3Server, write_client
from tests.drill_helpers import check_of, drill, restore_of
from tests.faultproxy import FaultProxy
from tests.restic_helpers import init_local_repo, init_s3_repo, target_toml
from tests.test_drill_s3 import make_bucket

MiB = 1024 * 1024


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(s3_server.host, s3_server.port)
    yield fault_proxy
    fault_proxy.close()


def client_file(targets: Path, name: str, bucket: str, endpoint: str, rto: str) -> Path:
    # few HEADs in the policy checks: this test is about the restore, not the lock scan
    return write_client(targets, name, f'''
client = "{name}"
rpo = "26h"
rto = "{rto}"
[policy]
max_object_heads = 5
[[targets]]
name = "{name}"
kind = "s3"
bucket = "{bucket}"
prefix = "backup/"
endpoint_url = "{endpoint}"
''')


def plan(directory: Path, *, jobs: int, files: int = 20, streams: int | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "plan.toml"
    extra = f"restore_streams = {streams}\n" if streams is not None else ""
    path.write_text(f'name = "rto"\nfiles = {files}\nmax_bytes = "1GiB"\n'
                    f'read_data_subset = ""\njobs = {jobs}\n{extra}', encoding="utf-8")
    return path


def fill(server: S3Server, bucket: str, count: int, size: int) -> None:
    s3 = server.client()
    make_bucket(s3, bucket)
    for i in range(count):
        s3.put_object(Bucket=bucket, Key=f"backup/d{i % 20:02d}/f{i:05d}.bin",
                      Body=bytes([i % 251]) * size)


def rto_check(document: dict[str, Any], name: str) -> dict[str, Any]:
    return check_of(document, name, "restore.rto")


def test_every_small_object_pays_the_request_latency(tmp_path: Path, s3_server: S3Server,
                                                     proxy: FaultProxy) -> None:
    """Issue 17: 2,000 small objects behind 100 ms: the old estimate was 0.18 s (a pass)."""
    fill(s3_server, "rto-latency", 2000, 200)
    proxy.add_latency(0.1)
    targets = tmp_path / "targets"
    client_file(targets, "far", "rto-latency", proxy.url, "20s")
    document = drill(targets, plan(tmp_path / "plans", jobs=4)).json()
    check = rto_check(document, "far")
    restore = restore_of(document, "far")
    assert check["status"] != "pass", check
    # 8 streams (the default restore_streams) each wait 100 ms per object: >= 25 s
    assert restore["estimated_full_restore_seconds"] > 20, restore
    assert restore["estimate_high_seconds"] > 20
    assert check["evidence"]["restore_streams"] == 8


def test_more_drill_jobs_do_not_widen_a_shared_link(tmp_path: Path, s3_server: S3Server,
                                                    proxy: FaultProxy) -> None:
    """Issue 17: behind a shared 8 MB/s link, --jobs 1000 gave 0.13 s (a pass) for 32 MiB."""
    fill(s3_server, "rto-thin", 32, MiB)
    proxy.throttle(8 * 1000 * 1000)
    targets = tmp_path / "targets"
    client_file(targets, "thin", "rto-thin", proxy.url, "2s")
    plans = tmp_path / "plans"
    verdicts = {}
    for jobs in (4, 1000):
        document = drill(targets, plan(plans, jobs=jobs, files=12), None,
                         "--jobs", str(jobs)).json()
        verdicts[jobs] = rto_check(document, "thin")
        restore = restore_of(document, "thin")
        # 33.5 MB through 8 MB/s: 4.2 s whatever the streams
        assert restore["estimated_full_restore_seconds"] > 2, (jobs, restore)
    assert verdicts[4]["status"] != "pass"
    assert verdicts[1000]["status"] != "pass"
    assert verdicts[1000]["evidence"]["restore_streams"] == 8


def test_a_restic_repository_behind_a_thin_link_is_not_estimated_from_memory(
        tmp_path: Path, s3_server: S3Server, proxy: FaultProxy) -> None:
    """The native reader fetches a file's blobs (up to 8 MiB) before its first byte, so the
    bytes after it come from memory: timed from the first byte on, 32 MiB behind a shared
    8 MB/s link was estimated below a second and passed an RTO of 3 s (4.2 s at least)."""
    repo = init_s3_repo(s3_server, "rto-restic-thin", tmp_path / "repos")
    source = tmp_path / "source"
    (source / "d").mkdir(parents=True)
    for i in range(64):
        (source / "d" / f"f{i:02d}.bin").write_bytes(os.urandom(512 * 1024))
    repo.backup(source)
    proxy.throttle(8 * 1000 * 1000)
    thin = replace(repo, repository=repo.repository.replace(s3_server.url, proxy.url))
    targets = tmp_path / "targets"
    write_client(targets, "thin", target_toml("thin", thin).replace('rto = "4h"', 'rto = "3s"'))
    document = drill(targets, plan(tmp_path / "plans", jobs=4, files=12)).json()
    check = rto_check(document, "thin")
    assert check["evidence"]["time_to_first_byte_paid"] == "fetch", check
    assert check["evidence"]["startup_seconds"] > 0  # the key derivation, as restic's own
    assert check["evidence"]["requests"] == -(-check["evidence"]["total_bytes"] // (4 * MiB))
    # 33.5 MB through 8 MB/s: 4.2 s however the bytes are fetched
    assert check["status"] != "pass", check


# ---------------------------------------------------------------- the verdict


def judged(low: float, point: float, high: float, rto: float = 100.0,
           total_files: int = 10) -> Finding:
    return rto_finding(RestoreResult(
        seed=1, snapshot="abc", sampled=4, verified=4, mismatched=0, unreadable=0, unproven=0,
        bytes=4000, seconds=0.5, ttfb_seconds=0.01, throughput_bytes_per_s=8000.0,
        total_bytes=10_000, total_files=total_files, estimated_full_restore_seconds=point,
        rto_seconds=rto, coverage=0.4, retries=0, problems=(), files=(),
        estimate_method={"method": "restore model"}, estimate_low_seconds=low,
        estimate_high_seconds=high))


def test_rto_fails_on_the_low_end_and_warns_on_the_high_end() -> None:
    assert judged(101, 120, 150).status is Status.FAIL
    # the point is over the RTO but the low end is not: a warning, not a failure
    assert judged(80, 101, 130).status is Status.WARN
    assert judged(60, 80, 101).status is Status.WARN
    passed = judged(40, 50, 62)
    assert passed.status is Status.PASS
    assert passed.evidence["estimate_low_seconds"] == 40
    assert passed.evidence["estimate_high_seconds"] == 62


def test_no_hint_advises_a_setting_that_only_changes_the_estimate() -> None:
    entry = spec("restore.rto")
    for text in (entry.hint, entry.warned_hint):
        assert "stream" not in text and "jobs" not in text, text


def test_a_snapshot_without_a_regular_file_has_nothing_to_restore(tmp_path: Path) -> None:
    repo = init_local_repo(tmp_path / "repos")
    source = tmp_path / "source"
    (source / "empty" / "dir").mkdir(parents=True)
    (source / "link").symlink_to("empty")
    repo.backup(source)
    targets = tmp_path / "targets"
    write_client(targets, "hollow", target_toml("hollow", repo))
    document = drill(targets, plan(tmp_path / "plans", jobs=2)).json()
    check = rto_check(document, "hollow")
    assert check["status"] == "pass", check
    assert "nothing to restore" in check["message"]
    assert "cannot estimate" not in check["message"]
    assert restore_of(document, "hollow")["estimated_full_restore_seconds"] == 0
