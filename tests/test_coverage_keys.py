"""Issue 16, situation 4: coverage counts content, not paths.

A file counts as verified only while its path, size and mtime (S3: its object version) are the
ones a drill verified: after every file is rewritten, one sampled file is one covered file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xxhash

from backupcheck.history import HistoryStore
from tests.conftest import S3Server
from tests.drill_helpers import (
    drill,
    numbered_files,
    plan_file,
    restic_client,
    restic_estate,
    restore_of,
    s3_client,
    s3_estate,
)


def test_restic_rewritten_files_are_uncovered_again(tmp_path: Path) -> None:
    files = numbered_files(8)
    repo, source = restic_estate(tmp_path, files)
    repo.backup(source)
    targets, history = tmp_path / "targets", tmp_path / "history"
    restic_client(targets, "fs1", repo, source=source)

    first = drill(targets, plan_file(tmp_path / "all"), history)
    assert first.exit_code == 0, first.stdout + first.stderr
    assert restore_of(first.json(), "fs1")["coverage"] == 1.0

    for rel, data in files.items():  # every file rewritten: other bytes, a new mtime
        (source / rel).write_bytes(data[::-1] + b"v2")
    repo.backup(source)
    one = plan_file(tmp_path / "one", files=1, include_newest=False)
    second = drill(targets, one, history)

    assert second.exit_code == 0, second.stdout + second.stderr
    restore = restore_of(second.json(), "fs1")
    assert restore["verified"] == 1
    assert restore["coverage"] == pytest.approx(1 / 8)

    rows = HistoryStore(history).read_files(["fs1"]).to_pylist()
    assert all(r["mtime_ns"] is not None for r in rows)


def test_s3_new_object_versions_are_uncovered_again(tmp_path: Path, s3_server: S3Server) -> None:
    files = numbered_files(6)
    s3, _ = s3_estate(s3_server, "issue16-coverage", tmp_path, {})
    for rel, data in files.items():
        s3.put_object(Bucket="issue16-coverage", Key=f"backup/{rel}", Body=data,
                      Metadata={"xxh3-128": xxhash.xxh3_128(data).hexdigest()})
    targets, history = tmp_path / "targets", tmp_path / "history"
    s3_client(targets, "nas", "issue16-coverage", s3_server)

    first = drill(targets, plan_file(tmp_path / "all"), history)
    assert first.exit_code == 0, first.stdout + first.stderr
    assert restore_of(first.json(), "nas")["coverage"] == 1.0

    for rel, data in files.items():  # the same bytes, uploaded again: new versions
        s3.put_object(Bucket="issue16-coverage", Key=f"backup/{rel}", Body=data,
                      Metadata={"xxh3-128": xxhash.xxh3_128(data).hexdigest()})
    second = drill(targets, plan_file(tmp_path / "one", files=1, include_newest=False), history)

    assert second.exit_code == 0, second.stdout + second.stderr
    assert restore_of(second.json(), "nas")["coverage"] == pytest.approx(1 / 6, abs=1e-6)
    rows = HistoryStore(history).read_files(["nas"]).to_pylist()
    assert all(r["version_id"] for r in rows)


def test_history_rows_without_the_new_columns_still_read_and_count_for_nothing(
        tmp_path: Path) -> None:
    """A files row written before mtime_ns and version_id existed proves no content."""
    store = HistoryStore(tmp_path)
    moment = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    old = pa.table({"run_id": ["r1"], "started_at": pa.array([moment], pa.timestamp("us", "UTC")),
                    "target": ["fs1"], "path": ["a.txt"], "size": pa.array([3], pa.int64()),
                    "xxh3_128": ["ab" * 16], "result": ["ok"]})
    (tmp_path / "files" / "client=acme").mkdir(parents=True)
    pq.write_table(old, tmp_path / "files" / "client=acme" / "r1.parquet")
    assert store.read_files(["acme"]).column("path").to_pylist() == ["a.txt"]
    assert store.verified_paths("acme", "fs1") == {"a.txt"}
    assert store.verified_files("acme", "fs1") == set()
