"""``trend`` and ``history --format json`` judge the estimate on its interval, as
``restore.rto`` does (issue 17).

``restore.rto`` fails when even the low end of the estimate's interval exceeds the RTO and
warns when only the high end does (:mod:`backupcheck.restore.standing`). ``trend`` must fail
the pipeline (exit 1, a junit failure) only on the first and show the second in every format;
``history --format json`` gives both ends per drill. A history row written before the interval
existed (no such columns in its file) is judged on its point estimate.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from lxml import etree

from backupcheck.history import PARTITION, RUNS_SCHEMA, HistoryStore
from backupcheck.history.schema import file_schema, partition_dir
from tests.conftest import run_cli

JUNIT_XSD = Path(__file__).parent / "data" / "junit.xsd"
T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
INTERVAL = ("estimate_low_seconds", "estimate_high_seconds")


def row(run_id: str, at: datetime, point: float, low: float | None, high: float | None,
        rto: float = 10.0, client: str = "acme", target: str = "fs1") -> dict[str, Any]:
    return {"run_id": run_id, "started_at": at, PARTITION: client, "target": target,
            "kind": "restic", "status": "pass", "sampled": 4, "verified": 4, "mismatched": 0,
            "unreadable": 0, "bytes": 4000, "seconds": 0.5, "throughput_bytes_per_s": 8000.0,
            "estimated_full_restore_seconds": point, "estimate_low_seconds": low,
            "estimate_high_seconds": high, "rto_seconds": rto, "coverage": 0.4,
            "estimate_method": "restore model"}


def history_with(tmp_path: Path, point: float, low: float, high: float) -> Path:
    """Two drills of acme/fs1 against an RTO of 10 s: a comfortable one, then ``point``
    with its interval ``low``..``high`` (the latest)."""
    root = tmp_path / "history"
    HistoryStore(root).append_rows([row("r1", T0, 5.0, 4.0, 6.0),
                                    row("r2", T0 + timedelta(days=7), point, low, high)])
    return root


def old_history(tmp_path: Path, point: float) -> Path:
    """One drill written before the interval existed: its file has no interval columns."""
    root = tmp_path / "old-history"
    directory = root / "runs" / partition_dir("acme")
    directory.mkdir(parents=True)
    stored = file_schema(RUNS_SCHEMA)
    for name in INTERVAL:
        stored = stored.remove(stored.get_field_index(name))
    values = {k: v for k, v in row("r1", T0, point, None, None).items()
              if k not in (*INTERVAL, PARTITION)}
    pq.write_table(pa.Table.from_pylist([values], schema=stored), directory / "r1.parquet")
    return root


def trend(history: Path, fmt: str) -> tuple[int, str]:
    result = run_cli("trend", "--history", str(history), "--format", fmt)
    return result.exit_code, result.stdout


def the_trend(history: Path) -> tuple[int, dict[str, Any], dict[str, Any]]:
    code, out = trend(history, "json")
    document = json.loads(out)
    (only,) = document["trends"]
    return code, document, only


def junit_case(history: Path) -> tuple[int, ET.Element, ET.Element]:
    code, out = trend(history, "junit")
    etree.XMLSchema(etree.parse(str(JUNIT_XSD))).assertValid(etree.fromstring(out.encode()))
    root = ET.fromstring(out.encode())
    suite = root.find("testsuite")
    assert suite is not None
    case = suite.find("testcase")
    assert case is not None
    return code, suite, case


# ---------------------------------------------------------------- trend


@pytest.mark.parametrize(("point", "low", "high"), [
    pytest.param(11.0, 8.0, 14.0, id="point-over-low-within"),
    pytest.param(9.0, 7.0, 12.0, id="point-within-high-over"),
])
def test_trend_at_risk_passes_the_pipeline_and_says_so(tmp_path: Path, point: float,
                                                       low: float, high: float) -> None:
    history = history_with(tmp_path, point, low, high)
    code, document, only = the_trend(history)
    assert code == 0
    assert only["breached"] is False and only["at_risk"] is True
    assert only["rto_standing"] == "at risk" and only["status"] == "warn"
    assert (only["latest_estimate_low_seconds"],
            only["latest_estimate_high_seconds"]) == (low, high)
    # the keys that were there keep their meaning: the point estimate and its headroom
    assert only["latest_estimated_full_restore_seconds"] == point
    assert only["headroom_seconds"] == pytest.approx(10.0 - point)
    assert document["failing"] == 0 and document["at_risk"] == 1
    assert document["status"] == "warn"
    assert "at risk" in only["message"]

    code, suite, case = junit_case(history)
    assert code == 0 and case.find("failure") is None and suite.get("failures") == "0"
    out = case.find("system-out")
    assert out is not None and "at risk" in (out.text or "")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["at_risk"] == "1"

    code, text = trend(history, "markdown")
    assert code == 0
    (line,) = [r for r in text.splitlines() if r.startswith("| ") and "fs1" in r]
    assert "at risk" in line and "fail" not in line.lower()
    assert "FAIL" not in text.splitlines()[0]

    code, text = trend(history, "table")
    assert code == 0
    assert "at risk" in text and "breach" not in text and "overall: WARN" in text


def test_trend_breach_is_the_low_end_over_the_rto(tmp_path: Path) -> None:
    history = history_with(tmp_path, 11.0, 10.5, 14.0)
    code, document, only = the_trend(history)
    assert code == 1
    assert only["breached"] is True and only["at_risk"] is False
    assert only["rto_standing"] == "over" and only["status"] == "fail"
    assert document["failing"] == 1 and document["status"] == "fail"
    assert "low end" in only["message"]

    code, suite, case = junit_case(history)
    failure = case.find("failure")
    assert code == 1 and failure is not None and failure.get("type") == "rto_breach"
    assert "latest_estimate_low_seconds=10.500" in (failure.text or "")
    assert trend(history, "markdown")[0] == 1 and trend(history, "table")[0] == 1


def test_trend_within_the_whole_interval_passes_quietly(tmp_path: Path) -> None:
    history = history_with(tmp_path, 5.0, 4.0, 9.5)
    code, document, only = the_trend(history)
    assert code == 0 and only["status"] == "pass" and document["status"] == "pass"
    assert only["at_risk"] is False and only["rto_standing"] == "within"
    assert "at risk" not in trend(history, "markdown")[1]


@pytest.mark.parametrize(("point", "code", "standing"), [(11.0, 1, "over"),
                                                         (9.0, 0, "within")])
def test_trend_judges_rows_from_before_the_interval_on_the_point(
        tmp_path: Path, point: float, code: int, standing: str) -> None:
    history = old_history(tmp_path, point)
    exit_code, _, only = the_trend(history)
    assert exit_code == code and only["rto_standing"] == standing
    assert only["breached"] is (code == 1) and only["at_risk"] is False
    assert only["latest_estimate_low_seconds"] is None
    assert only["latest_estimate_high_seconds"] is None
    for fmt in ("table", "junit", "markdown"):
        assert trend(history, fmt)[0] == code, fmt


# ---------------------------------------------------------------- history --format json


def test_history_json_gives_the_interval_per_drill(tmp_path: Path) -> None:
    result = run_cli("history", "--history", str(history_with(tmp_path, 11.0, 8.0, 14.0)),
                     "--format", "json")
    runs = json.loads(result.stdout)["runs"]
    assert [(r["estimated_full_restore_seconds"], r["estimate_low_seconds"],
             r["estimate_high_seconds"]) for r in runs] == [(5.0, 4.0, 6.0), (11.0, 8.0, 14.0)]

    result = run_cli("history", "--history", str(old_history(tmp_path, 11.0)),
                     "--format", "json")
    (old,) = json.loads(result.stdout)["runs"]
    assert old["estimated_full_restore_seconds"] == 11.0
    assert old["estimate_low_seconds"] is None and old["estimate_high_seconds"] is None
