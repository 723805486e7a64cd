"""A restic snapshot dated in the future, made by the real ``restic backup --time``.

A wrong clock on the backed-up host, or someone forging a snapshot time, must not make a
repository look fresh: such a snapshot is itself ``restic.freshness`` = ``fail``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import write_client
from tests.restic_helpers import TIME_FORMAT, init_local_repo, make_tree, target_toml


def test_a_snapshot_dated_two_days_ahead_fails_freshness(cli: Any, tmp_path: Path) -> None:
    repo = init_local_repo(tmp_path / "repos", "future")
    source = make_tree(tmp_path / "share", {"q3.xlsx": b"quarterly figures\n" * 100})
    ahead = (datetime.now() + timedelta(days=2)).strftime(TIME_FORMAT)
    short_id = repo.backup(source, time=ahead)
    targets = tmp_path / "targets"
    write_client(targets, "future", target_toml("future", repo))
    result = cli("verify", "--targets", str(targets), "--format", "json",
                 "--read-data-subset", "")
    assert "Traceback" not in result.stderr
    checks = {c["id"]: c for c in result.json()["clients"][0]["targets"][0]["checks"]}
    freshness = checks["restic.freshness"]
    assert freshness["status"] == "fail", freshness["message"]
    assert "future" in freshness["message"]
    assert freshness["evidence"]["future_examples"] == [short_id[:8]]
    assert result.exit_code == 1
