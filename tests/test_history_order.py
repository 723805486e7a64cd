"""Drills recorded within one second come back from the history in the order they ran.

The report's ``started_at`` has second precision; the rotation of ``read_data_subset =
"rotate/N"`` and the trend read the history oldest first, so two fast drills in one second
must not swap places (seen as a rotation of slices 1, 2, 1, 3 on a loaded machine).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backupcheck.commands.drill import record_history
from backupcheck.config import default_plan
from backupcheck.history import HistoryStore
from backupcheck.restore.drill import DrillOptions
from tests.test_history import drill_report


def test_drills_in_one_second_keep_their_order(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history")
    base = datetime(2026, 1, 5, 3, 0, 0, 900_000, tzinfo=UTC)
    report = drill_report()
    estimates = [100.0, 200.0, 300.0, 400.0]
    for index, estimate in enumerate(estimates):
        # later drills get *earlier-sorting* random run ids half of the time; only the
        # moment may order them
        moment = base + timedelta(microseconds=index * 10)
        shown = drill_report(estimate)
        shown = replace(shown, started_at=report.started_at)
        options = DrillOptions(plan=default_plan(), seed=1, jobs=1, history=store, now=moment)
        assert record_history(options, shown) is not None
    runs = store.read_runs(["acme"])
    acme = [e for t, e in zip(runs.column("target").to_pylist(),
                              runs.column("estimated_full_restore_seconds").to_pylist(),
                              strict=True) if t == "acme-fs1"]
    assert acme == estimates
