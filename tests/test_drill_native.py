"""Issue 14: the drill reads restic repositories natively (``reader = auto``).

One key derivation per target however many files are sampled; ``reader = "restic"`` keeps the
restic binary's path (and derives nothing here); a damaged blob makes that file ``unreadable``
naming blob and pack; a wrong password is a ``restic.access`` error.
"""

from __future__ import annotations

import os
from pathlib import Path

from backupcheck.backends.resticrepo.keys import derivations
from tests.drill_helpers import (
    check_of,
    drill,
    numbered_files,
    plan_file,
    restic_client,
    restic_estate,
    restore_of,
)
from tests.restic_helpers import write_password


def _estate(root: Path, name: str, reader: str = "auto") -> tuple[Path, Path]:
    repo, source = restic_estate(root / name, numbered_files(8, seed=len(name)))
    repo.backup(source)
    restic_client(root / "targets", name, repo, source=source,
                  extra=f'reader = "{reader}"\n')
    return Path(repo.repository), source


def test_a_drill_derives_the_key_once_per_target(tmp_path: Path) -> None:
    _estate(tmp_path, "fs1")
    _estate(tmp_path, "fs2")
    before = derivations()
    result = drill(tmp_path / "targets", plan_file(tmp_path))
    assert derivations() - before == 2  # two targets, 16 files sampled
    doc = result.json()
    for name in ("fs1", "fs2"):
        restore = restore_of(doc, name)
        assert restore["sampled"] == 8 and restore["verified"] == 8, restore
        assert check_of(doc, name, "restic.access")["status"] == "pass"
    assert result.exit_code == 0, result.stdout + result.stderr


def test_reader_restic_keeps_the_restic_binary(tmp_path: Path) -> None:
    _estate(tmp_path, "fs1", reader="restic")
    before = derivations()
    result = drill(tmp_path / "targets", plan_file(tmp_path))
    assert derivations() == before
    restore = restore_of(result.json(), "fs1")
    assert restore["verified"] == 8, restore
    assert result.exit_code == 0, result.stdout + result.stderr


def test_a_flipped_byte_makes_that_file_unreadable_naming_blob_and_pack(
        tmp_path: Path) -> None:
    repo, _ = _estate(tmp_path, "fs1")
    packs = sorted((repo / "data").glob("*/*"), key=lambda p: p.stat().st_size)
    # the biggest pack holds the data blobs (the tree pack is small)
    pack = packs[-1]
    os.chmod(pack, 0o600)
    raw = bytearray(pack.read_bytes())
    raw[40] ^= 0xFF  # inside the first blob
    pack.write_bytes(bytes(raw))
    result = drill(tmp_path / "targets", plan_file(tmp_path))
    doc = result.json()
    restore = restore_of(doc, "fs1")
    unreadable = [p for p in restore["problems"] if p["reason"] == "unreadable"]
    assert len(unreadable) == 1, restore["problems"]
    text = str(unreadable[0]) + str(restore.get("files"))
    assert f"in pack {pack.name}" in text and "blob " in text, text
    assert check_of(doc, "fs1", "restore.sample")["status"] == "fail"
    assert result.exit_code == 1


def test_a_wrong_password_is_a_restic_access_error(tmp_path: Path) -> None:
    repo, source = restic_estate(tmp_path / "fs1", numbered_files(2))
    repo.backup(source)
    repo.password_file = write_password(tmp_path / "wrong.pass", "wrong-password")
    restic_client(tmp_path / "targets", "fs1", repo, extra='reader = "native"\n')
    result = drill(tmp_path / "targets", plan_file(tmp_path))
    access = check_of(result.json(), "fs1", "restic.access")
    assert access["status"] == "error" and "wrong password" in access["message"], access
    assert result.exit_code == 3


def test_reader_key_is_validated(tmp_path: Path) -> None:
    import pytest

    from backupcheck.config import load_client
    from backupcheck.errors import ConfigError

    def client(repository: str, reader: str) -> Path:
        path = tmp_path / f"c{abs(hash((repository, reader)))}.toml"
        path.write_text(f'client = "c"\nrpo = "26h"\nrto = "4h"\n[[targets]]\nname = "t"\n'
                        f'kind = "restic"\nrepository = "{repository}"\n'
                        f'password_env = "X"\nreader = "{reader}"\n', encoding="utf-8")
        return path

    target = load_client(client("/srv/restic", "native")).targets[0]
    assert target.reader == "native"
    with pytest.raises(ConfigError, match="reader.*native reads only local"):
        load_client(client("sftp:host:/srv/restic", "native"))
    with pytest.raises(ConfigError, match="reader.*must be one of"):
        load_client(client("/srv/restic", "fast"))


def test_the_backend_exposes_the_exact_restore_objects(tmp_path: Path) -> None:
    from backupcheck.backends.restic_backend import ResticBackend
    from backupcheck.config import load_client

    repo, _ = _estate(tmp_path, "fs1")
    client = load_client(tmp_path / "targets" / "fs1.toml")
    backend = ResticBackend(client, client.targets[0])  # type: ignore[arg-type]
    try:
        (snapshot,) = backend._snapshots()
        objects = backend.restore_objects(snapshot.id)
    finally:
        backend.close()
    assert objects is not None
    on_disk = {str(p.relative_to(repo)): p.stat().st_size for p in repo.rglob("*")
               if p.is_file() and not p.relative_to(repo).parts[0] == "locks"}
    assert dict(objects) == on_disk  # one snapshot: everything but locks is needed
