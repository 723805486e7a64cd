"""``backupcheck demo``: the embedded estate end to end, its planted problems, and clean-up.

Two full demos run here (one kept and explored with ``verify`` from a fresh environment, one
not kept), each in well under a minute. ``HOME`` points at a temporary directory, and the
tests assert that ``~/.aws`` stays untouched: every AWS file of the demo lives in the estate.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest

from backupcheck.demo import run_demo
from backupcheck.demo.data import KiB, office_share
from backupcheck.demo.process import PID_FILE, start_server, stop_server
from backupcheck.demo.run import MARKER, prepare_keep_dir
from backupcheck.errors import UsageError
from backupcheck.history import HistoryStore
from tests.conftest import target_of

PLANTED = {
    ("acme", "acme-nas", "s3.object_lock.mode"),
    ("acme", "acme-nas", "s3.object_lock.retention"),
    # the same planted problem seen on the objects: they inherit GOVERNANCE 7 d
    ("acme", "acme-nas", "s3.objects.locked"),
    ("globex", "globex-files", "restore.sample"),
    ("initech", "initech-offsite", "restore.rto"),
}
#: SPEC: a restic repository on local disk is not immutable storage, a warning; globex's
#: planted overwrite is also seen in the version listing (a new version over the backed-up one)
ALLOWED_WARNINGS = {("initech", "initech-fileserver", "restic.storage.immutable"),
                    ("initech", "initech-fileserver", "restic.objects.locked"),
                    ("globex", "globex-files", "s3.objects.overwritten")}
TARGETS = {"acme-nas", "acme-fs1", "globex-files", "globex-erp", "initech-offsite",
           "initech-fileserver"}


def check_statuses(document: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    return {(client["client"], target["target"], check["id"]): check["status"]
            for client in document["clients"] for target in client["targets"]
            for check in target["checks"]}


def assert_planted_problems_only(document: dict[str, Any]) -> None:
    statuses = check_statuses(document)
    assert {t for _, t, _ in statuses} == TARGETS
    failing = {key for key, status in statuses.items() if status in ("fail", "error")}
    messages = {(c["client"], t["target"], k["id"]): k["message"]
                for c in document["clients"] for t in c["targets"] for k in t["checks"]}
    assert failing == PLANTED, {key: messages[key] for key in failing ^ PLANTED}
    assert all(statuses[key] == "fail" for key in PLANTED)
    warnings = {key for key, status in statuses.items() if status == "warn"}
    assert warnings == ALLOWED_WARNINGS
    globex = target_of(document, "globex-files")["restore"]
    assert [p["reason"] for p in globex["problems"]] == ["digest"]
    assert globex["mismatched"] == 1
    initech = target_of(document, "initech-offsite")["restore"]
    assert initech["estimate_low_seconds"] > initech["rto_seconds"] == 15
    for name in TARGETS - {"globex-files"}:
        restore = target_of(document, name)["restore"]
        assert restore["sampled"] == restore["verified"] > 0, name
    assert document["status"] == "fail"


def demo_servers(directory: Path | None = None) -> list[psutil.Process]:
    """Live demo server processes (of ``directory`` when given); zombies do not count."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if "backupcheck.demo.server" not in cmdline:
            continue
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if directory is None or any(str(directory) in arg for arg in cmdline):
            found.append(process)
    return found


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def demo_command_wired() -> bool:
    from backupcheck.cli import app

    return any((c.name or getattr(c.callback, "__name__", "")) == "demo"
               for c in app.registered_commands)


needs_demo_command = pytest.mark.skipif(not demo_command_wired(),
                                        reason="`backupcheck demo` is not wired into cli.py")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throw-away HOME, to show that the demo never writes ``~/.aws``."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def kept_estate(tmp_path: Path) -> Iterator[Path]:
    """The estate directory of a kept demo; its server is stopped afterwards, whatever."""
    estate = tmp_path / "estate"
    yield estate
    for process in demo_servers(estate):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
            if not wait_gone(process.pid, 5):
                process.kill()


# ---------------------------------------------------------------- end to end


@needs_demo_command
@pytest.mark.timeout(240)
def test_demo_keep_then_verify_from_a_new_shell(cli: Any, home: Path, kept_estate: Path) -> None:
    result = cli("demo", "--keep", str(kept_estate), "--format", "json")

    assert result.exit_code == 1, result.stderr
    document = result.json()
    assert document["command"] == "drill"
    assert_planted_problems_only(document)
    assert f"kill $(cat {kept_estate}/s3-server.pid)" in result.stderr
    assert f"backupcheck verify --targets {kept_estate}/targets" in result.stderr

    # the server is left running, detached, and said where
    pid = int((kept_estate / PID_FILE).read_text().strip())
    assert psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    assert pid not in {c.pid for c in psutil.Process().children(recursive=True)}

    # the fake profile stays in the estate, private; the user's ~/.aws is never touched;
    # the line to use it from a new shell is printed; no key in any targets file
    assert not (home / ".aws").exists()
    credentials = kept_estate / "aws" / "credentials"
    config = kept_estate / "aws" / "config"
    assert "[backupcheck-demo]" in credentials.read_text()
    assert "[profile backupcheck-demo]" in config.read_text()
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    line = (f"export AWS_SHARED_CREDENTIALS_FILE={credentials} "
            f"AWS_CONFIG_FILE={config}")
    assert line in result.stderr
    for toml in (kept_estate / "targets").glob("*.toml"):
        assert "aws_secret_access_key" not in toml.read_text().lower()

    # a new shell: nothing but HOME, PATH and the two variables the demo printed
    shell = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
             "AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_CONFIG_FILE": str(config)}
    verify = subprocess.run(
        [sys.executable, "-m", "backupcheck", "verify", "--targets",
         str(kept_estate / "targets"), "--format", "json"],
        env=shell, cwd=kept_estate, capture_output=True, text=True, timeout=180)
    assert verify.returncode == 1, verify.stderr
    statuses = check_statuses(json.loads(verify.stdout))
    assert {k for k, s in statuses.items() if s in ("fail", "error")} == {
        ("acme", "acme-nas", "s3.object_lock.mode"),
        ("acme", "acme-nas", "s3.object_lock.retention"),
        ("acme", "acme-nas", "s3.objects.locked")}

    # five earlier weekly drills and today's, for every target
    runs = HistoryStore(kept_estate / "history").read_runs()
    per_target: dict[str, set[str]] = {}
    for row in runs.select(["target", "run_id"]).to_pylist():
        per_target.setdefault(row["target"], set()).add(row["run_id"])
    assert per_target.keys() == TARGETS
    assert all(len(ids) == 6 for ids in per_target.values())

    # stopping the server as the demo says ends it
    os.kill(pid, 15)
    assert wait_gone(pid)
    assert demo_servers(kept_estate) == []


@pytest.mark.timeout(240)
def test_run_demo_without_keep_leaves_nothing_behind(home: Path) -> None:
    report, info = run_demo(None)

    assert report.exit_code == 1
    assert_planted_problems_only(report.to_json())
    assert not info.kept and info.server_pid is None
    assert not info.directory.exists()
    assert demo_servers(info.directory) == []
    assert not [c for c in psutil.Process().children(recursive=True)
                if "backupcheck.demo.server" in (c.cmdline() or [])]
    assert not (home / ".aws").exists()  # the demo never writes ~/.aws
    assert info.seconds < 60
    assert set(info.planted) == {"acme", "globex", "initech"}


# ---------------------------------------------------------------- pieces


@needs_demo_command
def test_demo_rejects_targets_and_client(cli: Any, tmp_path: Path) -> None:
    result = cli("demo", "--targets", str(tmp_path), "--keep", str(tmp_path / "estate"))
    assert result.exit_code == 2
    assert "--targets" in result.stderr
    assert not (tmp_path / "estate").exists()


@needs_demo_command
def test_demo_keep_refuses_a_directory_that_is_not_a_demo_estate(cli: Any, tmp_path: Path
                                                                 ) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    result = cli("demo", "--keep", str(precious))
    assert result.exit_code == 2
    assert "not empty" in result.stderr
    assert [p.name for p in precious.iterdir()] == ["notes.txt"]


def test_keep_dir_checks(tmp_path: Path) -> None:
    fresh = tmp_path / "new" / "estate"
    assert prepare_keep_dir(fresh) is None and fresh.is_dir()
    assert prepare_keep_dir(fresh) is None  # empty: fine

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "data.bin").write_bytes(b"x")
    with pytest.raises(UsageError) as error:
        prepare_keep_dir(foreign)
    assert error.value.exit_code == 2
    assert (foreign / "data.bin").exists()

    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(UsageError):
        prepare_keep_dir(a_file)


def test_keep_dir_replaces_an_earlier_estate_without_killing_strangers(tmp_path: Path) -> None:
    earlier = tmp_path / "earlier"
    (earlier / "targets").mkdir(parents=True)
    (earlier / MARKER).write_text("{}")
    (earlier / "targets" / "acme.toml").write_text("client = 'acme'")
    # a stale pid file naming a process that is not a demo server (this test): left alone
    (earlier / PID_FILE).write_text(f"{os.getpid()}\n")

    note = prepare_keep_dir(earlier)

    assert note is not None and "replaced" in note
    assert list(earlier.iterdir()) == []


@pytest.mark.timeout(60)
def test_server_process_throttles_its_slow_link_and_stops(tmp_path: Path) -> None:
    handle = start_server(tmp_path, throttle=256 * KiB, detached=False)
    try:
        assert (tmp_path / PID_FILE).read_text().strip() == str(handle.pid)

        def client(url: str) -> Any:
            return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                                aws_access_key_id="x", aws_secret_access_key="y")

        client(handle.url).create_bucket(Bucket="throttle-test")
        client(handle.url).put_object(Bucket="throttle-test", Key="blob",
                                      Body=b"\0" * (512 * KiB))
        timings = {}
        for name, url in (("direct", handle.url), ("slow", handle.throttled_url)):
            started = time.monotonic()
            body = client(url).get_object(Bucket="throttle-test", Key="blob")["Body"].read()
            timings[name] = time.monotonic() - started
            assert len(body) == 512 * KiB
        assert timings["slow"] >= 1.8  # 512 KiB at 256 KiB/s
        assert timings["direct"] < 1.0
    finally:
        stop_server(handle)
    assert handle.process is not None and handle.process.poll() is not None
    assert not (tmp_path / PID_FILE).exists()


def test_generated_shares_are_deterministic_and_mixed() -> None:
    from datetime import UTC, datetime

    newest = datetime(2026, 11, 22, 3, tzinfo=UTC)
    first = office_share("t", small=120, large=2, newest=newest)
    assert first == office_share("t", small=120, large=2, newest=newest)
    small = [s for s in first if s.size <= 64 * KiB]
    large = [s for s in first if s.size >= 1024 * KiB]
    assert len(small) == 120 and len(large) == 2
    latest = max(first, key=lambda s: (s.mtime, s.path))
    assert latest.mtime == newest and latest.size <= 64 * KiB
