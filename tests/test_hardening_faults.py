"""Faults during a drill: the run keeps going, tells the truth, and leaves nothing behind.

S3 faults come from :class:`tests.faultproxy.FaultProxy` between the tool and the moto
server (a connection reset mid-body, 503 SlowDown); restic faults from a wrapper script
standing in for the binary (a ``dump`` that dies or hangs); the history disk is made full or
unwritable by injecting the error where the writer meets the file system.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import xxhash
from botocore.retries.standard import ExponentialBackoff

from backupcheck.manifest.build import build_manifest
from tests.conftest import S3Server, statuses, target_of, write_client
from tests.fault_helpers import (
    ROOT,
    assert_no_leftovers,
    marked,
    plan_file,
    reaping,
    subprocess_env,
    tree_digest,
    wait_for_pid,
)
from tests.faultproxy import FaultProxy, Request, fake_restic
from tests.restic_helpers import Repo, init_local_repo, make_tree, target_toml

MiB = 1024 * 1024
PART = 8 * MiB  # backends/s3stream.py PART_SIZE: the second ranged part starts here


# ---------------------------------------------------------------- helpers


def run_subprocess(args: list[str], env: dict[str, str], timeout: float = 120
                   ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "backupcheck", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, check=False)


def files_by_path(target: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in target["restore"]["files"]}


# ---------------------------------------------------------------- S3 estate

LOCK = {"ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}}}


@pytest.fixture(scope="module")
def s3_estate(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A locked, encrypted bucket: a 20 MiB object (ranged GETs), a 3 MiB one (one GET)."""
    s3 = s3_server.client()
    bucket = "hardening-faults"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=LOCK)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    rng = random.Random(9)
    files = {"big.img": rng.randbytes(20 * MiB + 123), "small.bin": rng.randbytes(3 * MiB + 7),
             "docs/a.txt": b"alpha\n", "docs/b.txt": rng.randbytes(5000)}
    root = tmp_path_factory.mktemp("s3-faults")
    make_tree(root / "source", files)
    for rel, data in files.items():
        s3.put_object(Bucket=bucket, Key=f"backup/{rel}", Body=data)
    manifest = root / "manifest.parquet"
    build_manifest(root / "source", manifest, workers=1)
    return {"bucket": bucket, "files": files, "manifest": manifest}


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(s3_server.host, s3_server.port)
    yield fault_proxy
    fault_proxy.close()


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's own backoff, computed as usual and recorded, but slept 20 times shorter."""
    computed: list[float] = []
    original = ExponentialBackoff.delay_amount

    def scaled(self: ExponentialBackoff, context: Any) -> float:
        delay: float = original(self, context)
        computed.append(delay)
        return delay / 20

    monkeypatch.setattr(ExponentialBackoff, "delay_amount", scaled)
    return computed


def s3_targets(directory: Path, endpoint: str, estate: dict[str, Any]) -> Path:
    targets = directory / "targets"
    write_client(targets, "acme", f'''
client = "acme"
rpo = "26h"
rto = "4h"
[[targets]]
name = "acme-s3"
kind = "s3"
bucket = "{estate['bucket']}"
prefix = "backup/"
endpoint_url = "{endpoint}"
manifest = "{estate['manifest']}"
''')
    return targets


def s3_drill(cli: Any, tmp_path: Path, endpoint: str, estate: dict[str, Any],
             *extra: str) -> Any:
    targets = s3_targets(tmp_path, endpoint, estate)
    return cli("drill", "--targets", str(targets), "--plan", str(plan_file(tmp_path)),
               "--format", "json", "--no-history", *extra)


def _object_get(key: str, range_prefix: str | None) -> Any:
    def match(request: Request) -> bool:
        if not (request.is_object_get and request.key == key):
            return False
        return not request.range if range_prefix is None else (
            request.range.startswith(range_prefix))
    return match


def _range_start(request: Request) -> int:
    return int(request.range.removeprefix("bytes=").split("-", 1)[0])


# ---------------------------------------------------------------- S3: connection reset


def test_reset_mid_object_resumes_with_a_ranged_get_and_counts_the_retry(
        cli: Any, tmp_path: Path, proxy: FaultProxy, s3_estate: dict[str, Any]) -> None:
    big_cut, small_cut = MiB + 4321, MiB + 512 * 1024 + 99
    # the big object's second 8 MiB part, and the small object's single GET, reset midway
    proxy.cut_once(_object_get("backup/big.img", f"bytes={PART}-"), after=big_cut)
    proxy.cut_once(_object_get("backup/small.bin", None), after=small_cut)

    result = s3_drill(cli, tmp_path, proxy.url, s3_estate)

    assert result.exit_code == 0, result.stdout + result.stderr
    target = target_of(result.json(), "acme-s3")
    assert statuses(result.json(), "acme-s3")["restore.sample"] == "pass"
    files = files_by_path(target)
    for name in ("big.img", "small.bin"):
        assert files[name]["result"] == "ok"
        assert files[name]["xxh3_128"] == xxhash.xxh3_128(s3_estate["files"][name]).hexdigest()
        assert files[name]["retries"] >= 1, name
    assert target["restore"]["retries"] >= 2
    # the resumes were ranged GETs from the offset reached, not restarts from byte 0
    big_resume = [r for r in proxy.matching(_object_get("backup/big.img", "bytes="))
                  if PART < _range_start(r) <= PART + big_cut]
    assert big_resume and big_resume[0].range.endswith(f"-{2 * PART - 1}"), \
        [r.range for r in proxy.matching(_object_get("backup/big.img", "bytes="))]
    small_resume = proxy.matching(_object_get("backup/small.bin", "bytes="))
    assert small_resume and 0 < _range_start(small_resume[0]) <= small_cut
    assert small_resume[0].range.endswith("-")


# ---------------------------------------------------------------- S3: 503 SlowDown


def test_transient_slowdown_is_retried_with_backoff_and_passes(
        cli: Any, tmp_path: Path, proxy: FaultProxy, s3_estate: dict[str, Any],
        fast_backoff: list[float]) -> None:
    bucket = s3_estate["bucket"]
    proxy.slow_down(lambda r: r.bucket == bucket, times=2)

    result = s3_drill(cli, tmp_path, proxy.url, s3_estate)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert set(statuses(result.json(), "acme-s3").values()) <= {"pass", "warn"}
    first = proxy.requests[0]
    same = [r for r in proxy.requests[:3] if (r.method, r.path) == (first.method, first.path)]
    assert len(same) == 3  # two 503s, then the same request succeeded
    # botocore's standard mode backed off between them, on its throttling scale (base 1 s)
    assert len(fast_backoff) >= 2
    assert same[2].at - same[1].at >= 0.9 * fast_backoff[1] / 20


def test_permanent_slowdown_is_an_error_naming_the_cause(
        cli: Any, tmp_path: Path, proxy: FaultProxy, s3_estate: dict[str, Any],
        fast_backoff: list[float]) -> None:
    bucket = s3_estate["bucket"]
    proxy.slow_down(lambda r: r.bucket == bucket)

    result = s3_drill(cli, tmp_path, proxy.url, s3_estate)

    assert result.exit_code == 3, result.stdout + result.stderr
    target = target_of(result.json(), "acme-s3")
    assert target["status"] == "error"
    assert {c["status"] for c in target["checks"]} == {"error"}
    assert "SlowDown" in target["checks"][0]["message"]
    # every request was tried 3 times (the client's total_max_attempts), then given up
    by_request: dict[tuple[str, str], int] = {}
    for request in proxy.requests:
        by_request[(request.method, request.path)] = by_request.get(
            (request.method, request.path), 0) + 1
    assert set(by_request.values()) == {3}


def test_slowdown_on_object_reads_makes_files_unreadable_with_the_cause(
        cli: Any, tmp_path: Path, proxy: FaultProxy, s3_estate: dict[str, Any],
        fast_backoff: list[float]) -> None:
    bucket = s3_estate["bucket"]
    proxy.slow_down(lambda r: r.bucket == bucket and r.is_object_get)

    result = s3_drill(cli, tmp_path, proxy.url, s3_estate)

    assert result.exit_code == 1, result.stdout + result.stderr
    target = target_of(result.json(), "acme-s3")
    assert statuses(result.json(), "acme-s3")["restore.sample"] == "fail"
    problems = target["restore"]["problems"]
    assert {p["path"] for p in problems} == set(s3_estate["files"])
    assert all(p["reason"] == "unreadable" and "SlowDown" in p["actual"] for p in problems)


def test_slowdown_on_metadata_lookups_is_per_file_not_an_internal_error(
        cli: Any, tmp_path: Path, proxy: FaultProxy, s3_estate: dict[str, Any],
        fast_backoff: list[float]) -> None:
    """Without a manifest the digest comes from a HEAD per file; a throttled HEAD is that
    file's problem, named, and never an "internal error" of the whole target."""
    bucket = s3_estate["bucket"]
    targets = s3_targets(tmp_path, proxy.url, {**s3_estate, "manifest": ""})
    text = (targets / "acme.toml").read_text().replace('manifest = ""\n', "")
    (targets / "acme.toml").write_text(text)
    proxy.slow_down(lambda r: r.bucket == bucket and r.method == "HEAD")

    result = cli("drill", "--targets", str(targets), "--plan", str(plan_file(tmp_path)),
                 "--format", "json", "--no-history")

    assert "internal error" not in result.stdout + result.stderr
    assert result.exit_code == 1, result.stdout + result.stderr
    problems = target_of(result.json(), "acme-s3")["restore"]["problems"]
    assert {p["path"] for p in problems} == set(s3_estate["files"])
    assert all(p["reason"] == "unreadable" and "503" in p["actual"] for p in problems)


# ---------------------------------------------------------------- restic: dump dies or hangs

RESTIC_FILES = {"ok/a.txt": b"alpha\n", "ok/b.bin": random.Random(3).randbytes(200_000),
                "die.bin": b"this dump dies\n" * 100, "hang.bin": b"this dump hangs\n" * 100,
                "hang2.bin": b"this one hangs too\n" * 100}


@pytest.fixture(scope="module")
def restic_estate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("restic-faults")
    source = make_tree(root / "data", RESTIC_FILES)
    repo = init_local_repo(root)
    repo.backup(source)
    manifest = root / "manifest.parquet"
    build_manifest(source, manifest, workers=1)
    return {"root": root, "repo": repo, "manifest": manifest,
            "bin": fake_restic(root / "bin")}


def restic_targets(directory: Path, repo: Repo, manifest: Path) -> Path:
    """Client ``faulty`` (its dumps of die.bin / hang*.bin fail) and ``healthy``, one repo."""
    targets = directory / "targets"
    # the faults are injected into the restic binary's dumps: these targets read through it
    extra = f'manifest = "{manifest}"\nreader = "restic"\n'
    write_client(targets, "faulty", target_toml("faulty", repo, extra=extra,
                                                env={"BC_FAKE": "dump-faults"}))
    write_client(targets, "healthy", target_toml("healthy", repo, extra=extra))
    return targets


def test_dump_that_dies_or_hangs_is_unreadable_and_the_rest_still_runs(
        tmp_path: Path, restic_estate: dict[str, Any]) -> None:
    marker = uuid.uuid4().hex
    targets = restic_targets(tmp_path, restic_estate["repo"], restic_estate["manifest"])
    env = subprocess_env(restic_estate, marker, BACKUPCHECK_FILE_IDLE_TIMEOUT="2")
    started = time.monotonic()

    result = run_subprocess(["drill", "--targets", str(targets), "--plan",
                             str(plan_file(tmp_path)), "--format", "json", "--no-history"], env)

    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    faulty = files_by_path(target_of(document, "faulty"))
    assert faulty["die.bin"]["result"] == "unreadable"
    problems = {p["path"]: p for p in target_of(document, "faulty")["restore"]["problems"]}
    assert "Fatal: planted failure: pack 5eed1e55 is damaged" in problems["die.bin"]["actual"]
    for hung in ("hang.bin", "hang2.bin"):
        assert faulty[hung]["result"] == "unreadable"
        assert "no data for 2s" in problems[hung]["actual"]
    assert {faulty[p]["result"] for p in ("ok/a.txt", "ok/b.bin")} == {"ok"}
    assert set(problems) == {"die.bin", "hang.bin", "hang2.bin"}
    # the other target restored everything (the same files, without the planted faults)
    assert statuses(document, "healthy")["restore.sample"] == "pass"
    assert files_by_path(target_of(document, "healthy"))["hang.bin"]["result"] == "ok"
    assert elapsed < 60  # the per-file timeout, not restic's 120 s
    assert_no_leftovers(marker)


def test_ctrl_c_mid_restore_exits_at_once_and_leaves_no_restic_behind(
        tmp_path: Path, restic_estate: dict[str, Any]) -> None:
    marker = uuid.uuid4().hex
    targets = tmp_path / "targets"
    write_client(targets, "faulty", target_toml(
        "faulty", restic_estate["repo"],
        extra=f'manifest = "{restic_estate["manifest"]}"\nreader = "restic"\n',
        env={"BC_FAKE": "dump-faults"}))
    hang_pids = tmp_path / "hang.pids"
    env = subprocess_env(restic_estate, marker, BC_HANG_PIDS=str(hang_pids))
    assert not marked(marker)
    # one stream: after the first hung dump is killed, the next files would start new ones
    process = subprocess.Popen(
        [sys.executable, "-m", "backupcheck", "drill", "--targets", str(targets), "--plan",
         str(plan_file(tmp_path, jobs=1)), "--format", "json", "--no-history"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with reaping(process, marker) as leftovers:
        hung = wait_for_pid(hang_pids, process)
        assert psutil.pid_exists(hung)
        assert marked(marker)  # restic (the hung dump) is running now
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=15)
        took = time.monotonic() - sent
    assert process.returncode in (130, 1), stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert took < 5, f"took {took:.1f}s to stop"
    assert not leftovers, [(p.pid, p.name()) for p in leftovers]
    assert not psutil.pid_exists(hung) or psutil.Process(hung).status() == psutil.STATUS_ZOMBIE


# ---------------------------------------------------------------- history: full or read-only


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("backupcheck: error: "), stderr
    return lines[0]


def test_full_disk_keeps_the_report_and_earlier_history(
        cli: Any, tmp_path: Path, s3_server: S3Server, s3_estate: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    targets = s3_targets(tmp_path, s3_server.url, s3_estate)
    history = tmp_path / "history"
    args = ["drill", "--targets", str(targets), "--plan", str(plan_file(tmp_path, files=2)),
            "--format", "json", "--history", str(history)]
    assert cli(*args).exit_code == 0
    before = tree_digest(history)
    assert any(name.endswith(".parquet") for name in before)

    import pyarrow.parquet as pq

    def disk_full(table: Any, where: Any, **_: Any) -> None:
        where.write(b"PAR1 half a file")  # a write that ran out of space midway
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pq, "write_table", disk_full)
    result = cli(*args)

    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "pass"  # the report came out first
    line = _one_error_line(result.stderr)
    assert "no space left on device" in line and str(history) in line
    assert "earlier history is intact" in line
    assert tree_digest(history) == before  # no half file, nothing changed


def test_unwritable_history_is_one_clear_line_after_the_report(
        cli: Any, tmp_path: Path, s3_server: S3Server, s3_estate: dict[str, Any]) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a regular file where the history directory should be\n")
    targets = s3_targets(tmp_path, s3_server.url, s3_estate)

    result = cli("drill", "--targets", str(targets), "--plan",
                 str(plan_file(tmp_path, files=2)), "--history", str(blocker / "history"))

    assert result.exit_code == 1
    assert "restore drill" in result.stdout and "overall: PASS" in result.stdout
    line = _one_error_line(result.stderr)
    assert "cannot write history" in line and "Not a directory" in line
    assert blocker.read_text().startswith("a regular file")
