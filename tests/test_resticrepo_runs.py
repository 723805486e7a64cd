"""Issue 14: a drill's sample shares pack reads: each pack region fetched once, handed out once.

Read file by file, 60 small files of one pack are 60 ranged GETs on S3; restic's own restore
reads the pack in a few. These tests count reads against a repository the real restic wrote,
and prove that sharing changes nothing a check sees: every file still equals its source, a
damaged blob still fails only the file that holds it, memory stays bounded, and after the
drill the RTO probe reads each file on its own again.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from backupcheck.backends.base import FileUnreadable
from backupcheck.backends.resticrepo import Repository
from backupcheck.backends.resticrepo.runs import SharedRuns
from backupcheck.backends.resticrepo.storage import LocalStorage
from backupcheck.backends.resticrepo.tree import TreeNode
from tests.drill_helpers import drill, numbered_files, plan_file, restic_client, restic_estate
from tests.restic_helpers import CountingStorage, Repo, init_local_repo, make_tree

FILES = 60


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    base = tmp_path_factory.mktemp("runs")
    rng_files = {f"docs/f{i:02d}.bin": os.urandom(20_000 + 997 * i) for i in range(FILES)}
    source = make_tree(base / "src", rng_files)
    repository = init_local_repo(base)
    repository.restic("backup", str(source))
    repository.__dict__["source"] = source
    return repository


def _files(repository: Repository) -> list[tuple[bytes, TreeNode]]:
    (snapshot,) = repository.snapshots()
    return [(p, n) for p, n in repository.walk(repository.snapshot_tree(snapshot.id))
            if n.type == "file"]


def _read_all(repository: Repository, files: list[tuple[bytes, TreeNode]],
              order: list[int]) -> dict[bytes, bytes | str]:
    out: dict[bytes, bytes | str] = {}
    for i in order:
        path, node = files[i]
        try:
            with repository.open_file(node) as stream:
                out[path] = stream.read()
        except FileUnreadable as exc:
            out[path] = str(exc)
    return out


def test_a_planned_sample_reads_each_pack_region_once(repo: Repo) -> None:
    storage = CountingStorage(repo.repository)
    repository = Repository(storage, repo.password.encode())
    try:
        files = _files(repository)
        order = repository.share_reads([n for _, n in files])
        before = len(storage.reads)
        read = _read_all(repository, files, order)
        planned_reads = [r for r in storage.reads[before:] if r[0] == "data"]
        packs = {repository.index().blobs[b].pack for _, n in files for b in n.content}
        repository.end_shared_reads()
        before = len(storage.reads)
        again = _read_all(repository, files, list(range(len(files))))
        own_reads = [r for r in storage.reads[before:] if r[0] == "data"]
    finally:
        repository.close()
    source: Path = repo.source  # type: ignore[attr-defined]
    expected = {os.fsencode(p): p.read_bytes() for p in source.rglob("*.bin")}
    assert {p.rsplit(b"/src/", 1)[1]: d for p, d in read.items()} == \
        {p.rsplit(b"/src/", 1)[1]: d for p, d in expected.items()}
    assert again == read
    assert sorted(order) == list(range(FILES))
    assert len(planned_reads) <= 2 * len(packs) < FILES, (len(planned_reads), len(packs))
    # after the plan: one read per file again (what the RTO probe must time)
    assert len(own_reads) == FILES


def test_a_damaged_blob_fails_only_its_own_file(repo: Repo, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(repo.repository, copy)
    repository = Repository(LocalStorage(copy), repo.password.encode())
    try:
        files = _files(repository)
        victim_path, victim = files[FILES // 2]
        entry = repository.index().blobs[victim.content[0]]
        pack = copy / "data" / entry.pack[:2] / entry.pack
        os.chmod(pack, 0o600)
        raw = bytearray(pack.read_bytes())
        raw[entry.offset + 20] ^= 0x01
        pack.write_bytes(bytes(raw))
        read = _read_all(repository, files, repository.share_reads([n for _, n in files]))
    finally:
        repository.close()
    failed = {p: r for p, r in read.items() if isinstance(r, str)}
    assert list(failed) == [victim_path]
    assert f"blob {victim.content[0]} in pack {entry.pack}: MAC does not match" in \
        failed[victim_path]


def test_held_bytes_stay_within_the_limit_and_evicted_uses_read_on_their_own(
        repo: Repo) -> None:
    storage = CountingStorage(repo.repository)
    repository = Repository(storage, repo.password.encode())
    try:
        files = _files(repository)
        index = repository.index()
        planned = [(b, index.blobs[b]) for _, n in files for b in n.content]
        runs = SharedRuns(storage, planned, run_max=200_000, held_max=300_000)
        # take one blob of every run first: the runs cannot all be held at once
        firsts = {runs._run_of[b].position: (b, e) for b, e in reversed(planned)}
        first_taken = [runs.take(*firsts[p]) for p in sorted(firsts)]
        assert all(t is not None for t in first_taken)
        assert runs._held_bytes <= 300_000
        assert runs.fetches > 1
        rest = list(planned)
        for use in firsts.values():
            rest.remove(use)
        taken = [runs.take(b, e) for b, e in rest]
        got = [t for t in taken if t is not None]
        assert len(got) < len(rest)  # evicted runs' later uses read on their own
        for (_, entry), stored in zip(rest, taken, strict=True):
            if stored is not None:
                assert len(stored) == entry.length
        # a use not planned, or planned and already taken, is never served from a run
        blob_id, entry = planned[0]
        assert runs.take(blob_id, entry) is None
        runs.release()
        assert runs._held_bytes == 0
    finally:
        repository.close()


def test_a_run_that_cannot_be_fetched_leaves_each_file_its_own_error(
        repo: Repo, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(repo.repository, copy)
    repository = Repository(LocalStorage(copy), repo.password.encode())
    try:
        files = _files(repository)
        order = repository.share_reads([n for _, n in files])
        entry = repository.index().blobs[files[0][1].content[0]]
        (copy / "data" / entry.pack[:2] / entry.pack).unlink()
        read = _read_all(repository, files, order)
    finally:
        repository.close()
    lost = [p for p, r in read.items() if isinstance(r, str)]
    assert lost
    for path in lost:
        assert f"in pack {entry.pack}: pack file data/{entry.pack[:2]}/{entry.pack} is " \
               "missing" in str(read[path])


def test_the_drill_verifies_every_sampled_file_with_shared_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, source = restic_estate(tmp_path / "fs1", numbered_files(40, seed=7))
    repo.backup(source)
    restic_client(tmp_path / "targets", "fs1", repo, source=source)
    reads: list[str] = []
    original = LocalStorage.read

    def counted(self: LocalStorage, kind: str, name: str, offset: int = 0,
                length: int | None = None) -> bytes:
        reads.append(kind)
        return original(self, kind, name, offset, length)

    monkeypatch.setattr(LocalStorage, "read", counted)
    result = drill(tmp_path / "targets", plan_file(tmp_path, files=40))
    doc = result.json()
    restore = doc["clients"][0]["targets"][0]["restore"]
    assert restore["sampled"] == 40 and restore["verified"] == 40, restore
    assert result.exit_code == 0, result.stdout + result.stderr
    # 40 files in one or two packs: a few shared reads, then the probe's own reads
    # (at most 4 alone + restore_streams together, each a file of one blob)
    assert reads.count("data") < 40, reads.count("data")
