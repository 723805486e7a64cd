"""Issue 13: a relative ``password_file``, ``source`` or ``manifest`` in a client file is
relative to that client file's directory, not to the directory backupcheck is run from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from backupcheck.config import load_client
from tests.conftest import write_client
from tests.drill_helpers import (
    check_of,
    drill,
    numbered_files,
    plan_file,
    restic_estate,
    restore_of,
)
from tests.restic_helpers import target_toml


def test_relative_paths_resolve_against_the_client_file(tmp_path: Path) -> None:
    targets = tmp_path / "estate" / "targets"
    path = write_client(targets, "acme", 'client = "acme"\nrpo = "26h"\nrto = "4h"\n'
                        '[[targets]]\nname = "r"\nkind = "restic"\nrepository = "/r"\n'
                        'password_file = "../secrets/pw"\nsource = "src"\n'
                        'manifest = "m/latest.parquet"\n'
                        '[[targets]]\nname = "abs"\nkind = "restic"\nrepository = "/r"\n'
                        'password_file = "/etc/pw"\nsource = "/srv/data"\n')
    relative, absolute = load_client(path).targets
    assert Path(relative.password_file or "") == targets.absolute() / "../secrets/pw"
    assert Path(relative.source or "") == targets.absolute() / "src"
    assert (absolute.password_file, absolute.source) == ("/etc/pw", "/srv/data")


def test_a_drill_run_elsewhere_finds_the_password_and_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    estate = tmp_path / "estate"
    repo, source = restic_estate(tmp_path, numbered_files(4, seed=31))
    repo.backup(source)
    (estate / "secrets").mkdir(parents=True)
    shutil.copy(repo.password_file, estate / "secrets" / "pw")
    body = target_toml("acme", repo).replace(f'password_file = "{repo.password_file}"',
                                             'password_file = "../secrets/pw"')
    body += f'source = "{Path("..") / ".." / source.relative_to(tmp_path)}"\n'
    assert "../secrets/pw" in body
    write_client(estate / "targets", "acme", body)
    plan = plan_file(tmp_path / "plans")
    elsewhere = tmp_path / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)

    result = drill(estate / "targets", plan)

    assert result.exit_code == 0, result.stdout + result.stderr
    sample = check_of(result.json(), "acme", "restore.sample")
    assert sample["status"] == "pass", sample
    restore = restore_of(result.json(), "acme")
    # the restored files were compared with the live source found beside the client file
    assert restore["verified"] == restore["sampled"] == 4, restore
    assert Path(restore["estimate_method"]["ground_truth"].removeprefix("live source ")
                ).resolve() == source.resolve()
