"""Issue 14: the native reader on the loopback S3 server and behind a loopback REST server.

Both repositories are written by the real restic binary; the tool must read every file back
byte for byte, with one key derivation, and send nothing but reads.
"""

from __future__ import annotations

import os
from pathlib import Path

from backupcheck.backends.resticrepo import open_repository, restore_object_keys
from backupcheck.backends.resticrepo.keys import derivations
from backupcheck.model import ResticTarget
from tests.conftest import S3Server, write_client
from tests.drill_helpers import drill, plan_file, restore_of
from tests.restic_helpers import Repo, init_s3_repo, make_tree, target_toml, write_password
from tests.restserver import rest_server


def _files() -> dict[str, bytes]:
    return {"a/small.txt": b"hello\n", "a/empty": b"", "b/big.bin": os.urandom(5 << 20),
            "b/c/d/deep.txt": b"deep\n" * 1000}


def _read_all(target: ResticTarget) -> dict[str, bytes]:
    repository = open_repository(target)
    try:
        (snapshot,) = repository.snapshots()
        found = {}
        for path, node in repository.walk(repository.snapshot_tree(snapshot.id)):
            if node.type == "file":
                with repository.open_file(node) as stream:
                    found[os.fsdecode(path)] = stream.read()
        objects = restore_object_keys(repository, snapshot.id)
    finally:
        repository.close()
    found["<objects>"] = repr(objects).encode()
    return found


def _expected(source: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in source.rglob("*") if p.is_file()}


def test_s3_repository_reads_back_byte_for_byte(s3_server: S3Server, tmp_path: Path) -> None:
    repo = init_s3_repo(s3_server, "native-s3", tmp_path, prefix="restic/fs1")
    source = make_tree(tmp_path / "src", _files())
    repo.backup(source)
    target = ResticTarget(name="s3", repository=repo.repository,
                          password_file=str(repo.password_file))
    before = derivations()
    found = _read_all(target)
    assert derivations() - before == 1
    objects = found.pop("<objects>").decode()
    assert found == _expected(source)
    assert "'restic/fs1/config'" in objects and "'restic/fs1/data/" in objects


def test_s3_drill_uses_one_key_derivation(s3_server: S3Server, tmp_path: Path) -> None:
    repo = init_s3_repo(s3_server, "native-s3-drill", tmp_path, prefix="r")
    source = make_tree(tmp_path / "src", _files())
    repo.backup(source)
    env = {"AWS_DEFAULT_REGION": "us-east-1"}
    write_client(tmp_path / "targets", "fs1", target_toml("fs1", repo, env=env)
                 + f'source = "{source}"\n')
    before = derivations()
    result = drill(tmp_path / "targets", plan_file(tmp_path))
    assert derivations() - before == 1
    restore = restore_of(result.json(), "fs1")
    assert restore["verified"] == 4, restore


def test_rest_repository_reads_back_byte_for_byte(tmp_path: Path) -> None:
    with rest_server(tmp_path / "served") as server:
        repo = Repo(f"rest:{server.url}", write_password(tmp_path / "rest.pass", "rest-pw"),
                    "rest-pw")
        repo.restic("init")
        source = make_tree(tmp_path / "src", _files())
        repo.backup(source)
        server.requests.clear()
        target = ResticTarget(name="rest", repository=repo.repository,
                              password_file=str(repo.password_file))
        found = _read_all(target)
        methods = {method for method, _, _ in server.requests}
    objects = found.pop("<objects>").decode()
    assert found == _expected(source)
    assert methods == {"GET"}, server.requests  # the tool never writes, never locks
    assert "'config'" in objects and "'data/" in objects
