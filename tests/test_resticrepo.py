"""Issue 14: the native restic reader against repositories the real restic binary wrote.

Every file's bytes must equal what ``restic dump`` returns (format 1, format 2 with compression
off and max; hostile and non-UTF-8 names, empty, sparse and big files, a deep tree); a wrong
password, a flipped byte and a deleted pack are errors naming what is wrong.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from backupcheck.backends.base import FileUnreadable
from backupcheck.backends.resticrepo import Repository, open_repository, restore_object_keys
from backupcheck.backends.resticrepo.keys import derivations
from backupcheck.errors import TargetUnavailable
from backupcheck.model import ResticTarget
from tests.restic_helpers import RESTIC, Repo, write_password

NAMES = [b"plain.txt", b"with space & 'quote\".txt", b"back\\slash", b"new\nline\ttab",
         "日本語-ünïcødé.txt".encode(), b"caf\xe9-latin1.txt", b"\xff\xfe\x80raw", b"-dash",
         b"\x01control", b"%s %d {}"]


def _write(path: bytes, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)


def _source(base: Path) -> Path:
    src = base / "src"
    src.mkdir()
    root = os.fsencode(src)
    for i, name in enumerate(NAMES):
        _write(root + b"/" + name, f"file {i}\n".encode() * (i + 1))
    _write(root + b"/empty", b"")
    rnd = os.urandom(3 << 20)
    _write(root + b"/big.bin", rnd + rnd[: 1 << 20] + b"z" * (2 << 20))  # several chunks
    _write(root + b"/dupe.bin", rnd)  # blobs shared with big.bin
    with open(root + b"/sparse.img", "wb") as handle:
        handle.truncate(9 << 20)
        handle.seek(5 << 20)
        handle.write(b"island in the zeros")
    deep = root
    for level in range(30):
        deep += b"/d%02d" % level
    os.makedirs(deep)
    _write(deep + b"/bottom \xe9.txt", b"at the bottom\n")
    return src


def _init(base: Path, name: str, *init_args: str) -> Repo:
    repo = Repo(str(base / name), write_password(base / f"{name}.pass", "pw-" + name), "pw-" + name)
    repo.restic("init", *init_args)
    return repo


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Repo]:
    base = tmp_path_factory.mktemp("native")
    src = _source(base)
    repos = {"v1": _init(base, "v1", "--repository-version", "1"),
             "v2-off": _init(base, "v2-off", "--repository-version", "2"),
             "v2-max": _init(base, "v2-max", "--repository-version", "2")}
    compression = {"v1": "auto", "v2-off": "off", "v2-max": "max"}
    for key, repo in repos.items():
        repo.restic("--compression", compression[key], "backup", str(src))
    for repo in repos.values():
        repo.__dict__["source"] = src
    return repos


def _target(repo: Repo, **overrides: object) -> ResticTarget:
    fields: dict[str, object] = {"name": "t", "repository": repo.repository,
                                 "password_file": str(repo.password_file)}
    fields.update(overrides)
    return ResticTarget(**fields)  # type: ignore[arg-type]


def _dump(repo: Repo, snapshot: str, path: bytes) -> bytes:
    done = subprocess.run([RESTIC.encode(), b"--no-lock", b"dump", snapshot.encode(), path],
                          env=repo.env(), capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _files(repository: Repository, snapshot_id: str) -> dict[bytes, bytes]:
    tree = repository.snapshot_tree(snapshot_id)
    found = {}
    for path, node in repository.walk(tree):
        if node.type == "file":
            with repository.open_file(node) as stream:
                found[path] = stream.read()
    return found


@pytest.mark.parametrize("flavour", ["v1", "v2-off", "v2-max"])
def test_every_file_equals_restic_dump(estate: dict[str, Repo], flavour: str) -> None:
    repo = estate[flavour]
    source: Path = repo.__dict__["source"]
    repository = open_repository(_target(repo))
    try:
        assert repository.config.version == (1 if flavour == "v1" else 2)
        (snapshot,) = repository.snapshots()
        files = _files(repository, snapshot.id)
    finally:
        repository.close()
    prefix = os.fsencode(source)
    on_disk = {}
    for top, _, names in os.walk(prefix):
        for name in names:
            with open(os.path.join(top, name), "rb") as handle:
                on_disk[os.path.join(top, name)] = handle.read()
    assert set(files) == set(on_disk)  # every name, byte for byte, non-UTF-8 included
    for path, data in files.items():
        assert data == _dump(repo, snapshot.id, path), path
        assert data == on_disk[path], path


def test_one_key_derivation_opens_a_repository(estate: dict[str, Repo]) -> None:
    before = derivations()
    repository = open_repository(_target(estate["v2-max"]))
    try:
        (snapshot,) = repository.snapshots()
        _files(repository, snapshot.id)
    finally:
        repository.close()
    assert derivations() - before == 1


def test_wrong_password_is_an_access_error(estate: dict[str, Repo], tmp_path: Path) -> None:
    wrong = write_password(tmp_path / "wrong.pass", "not-the-password")
    with pytest.raises(TargetUnavailable, match="wrong password"):
        open_repository(_target(estate["v1"], password_file=str(wrong)))


def _copy(repo: Repo, tmp_path: Path) -> Repo:
    target = tmp_path / "copy"
    shutil.copytree(repo.repository, target)
    for top, dirs, names in os.walk(target):
        for name in dirs + names:
            os.chmod(os.path.join(top, name), 0o700)
    return Repo(str(target), repo.password_file, repo.password)


def _big_file_blob(repository: Repository, snapshot_id: str) -> tuple[str, str]:
    node = next(n for p, n in repository.walk(repository.snapshot_tree(snapshot_id))
                if p.endswith(b"/big.bin"))
    blob = node.content[-1]  # the "z" run: only in big.bin
    return blob, repository.index().blobs[blob].pack


def test_flipped_byte_makes_the_file_unreadable_naming_blob_and_pack(
        estate: dict[str, Repo], tmp_path: Path) -> None:
    repo = _copy(estate["v2-off"], tmp_path)
    repository = open_repository(_target(repo))
    try:
        (snapshot,) = repository.snapshots()
        blob, pack = _big_file_blob(repository, snapshot.id)
        entry = repository.index().blobs[blob]
        pack_path = Path(repo.repository) / "data" / pack[:2] / pack
        raw = bytearray(pack_path.read_bytes())
        raw[entry.offset + entry.length // 2] ^= 0x01
        pack_path.write_bytes(bytes(raw))
        node = next(n for p, n in repository.walk(repository.snapshot_tree(snapshot.id))
                    if p.endswith(b"/big.bin"))
        with pytest.raises(FileUnreadable) as caught:
            with repository.open_file(node) as stream:
                while stream.read(1 << 20):
                    pass
    finally:
        repository.close()
    assert f"blob {blob} in pack {pack}" in str(caught.value)
    assert "MAC" in str(caught.value)


def test_deleted_pack_makes_its_files_unreadable(estate: dict[str, Repo],
                                                  tmp_path: Path) -> None:
    repo = _copy(estate["v2-max"], tmp_path)
    repository = open_repository(_target(repo))
    try:
        (snapshot,) = repository.snapshots()
        blob, pack = _big_file_blob(repository, snapshot.id)
        (Path(repo.repository) / "data" / pack[:2] / pack).unlink()
        node = next(n for p, n in repository.walk(repository.snapshot_tree(snapshot.id))
                    if p.endswith(b"/big.bin"))
        with pytest.raises(FileUnreadable, match=f"in pack {pack}: .*missing"):
            with repository.open_file(node) as stream:
                stream.read()
    finally:
        repository.close()


def test_restore_object_keys_are_exactly_what_a_restore_reads(
        estate: dict[str, Repo], tmp_path: Path) -> None:
    repo = _copy(estate["v1"], tmp_path)
    source: Path = estate["v1"].__dict__["source"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "new.bin").write_bytes(os.urandom(2 << 20))
    repo.restic("backup", str(other))
    repository = open_repository(_target(repo))
    try:
        first = repository.snapshots()[0]
        objects = restore_object_keys(repository, first.id)
    finally:
        repository.close()
    root = Path(repo.repository)
    keys = [key for key, _ in objects]
    assert len(keys) == len(set(keys))
    for key, size in objects:
        assert (root / key).stat().st_size == size, key
    assert "config" in keys and f"snapshots/{first.id}" in keys
    assert {k for k in keys if k.startswith(("keys/", "index/"))} == {
        str(p.relative_to(root)) for d in ("keys", "index") for p in (root / d).iterdir()}
    all_packs = {str(p.relative_to(root)) for p in (root / "data").glob("*/*")}
    packs = {k for k in keys if k.startswith("data/")}
    assert packs < all_packs  # the second snapshot's own pack is not needed

    # a repository of exactly these objects restores the snapshot completely
    alone = tmp_path / "alone"
    for key in keys:
        (alone / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / key, alone / key)
    for name in ("locks", "snapshots", "index", "keys", "data"):
        (alone / name).mkdir(exist_ok=True)
    restored = tmp_path / "restored"
    Repo(str(alone), repo.password_file, repo.password).restic(
        "--no-lock", "restore", first.id, "--target", str(restored))
    assert (restored / source.relative_to("/") / "big.bin").read_bytes() == \
        (source / "big.bin").read_bytes()
