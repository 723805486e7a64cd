"""Issue 13: ``trend --fail-on-regression PCT`` fails a target only when its latest estimate is
PCT % worse than the median of the previous runs *and* at least ``--regression-floor``
(default 5m) longer: sub-second jitter on a fast restore is not a regression."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from backupcheck.history import HistoryStore
from tests.conftest import run_cli
from tests.test_trend import T0, run_row


def _history(root: Path, estimates: list[float]) -> Path:
    store = HistoryStore(root)
    for week, estimate in enumerate(estimates):
        at = T0 + timedelta(weeks=week)
        store.append_rows([run_row(f"{at:%Y%m%dT%H%M%SZ}", at, "acme", "acme-t", estimate,
                                   rto=100 * 3600.0)])  # far off: no RTO breach
    return root


JITTER = [0.01, 0.012, 0.011, 0.3]        # 2600 % slower, 0.29 s longer
SLOWER = [1000.0, 980.0, 1020.0, 1400.0]  # 40 % slower, 400 s longer
SMALL_PCT = [36000.0, 36000.0, 39600.0]   # 10 % slower, an hour longer


@pytest.mark.parametrize(("estimates", "floor", "code"), [
    (JITTER, None, 0),       # the default 5m floor: jitter passes
    (JITTER, "1s", 0),
    (JITTER, "100ms", 1),    # a floor below the jitter: the percentage decides
    (SLOWER, None, 1),       # 400 s > 5 min and 40 % > 25 %
    (SLOWER, "6m", 1),
    (SLOWER, "7m", 0),       # 400 s is not 7 minutes
    (SLOWER, "1h30m", 0),
    (SMALL_PCT, None, 0),    # an hour longer but only 10 %: below PCT
])
def test_a_regression_needs_both_the_percentage_and_the_floor(
        tmp_path: Path, estimates: list[float], floor: str | None, code: int) -> None:
    history = _history(tmp_path / "history", estimates)
    extra = ["--regression-floor", floor] if floor is not None else []
    result = run_cli("trend", "--history", str(history), "--format", "json",
                     "--fail-on-regression", "25", *extra)
    assert result.exit_code == code, result.stdout + result.stderr
    (trend,) = result.json()["trends"]
    assert trend["regressed"] is (code == 1)


def test_the_floor_is_in_the_json_and_in_the_reason(tmp_path: Path) -> None:
    history = _history(tmp_path / "history", SLOWER)
    result = run_cli("trend", "--history", str(history), "--format", "json",
                     "--fail-on-regression", "25")
    doc = result.json()
    assert doc["regression_floor_seconds"] == 300.0
    assert "at least 5m" in doc["trends"][0]["message"], doc["trends"][0]["message"]


@pytest.mark.parametrize("floor", ["5", "soon", "-5m", "4h 30m"])
def test_a_bad_floor_is_a_usage_error(tmp_path: Path, floor: str) -> None:
    history = _history(tmp_path / "history", SLOWER)
    result = run_cli("trend", "--history", str(history), "--fail-on-regression", "25",
                     "--regression-floor", floor)
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--regression-floor" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
