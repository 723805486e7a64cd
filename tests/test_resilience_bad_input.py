"""Issue 13: bad input is one clear line and exit 2, never an internal error after the report:
``--seed`` outside what a history can record, and a manifest path of megabytes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backupcheck.history import HistoryStore
from tests.conftest import run_cli
from tests.drill_helpers import drill, numbered_files, plan_file, restic_client, restic_estate

TOO_BIG = str(2**64)
LARGEST = 2**63 - 1  # the history's seed column is int64


def _estate(tmp_path: Path) -> Path:
    repo, source = restic_estate(tmp_path, numbered_files(3, seed=41))
    repo.backup(source)
    restic_client(tmp_path / "targets", "acme", repo)
    return tmp_path / "targets"


def _one_line_usage_error(result: object, word: str) -> str:
    exit_code, stdout, stderr = (getattr(result, k) for k in ("exit_code", "stdout", "stderr"))
    assert exit_code == 2, (stdout, stderr)
    assert stdout == "", "nothing is reported before the usage error"
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert word in lines[0] and "internal error" not in lines[0], lines[0]
    return str(lines[0])


@pytest.mark.parametrize("seed", [TOO_BIG, "-1", str(2**63)])
def test_a_seed_out_of_range_is_a_usage_error(tmp_path: Path, seed: str) -> None:
    targets = _estate(tmp_path)
    history = tmp_path / "history"
    result = drill(targets, plan_file(tmp_path), history, "--seed", seed)
    _one_line_usage_error(result, "--seed")
    assert not (history / "runs").exists() or not HistoryStore(history).read_runs().num_rows
    _one_line_usage_error(run_cli("verify", "--targets", str(targets), "--seed", seed),
                          "--seed")


def test_the_largest_seed_is_recorded(tmp_path: Path) -> None:
    targets = _estate(tmp_path)
    history = tmp_path / "history"
    result = drill(targets, plan_file(tmp_path), history, "--seed", str(LARGEST))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert HistoryStore(history).read_runs().column("seed").to_pylist() == [LARGEST]


def test_audit_refuses_a_seed_out_of_range(tmp_path: Path) -> None:
    targets = _estate(tmp_path)
    result = run_cli("audit", "--targets", str(targets), "--client", "acme", "--out",
                     str(tmp_path / "pack"), "--run-drill", "--seed", TOO_BIG)
    _one_line_usage_error(result, "--seed")
    assert not (tmp_path / "pack").exists()


@pytest.mark.parametrize(("command", "key", "size"), [
    ("verify", "manifest", 4 * 2**20), ("drill", "manifest", 4 * 2**20),
    ("drill", "manifest", 5000), ("verify", "source", 4 * 2**20),
    ("verify", "password_file", 5000)])
def test_a_path_of_megabytes_is_one_line_naming_the_key(
        tmp_path: Path, key: str, size: int, command: str) -> None:
    targets = _estate(tmp_path)
    huge = "/" + "m" * (size - 1)
    body = (targets / "acme.toml").read_text().replace("acme", "huge")
    if key == "password_file":
        body = re.sub(r'password_file = ".*"', f'password_file = "{huge}"', body)
    else:
        body += f'{key} = "{huge}"\n'
    (targets / "huge.toml").write_text(body, encoding="utf-8")
    extra = ["--plan", str(plan_file(tmp_path)), "--no-history"] if command == "drill" else []

    result = run_cli(command, "--targets", str(targets), "--format", "json", *extra)

    assert result.exit_code == 2, result.stderr[:2000]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 500, result.stderr[:2000]
    assert f"targets[0].{key}:" in lines[0] and "internal error" not in lines[0], lines[0]
    assert "m" * 100 not in result.stdout, "the path is not copied into the report"
    doc = result.json()
    (acme,) = [c for c in doc["clients"] if c["client"] == "acme"]
    assert acme["status"] in ("pass", "warn") and acme["targets"], acme
