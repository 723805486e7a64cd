"""Issue 14: ``inventory``'s restic figures come from the native reader, not ``restic stats``.

``raw_data_bytes`` is ``restic stats --mode raw-data`` (every blob of every snapshot, counted
once, at its stored size) and ``size_bytes`` is ``restic stats --mode restore-size <newest>``
(every node of the snapshot, a hard-linked file once). Both are compared with what the real
restic says for the same repository, format 1 and format 2 (compressed, ``auto`` and ``max``;
on local disk and on the S3 server),
on a tree with hard links, an empty file, an empty directory, a symlink, incompressible and
compressible data, and snapshots that share blobs and trees. The inventory itself must start
no restic process for stats and derive the key once; ``reader = "restic"`` keeps the binary.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backupcheck.backends.restic_native import NativeReader
from backupcheck.backends.resticrepo.keys import derivations
from backupcheck.config import load_client
from backupcheck.model import ResticTarget
from tests.conftest import S3Server, run_cli, target_of, write_client
from tests.restic_helpers import (
    PASSWORD,
    RESTIC,
    Repo,
    init_s3_repo,
    make_tree,
    target_toml,
    write_password,
)

FORMATS = ("v1", "v2", "s3-v2")


@dataclass
class Estate:
    root: Path
    repos: dict[str, Repo]
    snapshots: dict[str, list[str]]  # full ids, oldest first


def _source(root: Path) -> Path:
    rng = random.Random(14)
    source = make_tree(root / "data", {
        "a.txt": b"alpha\n",
        "random.bin": rng.randbytes(2_500_000),  # several chunks, incompressible
        "text/log.txt": b"the same line again and again\n" * 60_000,  # compresses well
        "text/empty": b"",
        "copy/a.txt": b"alpha\n",  # the same content as a.txt: one blob, two files
    })
    (source / "empty-dir").mkdir()
    os.link(source / "random.bin", source / "text" / "hard-link.bin")  # counted once
    os.symlink("a.txt", source / "link-to-a")
    return source


def _repo(root: Path, name: str, version: str) -> Repo:
    repo = Repo(str(root / name), write_password(root / f"{name}.pass"), PASSWORD)
    repo.restic("init", "--repository-version", version)
    return repo


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Estate:
    root = tmp_path_factory.mktemp("native-stats")
    source = _source(root / "src")
    repos = {"v1": _repo(root, "v1", "1"), "v2": _repo(root, "v2", "2"),
             "s3-v2": init_s3_repo(s3_server, "native-stats", root / "s3", prefix="repo",
                                   lock_mode=None)}
    for key, repo in repos.items():
        repo.backup("data", cwd=source.parent, host="other-host", time="2025-01-01 00:00:00")
        (source / "later.bin").write_bytes(random.Random(key).randbytes(300_000))
        compression = ["--compression", "max"] if key != "v1" else []
        repo.restic(*compression, "backup", "--host", "main-host", "data", cwd=source.parent)
        (source / "later.bin").unlink()
    return Estate(root, repos, {k: [s["id"] for s in r.snapshots()] for k, r in repos.items()})


def _restic_stats(repo: Repo, *args: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(repo.restic("stats", "--json", "--no-lock", *args).stdout)
    return doc


def _target(estate: Estate, key: str, extra: str = "") -> ResticTarget:
    path = write_client(estate.root / "targets", f"stats-{key}",
                        target_toml(f"stats-{key}", estate.repos[key], extra=extra))
    target = load_client(path).targets[0]
    assert isinstance(target, ResticTarget)
    return target


@pytest.fixture(params=FORMATS)
def native(request: pytest.FixtureRequest, estate: Estate) -> Iterator[tuple[str, NativeReader]]:
    reader = NativeReader(_target(estate, request.param))
    try:
        yield request.param, reader
    finally:
        reader.close()


def test_raw_data_is_what_restic_stats_says(estate: Estate,
                                            native: tuple[str, NativeReader]) -> None:
    key, reader = native
    restic = _restic_stats(estate.repos[key], "--mode", "raw-data")
    ours = reader.stats_raw_data()
    assert (ours.total_size, ours.total_blob_count) == \
        (restic["total_size"], restic["total_blob_count"]), key
    assert ours.total_size > 2_500_000 if key == "v1" else ours.total_size > 0


def test_restore_size_is_what_restic_stats_says(estate: Estate,
                                                native: tuple[str, NativeReader]) -> None:
    key, reader = native
    for snapshot in estate.snapshots[key]:
        restic = _restic_stats(estate.repos[key], "--mode", "restore-size", snapshot)
        ours = reader.stats_restore_size(snapshot)
        assert (ours.total_size, ours.total_file_count) == \
            (restic["total_size"], restic["total_file_count"]), (key, snapshot)
    # the hard link is one file's worth: a + random + log + copy/a (+ later in the newest)
    assert ours.total_size == 6 + 2_500_000 + 30 * 60_000 + 6 + 300_000


def _inventory(estate: Estate, key: str, reader: str,
               mp: pytest.MonkeyPatch) -> tuple[dict[str, Any], list[str], int]:
    """The inventory of one target, the argv of every restic it started, its derivations."""
    name = f"inv-{key}-{reader}"
    targets = estate.root / f"targets-{name}"
    write_client(targets, name, target_toml(name, estate.repos[key],
                                            extra=f'reader = "{reader}"\n'))
    bin_dir, log = estate.root / f"bin-{name}", estate.root / f"argv-{name}.log"
    bin_dir.mkdir()
    log.touch()
    wrapper = bin_dir / "restic"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{RESTIC}" "$@"\n',
                       encoding="utf-8")
    wrapper.chmod(0o755)
    mp.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    before = derivations()
    result = run_cli("inventory", "--targets", str(targets), "--format", "json")
    spent = derivations() - before
    assert result.exit_code == 0, result.stdout + result.stderr
    summary: dict[str, Any] = target_of(result.json(), name)["inventory"]
    return summary, log.read_text(encoding="utf-8").splitlines(), spent


@pytest.mark.parametrize("key", FORMATS)
def test_inventory_reads_stats_natively_with_one_key_derivation(
        estate: Estate, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    summary, argv, spent = _inventory(estate, key, "auto", monkeypatch)
    assert not [a for a in argv if " stats " in f" {a} "], argv
    assert spent == 1
    repo = estate.repos[key]
    newest = estate.snapshots[key][-1]
    assert summary["raw_data_bytes"] == _restic_stats(repo, "--mode", "raw-data")["total_size"]
    assert summary["size_bytes"] == \
        _restic_stats(repo, "--mode", "restore-size", newest)["total_size"]


def test_reader_restic_keeps_restic_stats(estate: Estate,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    summary, argv, spent = _inventory(estate, "v2", "restic", monkeypatch)
    assert spent == 0
    stats = [a for a in argv if " stats " in f" {a} "]
    assert len(stats) == 2 and any("raw-data" in a for a in stats), argv
    native, _, _ = _inventory(estate, "v2", "native", monkeypatch)
    assert (summary["raw_data_bytes"], summary["size_bytes"]) == \
        (native["raw_data_bytes"], native["size_bytes"])
