"""Issue 13: bad input is one clear line and exit 2, never an internal error after the report:
``--seed`` outside what a history can record, and a manifest path of megabytes."""

from __future__ import annotations

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
