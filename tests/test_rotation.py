"""``read_data_subset = "rotate/N"``: each drill checks the next 1/N slice of the packs.

Drill k reads slice ``(k mod N) + 1`` of N (``restic check --read-data-subset n/N``); the
position lives in the history's runs rows of the target, and ``restic.integrity`` says which
slice it read and when the last full cycle completed (or how many slices remain).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backupcheck.config import load_plan
from backupcheck.errors import ConfigError
from backupcheck.history import HistoryStore
from backupcheck.rotation import SliceRead, next_rotation, rotation_slices
from tests.conftest import run_cli
from tests.drill_helpers import (
    check_of,
    drill,
    numbered_files,
    plan_file,
    restic_client,
    restic_estate,
)

T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def test_plan_accepts_rotate_and_refuses_nonsense(tmp_path: Path) -> None:
    plan = tmp_path / "p.toml"
    plan.write_text('read_data_subset = "rotate/12"\n')
    assert load_plan(plan).read_data_subset == "rotate/12"
    assert rotation_slices("rotate/12") == 12 and rotation_slices("2%") is None
    for bad in ("rotate/0", "rotate/", "rotate/x", "rotate/1/2"):
        plan.write_text(f'read_data_subset = "{bad}"\n')
        with pytest.raises(ConfigError, match="read_data_subset"):
            load_plan(plan)


def _reads(*slices: int, of: int = 3) -> list[SliceRead]:
    return [SliceRead(T0 + timedelta(weeks=i), s, of) for i, s in enumerate(slices)]


def test_next_slice_follows_the_last_recorded_one() -> None:
    now = T0 + timedelta(weeks=10)
    first = next_rotation([], 3, now)
    assert (first.slice, first.of, first.slices_left, first.cycle_completed_at) == (1, 3, 2, None)
    second = next_rotation(_reads(1), 3, now)
    assert (second.slice, second.slices_left) == (2, 1)
    third = next_rotation(_reads(1, 2), 3, now)
    assert (third.slice, third.slices_left, third.cycle_completed_at) == (3, 0, now)
    again = next_rotation(_reads(1, 2, 3), 3, now)
    assert (again.slice, again.slices_left) == (1, 2)
    assert again.cycle_completed_at == T0 + timedelta(weeks=2)
    # another N earlier (the plan changed): start over at 1
    assert next_rotation(_reads(1, 2, of=5), 3, now).slice == 1


def test_drills_walk_through_every_slice_and_say_so(tmp_path: Path) -> None:
    repo, source = restic_estate(tmp_path, numbered_files(4))
    repo.backup(source)
    targets, history = tmp_path / "targets", tmp_path / "history"
    restic_client(targets, "fs1", repo, source=source)
    plan = plan_file(tmp_path, files=1, subset="rotate/3")

    seen = []
    for _ in range(4):
        result = drill(targets, plan, history)
        assert result.exit_code == 0, result.stdout + result.stderr
        integrity = check_of(result.json(), "fs1", "restic.integrity")
        assert integrity["status"] == "pass", integrity
        seen.append(integrity)
    assert [c["evidence"]["read_data_subset"] for c in seen] == ["1/3", "2/3", "3/3", "1/3"]
    assert "slice 1 of 3" in seen[0]["message"] and "2 slices left" in seen[0]["message"]
    assert seen[0]["evidence"]["rotation"]["cycle_completed_at"] is None
    assert "full cycle completed" in seen[2]["message"]
    assert seen[3]["evidence"]["rotation"]["cycle_completed_at"] is not None
    runs = HistoryStore(history).read_runs(["fs1"])
    assert runs.column("read_data_slice").to_pylist() == [1, 2, 3, 1]
    assert runs.column("read_data_slices").to_pylist() == [3, 3, 3, 3]


def test_verify_without_a_history_reads_the_first_slice(tmp_path: Path) -> None:
    repo, source = restic_estate(tmp_path, numbered_files(2))
    repo.backup(source)
    restic_client(tmp_path / "targets", "fs1", repo)
    plan = plan_file(tmp_path, subset="rotate/4")

    result = run_cli("verify", "--targets", str(tmp_path / "targets"), "--plan", str(plan),
                     "--format", "json")

    integrity = check_of(result.json(), "fs1", "restic.integrity")
    assert integrity["status"] == "pass", integrity
    assert integrity["evidence"]["read_data_subset"] == "1/4"
    assert "no history" in integrity["message"]
