"""Issue 13: one client file that cannot be loaded never silences the others. That client is
reported ``error`` with one finding ``config`` (file, line, key); every other client is
checked, and the run exits 2 unless something failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, statuses, write_client
from tests.drill_helpers import numbered_files, plan_file, restic_client, restic_estate

BROKEN = {
    # name: (file body, the line the message names, words it must carry)
    "syntax": ('client = "syntax"\nrpo = "26h"\nrto = "4h"\n[[targets]\nname = "x"\n',
               4, ("TOML syntax error",)),
    "unknown": ('client = "unknown"\nrpo = "26h"\nrto = "4h"\nfrobnicate = 1\n'
                '[[targets]]\nname = "n"\nkind = "restic"\nrepository = "/nowhere"\n'
                'password_env = "X"\n', 4, ("frobnicate", "unknown key")),
    "empty": ('client = "empty"\nrpo = "26h"\nrto = "4h"\n', None, ("[[targets]]",)),
}


def _client(doc: dict[str, Any], name: str) -> dict[str, Any]:
    for client in doc["clients"]:
        # a file whose client name cannot be read is reported under its file name
        if client["client"] in (name, f"{name}.toml"):
            return dict(client)
    raise KeyError(name)


@pytest.mark.parametrize("command", ["verify", "drill", "inventory"])
def test_a_broken_client_file_is_one_config_error_and_the_others_run(
        tmp_path: Path, command: str) -> None:
    targets = tmp_path / "targets"
    repo, source = restic_estate(tmp_path, numbered_files(3, seed=13))
    repo.backup(source)
    restic_client(targets, "healthy", repo, source=source)
    for name, (body, _, _) in BROKEN.items():
        write_client(targets, name, body)
    extra = (["--plan", str(plan_file(tmp_path)), "--no-history"] if command == "drill"
             else [])

    result = run_cli(command, "--targets", str(targets), "--format", "json", *extra)

    assert result.exit_code == 2, result.stdout + result.stderr
    doc = result.json()
    assert doc["status"] == "error"
    healthy = _client(doc, "healthy")
    if command != "inventory":
        assert healthy["status"] in ("pass", "warn"), healthy
        assert statuses(doc, "healthy")
    else:
        assert healthy["targets"][0]["inventory"]["snapshots"] == 1
    for name, (_, line, words) in BROKEN.items():
        client = _client(doc, name)
        assert client["status"] == "error"
        assert client["targets"] == []
        (config,) = client["findings"]
        assert config["id"] == "config" and config["status"] == "error"
        file = str(targets / f"{name}.toml")
        where = f"{file}:{line}: " if line is not None else f"{file}: "
        assert config["message"].startswith(where), config
        for word in words:
            assert word in config["message"], config
        assert config["evidence"]["file"] == file
        assert config["evidence"]["line"] == line
        # and the operator reads it on stderr, one line each
        assert config["message"] in result.stderr


def test_a_failure_elsewhere_still_wins_with_exit_1(tmp_path: Path) -> None:
    targets = tmp_path / "targets"
    repo, source = restic_estate(tmp_path, numbered_files(3, seed=13))
    repo.backup(source)
    restic_client(targets, "stale", repo)
    with (targets / "stale.toml").open("a", encoding="utf-8") as out:
        out.write("[policy]\nmin_snapshots = 5\n")
    write_client(targets, "empty", BROKEN["empty"][0])

    result = run_cli("verify", "--targets", str(targets), "--format", "json")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert _client(result.json(), "empty")["status"] == "error"


def test_the_table_names_the_broken_file(tmp_path: Path) -> None:
    targets = tmp_path / "targets"
    write_client(targets, "unknown", BROKEN["unknown"][0])

    result = run_cli("verify", "--targets", str(targets))

    assert result.exit_code == 2, result.stdout + result.stderr
    assert "config" in result.stdout and "frobnicate" in result.stdout
