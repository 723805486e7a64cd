"""The restore verdicts survive the history: ``audit`` judges ``restore.sample`` again from a
recorded drill, and a drill that found missing files or a wrong or unreadable manifest must
not come back as a pass."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from backupcheck.audit.from_history import restore_from_history
from backupcheck.history import rows_from_report
from backupcheck.manifest.series import choose, name_time
from backupcheck.model import (
    Client,
    ClientResult,
    FileOutcome,
    FileResult,
    ManifestCheck,
    Policy,
    RestoreResult,
    RunReport,
    Status,
    TargetResult,
)
from backupcheck.restore.verdict import sample_finding

MOMENT = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
CLIENT = Client("acme", 3600.0, 14400.0, Policy(), (), Path("targets/acme.toml"))


def _restore(check: ManifestCheck) -> RestoreResult:
    files = tuple(FileResult(f"f{i}.bin", 10, 10, 0.01, 0.01, FileOutcome.OK, "ab" * 16,
                             "ab" * 16, "manifest", mtime_ns=1000 * i) for i in range(3))
    return RestoreResult(
        seed=1, snapshot="a1b2c3d4", sampled=3, verified=3, mismatched=0, unreadable=0,
        unproven=0, bytes=30, seconds=0.1, ttfb_seconds=0.01, throughput_bytes_per_s=300.0,
        total_bytes=100, total_files=10, estimated_full_restore_seconds=1.0,
        rto_seconds=14400.0, coverage=0.3, retries=0, problems=(), files=files,
        estimate_method={"method": "plain throughput"}, manifest=check)


def _rebuilt(check: ManifestCheck) -> RestoreResult:
    report = RunReport("drill", "2026-11-22T03:00:00Z", "2026-11-22T03:01:00Z", (ClientResult(
        "acme", (TargetResult("fs1", "restic", (), _restore(check)),)),))
    runs, files = rows_from_report("20261122T030000Z-abc123", MOMENT, report, "weekly")
    assert files[0]["mtime_ns"] == 0 and files[0]["truth"] == "manifest"
    return restore_from_history(runs[0], files, CLIENT)


@pytest.mark.parametrize(("check", "status", "words"), [
    (ManifestCheck("m.parquet", missing=3), Status.FAIL,
     "3 manifest files are missing from the backup"),
    (ManifestCheck("m.parquet", problem="wrong", detail="wrong manifest? m.parquet (2 rows)"),
     Status.FAIL, "wrong manifest? m.parquet"),
    (ManifestCheck("m.parquet", problem="unavailable", detail="manifest not found: m.parquet"),
     Status.ERROR, "manifest not found: m.parquet"),
    (ManifestCheck("m.parquet"), Status.PASS, "3 of 3 sampled files restored byte for byte"),
])
def test_recorded_manifest_verdicts_are_judged_the_same_again(
        check: ManifestCheck, status: Status, words: str) -> None:
    fresh = sample_finding(_restore(check), "", [])
    again = sample_finding(_rebuilt(check), "", [])
    assert fresh.status is again.status is status
    assert words in again.message, again.message


def test_series_names_and_the_closest_choice(tmp_path: Path) -> None:
    assert name_time("20261122T030000Z.parquet") == MOMENT
    assert name_time("20261399T030000Z.parquet") is None
    assert name_time("latest.parquet") is None
    for name in ("20261121T030000Z.parquet", "20261122T020000Z.parquet",
                 "20261122T040000Z.parquet", "notes.parquet"):
        (tmp_path / name).write_bytes(b"")
    chosen = choose(f"{tmp_path}/", MOMENT, base_dir=None, s3_client_factory=lambda: None)
    # an hour before and an hour after: the later one, built just after the backup, wins
    assert Path(chosen.location).name == "20261122T040000Z.parquet"
    assert chosen.candidates == 3
    newest = choose(str(tmp_path), None, base_dir=None, s3_client_factory=lambda: None)
    assert Path(newest.location).name == "20261122T040000Z.parquet"
