"""Issue 14: the native reader fetches neighbouring blobs together, and trees a pack at a time.

On S3 every request has a fixed cost, so a file of 40 blobs read with 40 ranged GETs, or a walk
of a 40-level tree with 40 GETs, is what made the reader slower than ``restic restore``. These
tests count the reads the reader makes of a repository the real restic wrote, and prove the
bytes and the error messages did not change: every blob is still verified on its own, and a
damaged blob in the middle of one read is named.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from backupcheck.backends.base import FileUnreadable
from backupcheck.backends.resticrepo import Repository
from backupcheck.backends.resticrepo.blobs import GROUP_MAX, group_reads
from backupcheck.backends.resticrepo.index import BlobEntry
from tests.restic_helpers import RESTIC, CountingStorage, Repo, init_local_repo

DEPTH = 40
BIG = 40 << 20


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    base = tmp_path_factory.mktemp("reads")
    src = base / "src"
    deep = src
    for level in range(DEPTH):
        deep = deep / f"level{level:02d}"
        deep.mkdir(parents=True)
        (deep / "note.txt").write_text(f"level {level}\n")
    (src / "big.bin").write_bytes(os.urandom(BIG))
    repository = init_local_repo(base)
    repository.restic("backup", str(src))
    repository.__dict__["source"] = src
    return repository


def _open(repo: Repo, root: str | None = None) -> tuple[Repository, CountingStorage]:
    storage = CountingStorage(root or repo.repository)
    return Repository(storage, repo.password.encode()), storage


def _big(repository: Repository) -> tuple[bytes, object]:
    (snapshot,) = repository.snapshots()
    return next((p, n) for p, n in repository.walk(repository.snapshot_tree(snapshot.id))
                if p.endswith(b"/big.bin"))


def test_a_file_of_many_blobs_is_read_with_few_ranged_reads(repo: Repo) -> None:
    repository, storage = _open(repo)
    try:
        path, node = _big(repository)
        before = len(storage.reads)
        with repository.open_file(node) as stream:  # type: ignore[attr-defined]
            data = stream.read()
        reads = [r for r in storage.reads[before:] if r[0] == "data"]
        blobs = len(node.content)  # type: ignore[attr-defined]
        packs = {repository.index().blobs[b].pack for b in node.content}  # type: ignore[attr-defined]
    finally:
        repository.close()
    dumped = subprocess.run([RESTIC, "--no-lock", "dump", "latest", os.fsdecode(path)],
                            env=repo.env(), capture_output=True, timeout=120, check=True).stdout
    assert data == dumped == (repo.source / "big.bin").read_bytes()  # type: ignore[attr-defined]
    assert blobs >= 20, f"the test file should span many blobs, got {blobs}"
    # one read per run of neighbouring blobs: at most one per 8 MiB and one more per pack
    assert len(reads) <= BIG // GROUP_MAX + len(packs) + 1, (len(reads), blobs, len(packs))
    assert len(reads) < blobs / 2
    assert all(length is not None and length <= GROUP_MAX for _, _, length in reads)


def test_a_deep_tree_is_walked_with_one_read_per_tree_pack(repo: Repo) -> None:
    repository, storage = _open(repo)
    try:
        (snapshot,) = repository.snapshots()
        before = len(storage.reads)
        paths = [p for p, _ in repository.walk(repository.snapshot_tree(snapshot.id))]
        reads = [r for r in storage.reads[before:] if r[0] == "data"]
        tree_packs = {e.pack for e in repository.index().blobs.values() if e.type == "tree"}
    finally:
        repository.close()
    assert sum(p.endswith(b"/note.txt") for p in paths) == DEPTH
    assert len(reads) <= len(tree_packs) < DEPTH, (len(reads), len(tree_packs))


def test_a_damaged_blob_inside_one_read_is_named(repo: Repo, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(repo.repository, copy)
    repository, storage = _open(repo, str(copy))
    try:
        _, node = _big(repository)
        content = node.content  # type: ignore[attr-defined]
        entries = [repository.index().blobs[b] for b in content]
        groups = group_reads(list(zip(content, entries, strict=True)))
        group = next(g for g in groups if len(g) >= 3)
        victim, entry = group[1]  # a blob in the middle of one ranged read
        pack_path = copy / "data" / entry.pack[:2] / entry.pack
        os.chmod(pack_path, 0o600)
        raw = bytearray(pack_path.read_bytes())
        raw[entry.offset + entry.length // 2] ^= 0x40
        pack_path.write_bytes(bytes(raw))
        handed: list[int] = []
        with pytest.raises(FileUnreadable) as caught:
            with repository.open_file(node) as stream:
                while chunk := stream.read(1 << 16):
                    handed.append(len(chunk))
    finally:
        repository.close()
    assert f"blob {victim} in pack {entry.pack}: MAC does not match" in str(caught.value)
    before_victim = sum(e.length for e in entries[:content.index(victim)])
    assert sum(handed) < before_victim + entry.length


def _entry(pack: str, offset: int, length: int) -> BlobEntry:
    return BlobEntry(pack, "data", offset, length)


def _ids(runs: list[list[tuple[str, BlobEntry]]]) -> list[list[str]]:
    return [[blob for blob, _ in run] for run in runs]


def test_runs_break_at_a_new_pack_a_gap_and_the_size_limit() -> None:
    blobs = [("a", _entry("p1", 0, 100)), ("b", _entry("p1", 100, 100)),
             ("c", _entry("p2", 0, 100)),                 # another pack
             ("d", _entry("p2", 1500, 100)),              # 1,400 unused bytes between
             ("e", _entry("p2", 1700, 100)),              # 100 unused: within the gap
             ("f", _entry("p2", 1800, 300)),
             ("g", _entry("p2", 2100, 200))]              # the span would pass 600 bytes
    assert _ids(group_reads(blobs, limit=600, gap=150)) == [["a", "b"], ["c"], ["d", "e", "f"],
                                                            ["g"]]
    assert group_reads([]) == []


def test_neighbours_stored_swapped_share_a_read_and_repeats_are_kept() -> None:
    # restic's concurrent savers store a file's chunks nearly, not exactly, in order
    swapped = [("a", _entry("p", 0, 100)), ("c", _entry("p", 200, 100)),
               ("b", _entry("p", 100, 100)), ("d", _entry("p", 300, 100))]
    assert _ids(group_reads(swapped, limit=1000, gap=0)) == [["a", "c", "b", "d"]]
    # the same blob twice (a file of repeated content) is handed out twice, never skipped
    twice = [("x", _entry("p", 0, 10)), ("x", _entry("p", 0, 10))]
    assert _ids(group_reads(twice)) == [["x", "x"]]
