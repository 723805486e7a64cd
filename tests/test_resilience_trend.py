"""Issue 13: ``trend`` on a missing or empty history exits 3, so CI never goes green without
data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.mark.parametrize("fmt", ["table", "json", "junit", "markdown"])
def test_trend_without_drills_exits_3(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "empty" / "runs").mkdir(parents=True)
    for history in (tmp_path / "missing", tmp_path / "empty"):
        result = run_cli("trend", "--history", str(history), "--format", fmt)
        assert result.exit_code == 3, (history, result.stdout, result.stderr)
