"""Issue 13: a drill without a plan file says so on stderr and the report names its plan.

The default plan path (``restore_tests/weekly.toml``, relative to the current directory) is
absent: the drill runs on the built-in defaults, says so in one stderr line, and the JSON
report carries ``"plan": {"file": null, "name": "weekly"}``. With a plan file, the report
names that file and the plan's name, and nothing is said.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.drill_helpers import numbered_files, plan_file, restic_client, restic_estate

NOTICE = "no plan file restore_tests/weekly.toml: using the built-in defaults"


def _targets(root: Path) -> Path:
    repo, source = restic_estate(root / "fs1", numbered_files(3))
    repo.backup(source)
    restic_client(root / "targets", "fs1", repo, source=source)
    return root / "targets"


def _drill(targets: Path, *extra: str) -> tuple[dict[str, object], str, int]:
    result = run_cli("drill", "--targets", str(targets), "--format", "json", "--no-history",
                     *extra)
    return json.loads(result.stdout), result.stderr, result.exit_code


def test_a_drill_without_a_plan_file_says_so_and_reports_the_built_in_plan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    targets = _targets(tmp_path)
    monkeypatch.chdir(tmp_path)  # no restore_tests/ here
    doc, stderr, code = _drill(targets)
    assert NOTICE in stderr, stderr
    assert doc["plan"] == {"file": None, "name": "weekly"}
    assert code == 0, stderr


def test_the_default_plan_file_is_named_in_the_report_without_a_notice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    targets = _targets(tmp_path)
    (tmp_path / "restore_tests").mkdir()
    (tmp_path / "restore_tests" / "weekly.toml").write_text('name = "house-weekly"\n',
                                                            encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    doc, stderr, code = _drill(targets)
    assert "no plan file" not in stderr, stderr
    assert doc["plan"] == {"file": "restore_tests/weekly.toml", "name": "house-weekly"}
    assert code == 0, stderr


def test_an_explicit_plan_is_named_in_the_report(tmp_path: Path) -> None:
    targets = _targets(tmp_path)
    plan = plan_file(tmp_path / "plans")
    doc, stderr, code = _drill(targets, "--plan", str(plan))
    assert "no plan file" not in stderr, stderr
    assert doc["plan"] == {"file": str(plan), "name": "issue16"}
    assert code == 0, stderr
