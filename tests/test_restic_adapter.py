"""The restic adapter and backend against the real binary, plus fake binaries for faults.

Real repositories are made by ``tests/restic_helpers.py``; faults the real restic cannot
produce on demand (garbage JSON, an old version, a hang, a dump dying midway, a flood on
stderr) come from small shell scripts standing in for the binary.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest

from backupcheck.backends.base import FileMissing, FileUnreadable
from backupcheck.backends.restic import (
    Restic,
    S3Location,
    classify_failure,
    parse_s3_repository,
    parse_time,
    redact_repository,
)
from backupcheck.backends.restic_backend import ResticBackend, relative_path
from backupcheck.checks.restic import run_all as run_restic_checks
from backupcheck.clock import now_utc
from backupcheck.errors import TargetUnavailable
from backupcheck.model import Client, Plan, Policy, ResticTarget
from tests.conftest import S3Server
from tests.restic_helpers import (
    PASSWORD,
    Repo,
    corrupt_biggest_pack,
    init_local_repo,
    init_s3_repo,
    make_tree,
)

BIG = os.urandom(3 * 1024 * 1024 + 17)
FILES = {"a.txt": b"hello\n", "sub/big.bin": BIG, "sub/with space ü.txt": b"odd name\n"}


@dataclass
class Estate:
    root: Path
    repo: Repo
    relative_id: str  # `backup data` from root, host fs1, tag daily, dated 2025
    absolute_id: str  # `backup /root/data`, host fs1
    multi_id: str  # `backup data other`, host other, tag weekly

    def target(self, **changes: object) -> ResticTarget:
        base: dict[str, object] = {"name": "t", "repository": self.repo.repository,
                                   "password_file": str(self.repo.password_file)}
        base.update(changes)
        return ResticTarget(**base)  # type: ignore[arg-type]

    def restic(self, **kwargs: object) -> Restic:
        return Restic(self.target(), **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Estate:
    root = tmp_path_factory.mktemp("adapter")
    make_tree(root / "data", FILES)
    make_tree(root / "other", {"x.txt": b"x\n"})
    repo = init_local_repo(root)
    relative_id = repo.backup("data", cwd=root, host="fs1", tags=["daily"],
                              time="2025-01-01 00:00:00")
    absolute_id = repo.backup(root / "data", host="fs1")
    multi_id = repo.backup("data", "other", cwd=root, host="other", tags=["weekly"])
    full = {s["short_id"]: s["id"] for s in repo.snapshots()}
    return Estate(root, repo, full[relative_id], full[absolute_id], full[multi_id])


def children() -> list[psutil.Process]:
    found: list[psutil.Process] = psutil.Process().children(recursive=True)
    return found


@pytest.fixture
def no_leftover_children() -> Iterator[None]:
    before = {p.pid for p in children()}
    yield
    deadline = time.monotonic() + 5
    while True:
        left = [p for p in children() if p.pid not in before]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert left == [], [(p.pid, p.status(), p.cmdline()) for p in left]


def fake_restic(tmp_path: Path, body: str, version: str = "restic 0.14.0 compiled with "
                "go1.19.8 on linux/amd64") -> str:
    """A stand-in binary: answers ``version`` with ``version``, runs ``body`` otherwise."""
    script = tmp_path / "fake-restic"
    script.write_text(f'#!/bin/sh\ncase "$*" in\n  *" version"*) echo "{version}"; exit 0;;\n'
                      f"esac\n{body}\n", encoding="utf-8")
    script.chmod(0o755)
    return str(script)


# ---------------------------------------------------------------- pure helpers


def test_parse_time_keeps_microseconds_and_zone() -> None:
    assert parse_time("2026-11-22T11:56:04.060726919Z") == datetime(
        2026, 11, 22, 11, 56, 4, 60726, tzinfo=UTC)
    assert parse_time("2025-01-01T02:00:00+02:00") == datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_time("yesterday")


@pytest.mark.parametrize(("repository", "expected"), [
    ("s3:https://s3.example.com:9000/bucket/restic/fs1",
     S3Location("https://s3.example.com:9000", "bucket", "restic/fs1")),
    ("s3:http://127.0.0.1:5000/bucket", S3Location("http://127.0.0.1:5000", "bucket", "")),
    ("s3:minio.lan/bucket/prefix", S3Location("https://minio.lan", "bucket", "prefix")),
    ("s3:s3.amazonaws.com/acme-restic", S3Location(None, "acme-restic", "")),
    ("s3:https://s3.eu-central-1.amazonaws.com/b/p",
     S3Location(None, "b", "p", "eu-central-1")),
    ("/srv/restic", None),
    ("sftp:user@host:/srv/restic", None),
    ("s3:https://host-only", None),
    ("s3:https://host:99999/bucket", None),
])
def test_parse_s3_repository(repository: str, expected: S3Location | None) -> None:
    assert parse_s3_repository(repository) == expected


def test_redact_repository_masks_url_passwords() -> None:
    assert redact_repository("rest:https://user:s3cr3t@host:8000/repo") == \
        "rest:https://user:***@host:8000/repo"
    assert redact_repository("/srv/restic") == "/srv/restic"


@pytest.mark.parametrize(("roots", "node", "expected"), [
    (["/srv/share"], "/srv/share/q3.xlsx", "q3.xlsx"),
    (["/tmp/x/data"], "/data/sub/a.txt", "sub/a.txt"),  # backed up as relative `data`
    (["/srv/share/q3.xlsx"], "/srv/share/q3.xlsx", "q3.xlsx"),  # one file
    (["/"], "/etc/hosts", "etc/hosts"),
    (["/srv/a", "/srv/b"], "/srv/b/x.txt", "srv/b/x.txt"),
    (["/tmp/x/data", "/tmp/x/other"], "/other/x.txt", "tmp/x/other/x.txt"),
])
def test_relative_path(roots: list[str], node: str, expected: str) -> None:
    assert relative_path(node, roots) == expected


@pytest.mark.parametrize(("code", "stderr", "expected"), [
    (1, "Fatal: wrong password or no key found\n", "wrong password"),
    (12, "", "wrong password"),
    (1, "Fatal: unable to open config file: stat /x/config: no such file or directory\n"
        "Is there a repository at the following location?\n/x\n", "no restic repository"),
    (10, "", "no restic repository"),
    (1, "Fatal: unable to open config file: Stat: The specified bucket does not exist\n",
     "the bucket does not exist"),
    (1, "Fatal: unable to open config file: Stat: The specified key does not exist.\n",
     "no repository config in the bucket"),
    (1, "Fatal: unable to open config file: Stat: Get \"http://127.0.0.1:1/b/?location=\": "
        "dial tcp 127.0.0.1:1: connect: connection refused\n", "is unreachable"),
    (1, "unable to create lock in backend: repository is already locked exclusively by PID "
        "7 on host by root\n", "is locked"),
    (11, "", "is locked"),
    (1, "Fatal: something new\n", "restic snapshots failed"),
])
def test_failures_map_to_one_line(code: int, stderr: str, expected: str) -> None:
    error = classify_failure("snapshots", code, stderr, "/x", "password_file /p")
    assert expected in str(error)
    assert error.exit_code == 3
    assert "\n" not in str(error)


# ---------------------------------------------------------------- typed results


def test_snapshots_are_typed_and_filtered(estate: Estate) -> None:
    restic = estate.restic()
    every = restic.snapshots()
    assert [s.id for s in every] == [estate.relative_id, estate.absolute_id, estate.multi_id]
    assert every[0].time == datetime(2025, 1, 1, tzinfo=UTC)
    assert every[0].tags == ("daily",)
    assert every[0].paths == (str(estate.root / "data"),)
    assert len(every[0].short_id) == 8
    assert [s.id for s in restic.snapshots(host="fs1")] == [estate.relative_id,
                                                            estate.absolute_id]
    assert [s.id for s in restic.snapshots(tags=["weekly"])] == [estate.multi_id]
    assert [s.id for s in restic.snapshots(paths=[str(estate.root / "other")])] == \
        [estate.multi_id]
    assert restic.snapshots(host="nobody") == []


def test_ls_streams_nodes(estate: Estate) -> None:
    nodes = estate.restic().ls(estate.relative_id)
    assert isinstance(nodes, Iterator)
    files = {n.path: n for n in nodes if n.type == "file"}
    assert set(files) == {"/data/a.txt", "/data/sub/big.bin", "/data/sub/with space ü.txt"}
    assert files["/data/sub/big.bin"].size == len(BIG)
    mtime = files["/data/a.txt"].mtime
    assert mtime is not None and mtime.tzinfo is not None


def test_stats_keys_config_version(estate: Estate) -> None:
    restic = estate.restic()
    assert restic.version() >= (0, 14, 0)
    assert restic.stats_restore_size(estate.absolute_id).total_size == sum(map(len,
                                                                             FILES.values()))
    assert restic.stats_raw_data().total_size > len(BIG) // 2
    keys = restic.keys()
    assert keys.count == 1
    assert keys.keys[0].username and keys.keys[0].created
    config = restic.config()
    assert config.version == 2 and config.compression and len(config.id) == 64


# ---------------------------------------------------------------- dump streams


def test_dump_streams_the_exact_bytes(estate: Estate, no_leftover_children: None) -> None:
    stream = estate.restic().dump(estate.absolute_id, str(estate.root / "data/sub/big.bin"))
    digest, reads = hashlib.sha256(), 0
    while chunk := stream.read(256 * 1024):
        digest.update(chunk)
        reads += 1
    assert digest.hexdigest() == hashlib.sha256(BIG).hexdigest()
    assert reads > 1
    assert stream.read(10) == b""
    stream.close()


def test_dump_closed_early_kills_and_reaps(estate: Estate,
                                           no_leftover_children: None) -> None:
    restic = estate.restic()
    stream = restic.dump(estate.relative_id, "/data/sub/big.bin")
    assert len(stream.read(1024)) > 0
    pids = [c.proc.pid for c in restic.children.live()]
    assert len(pids) == 1
    stream.close()
    assert restic.children.live() == []
    assert not psutil.pid_exists(pids[0])  # reaped, not a zombie


def test_closing_the_adapter_stops_every_child(estate: Estate,
                                               no_leftover_children: None) -> None:
    restic = estate.restic()
    streams = [restic.dump(estate.relative_id, "/data/sub/big.bin") for _ in range(3)]
    assert len(restic.children.live()) == 3
    restic.close()
    assert restic.children.live() == []
    with pytest.raises(FileUnreadable, match="closed"):
        while streams[0].read(65536):
            pass


def test_close_from_another_thread_unblocks_a_reader(tmp_path: Path,
                                                      no_leftover_children: None) -> None:
    binary = fake_restic(tmp_path, "printf abc; exec sleep 60")
    stream = Restic(ResticTarget("t", "/r", password_file=str(tmp_path / "fake-restic")),
                    binary=binary).dump("ab" * 32, "/f")
    assert stream.read(3) == b"abc"
    threading.Timer(0.3, stream.close).start()
    started = time.monotonic()
    with pytest.raises(FileUnreadable):
        stream.read(10)
    assert time.monotonic() - started < 5


def test_dump_of_a_missing_path_raises_file_missing(estate: Estate,
                                                     no_leftover_children: None) -> None:
    stream = estate.restic().dump(estate.relative_id, "/data/nope.txt")
    with pytest.raises(FileMissing, match="not found"):
        stream.read(1024)


def test_dump_of_a_corrupted_file_raises_file_unreadable(
        tmp_path: Path, no_leftover_children: None) -> None:
    make_tree(tmp_path / "data", {"big.bin": os.urandom(1024 * 1024)})
    repo = init_local_repo(tmp_path)
    snapshot = repo.backup("data", cwd=tmp_path)
    corrupt_biggest_pack(repo)
    restic = Restic(ResticTarget("t", repo.repository, password_file=str(repo.password_file)))
    stream = restic.dump(snapshot, "/data/big.bin")  # a short id is enough for restic
    with pytest.raises(FileUnreadable, match="ciphertext verification failed"):
        while stream.read(65536):
            pass
    outcome = restic.check("100%")
    assert not outcome.ok
    assert any("does not match" in e for e in outcome.errors)
    assert restic.check("").ok  # the structure alone looks fine


# ---------------------------------------------------------------- the backend


def _client(target: ResticTarget) -> Client:
    return Client("c", 3600.0, 3600.0, Policy(), (target,), Path("c.toml"))


def test_catalog_maps_relative_and_absolute_backups(estate: Estate) -> None:
    for host, expected_id in (("fs1", estate.absolute_id), ("other", estate.multi_id)):
        target = estate.target(host=host)
        backend = ResticBackend(_client(target), target)
        catalog = backend.catalog(Plan(), seed=1, now=now_utc())
        assert catalog.backup_id == expected_id[:8]
        paths = {e.path: e for e in catalog.entries}
        if host == "fs1":
            assert set(paths) == {"a.txt", "sub/big.bin", "sub/with space ü.txt"}
            assert paths["a.txt"].locator == str(estate.root / "data/a.txt")
        else:  # two roots: absolute paths without the leading /
            root = str(estate.root).lstrip("/")
            assert f"{root}/other/x.txt" in paths
            assert paths[f"{root}/other/x.txt"].locator == "/other/x.txt"
        assert catalog.total_files == len(paths)
        assert catalog.total_bytes == sum(e.size for e in catalog.entries)
        with backend.open_file(catalog, next(iter(catalog.entries))) as stream:  # type: ignore[attr-defined]
            assert stream.read(1 << 20)
        backend.close()


def test_catalog_random_within_window_is_seeded(estate: Estate) -> None:
    target = estate.target()
    backend = ResticBackend(_client(target), target)
    snapshots = backend._snapshots()
    now = datetime.now(UTC)
    week = Plan(snapshot="random-within:7d", snapshot_window_seconds=7 * 86400)
    picks = {backend.choose_snapshot(snapshots, week, seed, now).id for seed in range(20)}
    assert picks == {estate.absolute_id, estate.multi_id}  # the 2025 one is outside
    assert backend.choose_snapshot(snapshots, week, 5, now) == \
        backend.choose_snapshot(snapshots, week, 5, now)
    later = now + timedelta(days=30)  # nothing within the window: the newest
    assert backend.choose_snapshot(snapshots, week, 5, later).id == estate.multi_id


# ---------------------------------------------------------------- unavailable targets


def test_wrong_password(estate: Estate, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not-the-password\n")
    restic = Restic(estate.target(password_file=str(wrong)))
    with pytest.raises(TargetUnavailable, match="wrong password .* password_file"):
        restic.snapshots()


def test_missing_repository(tmp_path: Path) -> None:
    (tmp_path / "p").write_text(PASSWORD)
    restic = Restic(ResticTarget("t", str(tmp_path / "nothing"),
                                 password_file=str(tmp_path / "p")))
    with pytest.raises(TargetUnavailable, match="no restic repository at"):
        restic.config()


def test_s3_repository_failures(s3_server: S3Server, tmp_path: Path) -> None:
    # (a refused connection is classified in test_failures_map_to_one_line: with a region
    # set, restic 0.14 retries it for ~13 s before giving up)
    (tmp_path / "p").write_text(PASSWORD)
    s3_server.client().create_bucket(Bucket="adapter-empty")
    cases = {
        f"s3:{s3_server.url}/adapter-no-such-bucket/r": "no restic repository at",
        f"s3:{s3_server.url}/adapter-empty/r": "no restic repository at",
    }
    for repository, expected in cases.items():
        restic = Restic(ResticTarget("t", repository, password_file=str(tmp_path / "p")))
        with pytest.raises(TargetUnavailable, match=expected):
            restic.config()


def test_s3_repository_works(s3_server: S3Server, tmp_path: Path) -> None:
    repo = init_s3_repo(s3_server, "adapter-locked", tmp_path)
    make_tree(tmp_path / "data", {"f.txt": b"on s3\n"})
    snapshot = repo.backup("data", cwd=tmp_path)
    restic = Restic(ResticTarget("t", repo.repository, password_file=str(repo.password_file)))
    assert [s.short_id for s in restic.snapshots()] == [snapshot]
    with restic.dump(snapshot, "/data/f.txt") as stream:
        assert stream.read() == b"on s3\n"


def test_a_server_that_never_answers_times_out(tmp_path: Path,
                                               no_leftover_children: None) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # accepts connections (kernel backlog) and never answers
    try:
        (tmp_path / "p").write_text(PASSWORD)
        repository = f"s3:http://127.0.0.1:{server.getsockname()[1]}/bucket"
        restic = Restic(ResticTarget("t", repository, password_file=str(tmp_path / "p")),
                        timeout=1.5)
        started = time.monotonic()
        with pytest.raises(TargetUnavailable, match="no answer .* within 2s"):
            restic.config()
        assert time.monotonic() - started < 10
    finally:
        server.close()


def test_missing_binary() -> None:
    target = ResticTarget("t", "/r", password_file="/etc/hostname")
    with pytest.raises(TargetUnavailable, match="apt-get install restic"):
        Restic(target, binary="/nonexistent/restic")


def test_password_env_unset_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BC_UNSET_PASSWORD_VAR", raising=False)
    with pytest.raises(TargetUnavailable, match="BC_UNSET_PASSWORD_VAR"):
        Restic(ResticTarget("t", "/r", password_env="BC_UNSET_PASSWORD_VAR"))


def test_inherited_restic_variables_are_ignored(estate: Estate,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTIC_PASSWORD", "inherited-wrong-password")
    monkeypatch.setenv("RESTIC_REPOSITORY", "/nowhere")
    assert len(estate.restic().snapshots()) == 3


def test_password_env_and_command(estate: Estate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BC_TEST_PW", PASSWORD)
    by_env = Restic(estate.target(password_file=None, password_env="BC_TEST_PW"))
    by_command = Restic(estate.target(password_file=None,
                                      password_command=f"cat {estate.repo.password_file}"))
    assert len(by_env.snapshots()) == len(by_command.snapshots()) == 3


# ---------------------------------------------------------------- fake binaries


def _fake(tmp_path: Path, body: str, **kwargs: object) -> Restic:
    binary = fake_restic(tmp_path, body, **kwargs)  # type: ignore[arg-type]
    return Restic(ResticTarget("t", "/r", password_file=binary), binary=binary, timeout=1.0)


def test_garbage_json_is_unavailable(tmp_path: Path) -> None:
    restic = _fake(tmp_path, r"printf '\033[31m{not json'")
    with pytest.raises(TargetUnavailable, match="unexpected output from restic snapshots"):
        restic.snapshots()
    wrong_shape = _fake(tmp_path, """echo '[{"id": 5}]'""")
    with pytest.raises(TargetUnavailable, match="unexpected output"):
        wrong_shape.snapshots()
    garbage_ls = _fake(tmp_path, "echo '<html>'")
    with pytest.raises(TargetUnavailable, match="unexpected output from restic ls"):
        list(garbage_ls.ls("ab" * 32))


@pytest.mark.parametrize(("version", "expected"), [
    ("restic 0.9.6 compiled with go1.13 on linux/amd64", "too old: .*needs 0.14.0 or newer"),
    ("Welcome to BusyBox", "unexpected output from restic version"),
])
def test_unusable_versions(tmp_path: Path, version: str, expected: str) -> None:
    restic = _fake(tmp_path, "echo '[]'", version=version)
    with pytest.raises(TargetUnavailable, match=expected):
        restic.snapshots()


def test_newer_versions_are_accepted(tmp_path: Path) -> None:
    restic = _fake(tmp_path, "echo '[]'", version="restic 0.17.3 compiled with go1.23")
    assert restic.snapshots() == []
    assert restic.version() == (0, 17, 3)


def test_a_hanging_binary_is_killed_with_its_children(tmp_path: Path,
                                                      no_leftover_children: None) -> None:
    restic = _fake(tmp_path, "sleep 60 & sleep 60; wait")
    started = time.monotonic()
    with pytest.raises(TargetUnavailable, match="no answer"):
        restic.config()
    assert time.monotonic() - started < 5


def test_a_dump_that_dies_midway_is_unreadable(tmp_path: Path,
                                               no_leftover_children: None) -> None:
    restic = _fake(tmp_path, "head -c 100000 /dev/zero\n"
                   "echo 'Fatal: Load(<data/1234>) returned error: connection lost' >&2\nexit 1")
    stream = restic.dump("ab" * 32, "/f")
    received = 0
    with pytest.raises(FileUnreadable, match="connection lost"):
        while chunk := stream.read(65536):
            received += len(chunk)
    assert received == 100000


def test_a_dump_that_hangs_is_killed(tmp_path: Path, no_leftover_children: None) -> None:
    restic = _fake(tmp_path, "head -c 1000 /dev/zero; exec sleep 60")
    stream = restic.dump("ab" * 32, "/f")
    with pytest.raises(FileUnreadable, match="no data for 1s after 1000 bytes"):
        while stream.read(65536):
            pass


def test_a_flood_on_stderr_does_not_deadlock(tmp_path: Path) -> None:
    restic = _fake(tmp_path, "head -c 3000000 /dev/zero | tr '\\0' x >&2; echo '[]'")
    assert restic.snapshots() == []
    failing = _fake(tmp_path, "head -c 3000000 /dev/zero | tr '\\0' x >&2; "
                    "echo; echo 'Fatal: it broke' >&2; exit 1")
    with pytest.raises(TargetUnavailable) as caught:
        failing.snapshots()
    assert len(str(caught.value)) < 500


def test_secrets_are_scrubbed_from_restic_messages(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BC_SECRET_PW", "hunter2-distinctive")
    binary = fake_restic(tmp_path, 'echo "Fatal: bad $RESTIC_PASSWORD" >&2; exit 1')
    restic = Restic(ResticTarget("t", "/r", password_env="BC_SECRET_PW"), binary=binary)
    with pytest.raises(TargetUnavailable) as caught:
        restic.config()
    assert "hunter2-distinctive" not in str(caught.value)
    assert "***" in str(caught.value)


# ---------------------------------------------------------------- locks and read-only


def _tree(path: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in path.rglob("*") if p.is_file()}


def test_exclusively_locked_repository_is_checked_without_writing(
        estate: Estate, no_leftover_children: None) -> None:
    """A repository locked by a running prune/backup is still verified, and never written."""
    import subprocess

    locks = Path(estate.repo.repository) / "locks"
    # `key passwd` takes an exclusive lock, then waits for the new password on stdin
    holder = subprocess.Popen(["restic", "key", "passwd"], env=estate.repo.env(),
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not any(locks.glob("*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(locks.glob("*")), "restic key passwd did not take its lock"
        before = _tree(Path(estate.repo.repository))
        target = estate.target()
        backend = ResticBackend(_client(target), target)
        found = {f.id: str(f.status) for f in run_restic_checks(backend.policy_facts(
            Plan(read_data_subset="1%"), datetime.now(UTC)))}
        assert found == {"restic.access": "pass", "restic.keys": "pass",
                         "restic.storage.immutable": "warn",
                         "restic.objects.locked": "warn", "restic.freshness": "pass",
                         "restic.snapshots": "pass", "restic.integrity": "pass"}
        assert backend.inventory(None).to_json()["snapshots"] == 3
        catalog = backend.catalog(Plan(), seed=0, now=now_utc())
        with backend.open_file(catalog, catalog.entries[0]) as stream:  # type: ignore[attr-defined]
            stream.read()
        backend.close()
        assert _tree(Path(estate.repo.repository)) == before
    finally:
        holder.terminate()
        holder.wait(timeout=10)
        for stale in locks.glob("*"):  # in case restic could not clean up
            stale.unlink()
