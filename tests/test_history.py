"""The Parquet drill history: layout, filters, readers other than ours, and crash safety."""

from __future__ import annotations

import errno
import json
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from backupcheck.errors import HistoryError
from backupcheck.history import FILES_SCHEMA, RUNS_SCHEMA, HistoryStore
from backupcheck.history import store as history_module
from backupcheck.model import (
    ClientResult,
    FileResult,
    Finding,
    Problem,
    RestoreResult,
    RunReport,
    Status,
    TargetResult,
)

T0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)


def run_row(run_id: str, started_at: datetime, client: str, target: str,
            estimate: float, rto: float = 14400.0, **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, "started_at": started_at, "client": client, "target": target,
            "kind": "restic", "status": "pass", "sampled": 20, "verified": 20,
            "mismatched": 0, "unreadable": 0, "bytes": 10_000_000, "seconds": 2.5,
            "throughput_bytes_per_s": 4e6, "estimated_full_restore_seconds": estimate,
            "rto_seconds": rto, "coverage": 0.1, **extra}


def file_result(path: str, result: str, digest: str = "ab" * 16) -> FileResult:
    return FileResult(path=path, size=100, bytes=100 if result != "missing" else 0,
                      seconds=0.01, ttfb_seconds=0.001, result=result, xxh3_128=digest)


def restore(files: tuple[FileResult, ...], estimate: float = 3600.0,
            rto: float = 14400.0) -> RestoreResult:
    return RestoreResult(
        seed=42, snapshot="a132df9a", sampled=len(files),
        verified=sum(f.result == "ok" for f in files),
        mismatched=sum(f.result in ("digest", "size") for f in files),
        unreadable=sum(f.result in ("unreadable", "missing") for f in files),
        unproven=sum(f.result == "unproven" for f in files),
        bytes=sum(f.bytes for f in files), seconds=1.5, ttfb_seconds=0.2,
        throughput_bytes_per_s=1e6, total_bytes=10**9, total_files=1000,
        estimated_full_restore_seconds=estimate, rto_seconds=rto, coverage=0.02, retries=1,
        problems=tuple(Problem(f.path, "digest") for f in files if f.result == "digest"),
        files=files,
        estimate_method={"method": "linear-fit", "a_seconds_per_file": 0.05,
                         "b_seconds_per_byte": 2e-9, "files": len(files)})


def drill_report(estimate: float = 3600.0) -> RunReport:
    acme_files = (file_result("q3.xlsx", "ok"), file_result("a/b.doc", "digest"),
                  file_result("gone.txt", "missing"), file_result("c.bin", "unproven"),
                  file_result("skipped.tmp", "not-sampled"))
    acme = ClientResult("acme", (
        TargetResult("acme-fs1", "restic",
                     (Finding("restore.sample", Status.FAIL, "1 digest mismatch"),),
                     restore(acme_files, estimate)),
        TargetResult("acme-veeam", "s3", (Finding("s3.versioning", Status.PASS, "ok"),)),
    ))
    beta = ClientResult("beta", (
        TargetResult("beta-s3", "s3", (Finding("restore.sample", Status.PASS, "ok"),),
                     restore((file_result("x/y.pdf", "ok"),), 900.0)),
    ))
    return RunReport("drill", "2026-01-05T03:00:00Z", "2026-01-05T03:04:00Z", (acme, beta))


def parquet_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_append_report_writes_one_file_per_client_and_dataset(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h")
    store.append("20260105T030000Z-1", T0, drill_report(), "weekly")

    assert parquet_files(tmp_path / "h") == [
        "files/client=acme/20260105T030000Z-1.parquet",
        "files/client=beta/20260105T030000Z-1.parquet",
        "findings/client=acme/20260105T030000Z-1.parquet",
        "findings/client=beta/20260105T030000Z-1.parquet",
        "runs/client=acme/20260105T030000Z-1.parquet",
        "runs/client=beta/20260105T030000Z-1.parquet",
    ]
    runs = store.read_runs()
    assert runs.schema.equals(RUNS_SCHEMA)
    rows = {r["target"]: r for r in runs.to_pylist()}
    assert set(rows) == {"acme-fs1", "beta-s3"}  # acme-veeam had no restore
    # but its checks are findings of this run all the same
    findings = {(r["target"], r["check"]): r["status"] for r in store.read_findings().to_pylist()}
    assert findings[("acme-veeam", "s3.versioning")] == "pass"
    acme = rows["acme-fs1"]
    assert acme["client"] == "acme" and acme["status"] == "fail" and acme["plan"] == "weekly"
    assert acme["started_at"] == T0 and acme["seed"] == 42 and acme["snapshot"] == "a132df9a"
    assert (acme["sampled"], acme["verified"], acme["mismatched"], acme["unreadable"],
            acme["unproven"], acme["retries"]) == (5, 1, 1, 1, 1, 1)
    assert acme["estimate_method"] == "linear-fit"
    assert acme["estimate_a_seconds"] == 0.05
    assert acme["estimate_b_seconds_per_byte"] == 2e-9
    assert acme["total_files"] == 1000 and acme["tool_version"]
    assert json.loads(acme["estimate_inputs"])["files"] == 5


def test_a_drill_without_an_estimate_records_null(tmp_path: Path) -> None:
    report = drill_report()
    (fs1, veeam), beta = report.clients[0].targets, report.clients[1]
    assert fs1.restore is not None
    blind = replace(fs1, restore=replace(fs1.restore, estimated_full_restore_seconds=0.0,
                                         estimate_method={}))
    store = HistoryStore(tmp_path)
    store.append("r1", T0, replace(report, clients=(
        replace(report.clients[0], targets=(blind, veeam)), beta)), "weekly")
    rows = {r["target"]: r for r in store.read_runs().to_pylist()}
    assert rows["acme-fs1"]["estimated_full_restore_seconds"] is None
    assert rows["acme-fs1"]["estimate_method"] == ""
    assert rows["beta-s3"]["estimated_full_restore_seconds"] == 900.0

    files = store.read_files(["acme"])
    assert files.schema.equals(FILES_SCHEMA)
    assert sorted(files.column("result").to_pylist()) == ["digest", "missing", "ok",
                                                          "unproven"]
    assert store.verified_paths("acme", "acme-fs1") == {"q3.xlsx"}
    assert store.verified_paths("beta", "beta-s3") == {"x/y.pdf"}
    assert store.verified_paths("acme", "nope") == set()


def test_client_is_a_partition_not_a_file_column(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.append_rows([run_row("r1", T0, "acme", "t", 10.0)])
    (written,) = (tmp_path / "runs").rglob("*.parquet")
    assert "client" not in pq.read_schema(written).names


def test_duckdb_reads_both_datasets(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.append("r1", T0, drill_report(), "weekly")
    store.append("r2", T0 + timedelta(weeks=1), drill_report(4000.0), "weekly")
    runs = duckdb.sql(
        f"select client, target, estimated_full_restore_seconds from read_parquet("
        f"'{tmp_path}/runs/*/*.parquet', hive_partitioning=true) "
        "order by client, target, estimated_full_restore_seconds").fetchall()
    assert runs == [("acme", "acme-fs1", 3600.0), ("acme", "acme-fs1", 4000.0),
                    ("beta", "beta-s3", 900.0), ("beta", "beta-s3", 900.0)]
    coverage = duckdb.sql(
        f"select client, target, count(distinct path) from read_parquet("
        f"'{tmp_path}/files/*/*.parquet', hive_partitioning=true) where result = 'ok' "
        "group by all order by all").fetchall()
    assert coverage == [("acme", "acme-fs1", 1), ("beta", "beta-s3", 1)]


def test_read_runs_filters_by_client_and_since(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.append_rows([run_row(f"r{i}", T0 + timedelta(weeks=i), client, "t", 100.0 + i)
                       for i in range(4) for client in ("acme", "007", "beta")])
    only = store.read_runs(["007"])
    assert only.num_rows == 4
    assert set(only.column("client").to_pylist()) == {"007"}  # a string, not the number 7
    recent = store.read_runs(["acme", "beta"], since=T0 + timedelta(weeks=2))
    assert recent.num_rows == 4
    assert sorted(set(recent.column("run_id").to_pylist())) == ["r2", "r3"]
    naive = store.read_runs(since=datetime(2026, 1, 19, 3, 0))  # naive means UTC
    assert sorted(set(naive.column("run_id").to_pylist())) == ["r2", "r3"]
    started = store.read_runs(["acme"]).column("started_at").to_pylist()
    assert started == sorted(started)


def test_latest_run(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    assert store.latest_run("acme") == []
    store.append_rows([run_row("r1", T0, "acme", "a", 1.0), run_row("r1", T0, "acme", "b", 2.0),
                       run_row("r2", T0 + timedelta(days=7), "acme", "a", 3.0)])
    latest = store.latest_run("acme")
    assert [(r["run_id"], r["target"]) for r in latest] == [("r2", "a")]


def test_missing_history_reads_as_empty_tables(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "nothing-here")
    assert store.read_runs().num_rows == 0
    assert store.read_runs().schema.equals(RUNS_SCHEMA)
    assert store.read_files().schema.equals(FILES_SCHEMA)
    assert store.verified_paths("acme", "t") == set()
    assert not (tmp_path / "nothing-here").exists()  # reading never creates anything


def test_odd_client_names_stay_inside_their_partition(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h")
    weird = "../evil/client=x"
    store.append_rows([run_row("r1", T0, weird, "t", 5.0)])
    assert [p.name for p in (tmp_path / "h" / "runs").iterdir()] == [
        "client=..%2Fevil%2Fclient%3Dx"]
    assert store.read_runs().column("client").to_pylist() == [weird]
    assert store.read_runs([weird]).num_rows == 1


def test_rows_are_validated(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    with pytest.raises(ValueError, match="unknown history columns: bogus"):
        store.append_rows([run_row("r1", T0, "acme", "t", 1.0, bogus=1)])
    with pytest.raises(ValueError, match="without target"):
        store.append_rows([{**run_row("r1", T0, "acme", "t", 1.0), "target": None}])
    with pytest.raises(HistoryError, match="not a safe file name"):
        store.append_rows([run_row("../r1", T0, "acme", "t", 1.0)])
    assert not (tmp_path / "runs").exists()


def test_a_run_is_never_recorded_twice(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.append_rows([run_row("r1", T0, "acme", "t", 1.0)])
    with pytest.raises(HistoryError, match="already recorded"):
        store.append_rows([run_row("r1", T0, "acme", "t", 99.0)])
    assert store.read_runs().column("estimated_full_restore_seconds").to_pylist() == [1.0]


def test_interrupted_write_leaves_earlier_history_intact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = HistoryStore(tmp_path)
    store.append("r1", T0, drill_report(), "weekly")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")}

    def killed(src: Any, dst: Any) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(HistoryError, match=r"cannot write history in .*files/client=acme"):
        store.append("r2", T0 + timedelta(weeks=1), drill_report(9999.0), "weekly")
    monkeypatch.undo()

    assert {p: p.read_bytes() for p in tmp_path.rglob("*.parquet")} == before
    assert [p for p in tmp_path.rglob("*") if p.name.startswith(".")] == []
    assert store.read_runs().column("run_id").to_pylist() == ["r1", "r1"]


def test_partial_publish_never_leaves_a_runs_row_without_its_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = HistoryStore(tmp_path)
    real_replace = os.replace
    calls: list[str] = []

    def fail_on_runs(src: Any, dst: Any) -> None:
        calls.append(str(dst))
        if "/runs/" in str(dst):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_runs)
    with pytest.raises(HistoryError, match="no space left on device"):
        store.append("r1", T0, drill_report(), "weekly")
    # files and findings are published first: a runs row is the last thing a drill adds
    assert all("/files/" in c or "/findings/" in c for c in calls[:-1])
    assert store.read_runs().num_rows == 0
    assert [p for p in tmp_path.rglob("*") if p.name.startswith(".")] == []


def test_disk_full_while_writing_raises_history_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = HistoryStore(tmp_path)
    store.append_rows([run_row("r1", T0, "acme", "t", 1.0)])

    def disk_full(table: pa.Table, where: Any, **kwargs: Any) -> None:
        where.write(b"PAR1 half a file")  # a partial temp file is left behind
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(history_module.pq, "write_table", disk_full)
    with pytest.raises(HistoryError) as caught:
        store.append_rows([run_row("r2", T0 + timedelta(days=7), "acme", "t", 2.0)])
    monkeypatch.undo()
    assert "no space left on device" in str(caught.value)
    assert str(tmp_path / "runs" / "client=acme") in str(caught.value)
    assert parquet_files(tmp_path) == ["runs/client=acme/r1.parquet"]
    assert store.read_runs().column("run_id").to_pylist() == ["r1"]


def test_history_directory_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = HistoryStore(blocker / "hist")
    with pytest.raises(HistoryError, match=r"cannot write history in .*file/hist/runs"):
        store.append_rows([run_row("r1", T0, "acme", "t", 1.0)])
    assert blocker.read_text() == "not a directory"


def test_corrupt_history_file_is_a_history_error(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.append_rows([run_row("r1", T0, "acme", "t", 1.0)])
    (tmp_path / "runs" / "client=acme" / "r2.parquet").write_bytes(b"garbage")
    with pytest.raises(HistoryError, match="cannot read history in"):
        store.read_runs()


def test_older_files_missing_newer_columns_still_read(tmp_path: Path) -> None:
    """A file written before a column existed reads with nulls for it."""
    store = HistoryStore(tmp_path)
    store.append_rows([run_row("r2", T0 + timedelta(days=7), "acme", "t", 2.0,
                               estimate_method="linear-fit")])
    old = pa.table({"run_id": ["r1"], "started_at": pa.array([T0], pa.timestamp("us", "UTC")),
                    "target": ["t"], "estimated_full_restore_seconds": [1.0]})
    pq.write_table(old, tmp_path / "runs" / "client=acme" / "r1.parquet")
    runs = store.read_runs()
    assert runs.column("run_id").to_pylist() == ["r1", "r2"]
    assert runs.column("estimate_method").to_pylist() == [None, "linear-fit"]


def test_many_drills_are_compacted_and_read_back_whole(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    weeks = 3 * history_module.COMPACT_AFTER
    for week in range(weeks):
        at = T0 + timedelta(weeks=week)
        store.append_rows([run_row(f"r{week:03d}", at, "acme", t, 100.0 + week)
                           for t in ("a", "b")],
                          [{"run_id": f"r{week:03d}", "started_at": at, "client": "acme",
                            "target": "a", "path": f"f{week}", "result": "ok"}])
    for dataset in ("runs", "files"):
        count = len(list((tmp_path / dataset / "client=acme").glob("*.parquet")))
        assert 1 <= count <= history_module.COMPACT_AFTER + 1
    runs = store.read_runs()
    assert runs.num_rows == 2 * weeks
    assert runs.column("run_id").to_pylist()[::2] == [f"r{w:03d}" for w in range(weeks)]
    assert store.verified_paths("acme", "a") == {f"f{w}" for w in range(weeks)}
    assert duckdb.sql(f"select count(*) from read_parquet('{tmp_path}/runs/*/*.parquet', "
                      "hive_partitioning=true)").fetchall() == [(2 * weeks,)]
    assert store.compact() >= 2
    assert len(list((tmp_path / "runs" / "client=acme").glob("*.parquet"))) == 1
    assert store.read_runs().num_rows == 2 * weeks


def test_rows_left_twice_by_a_crashed_compaction_count_once(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path)
    store.append_rows([run_row("r1", T0, "acme", "t", 1.0)])
    store.append_rows([run_row("r2", T0 + timedelta(days=7), "acme", "t", 2.0)])
    partition = tmp_path / "runs" / "client=acme"
    (partition / "compacted-crashed.parquet").write_bytes((partition / "r1.parquet").read_bytes())
    assert store.read_runs().column("run_id").to_pylist() == ["r1", "r2"]
    store.compact(["acme"])
    assert [p.name.startswith("compacted-") for p in partition.glob("*.parquet")] == [True]
    assert store.read_runs().column("run_id").to_pylist() == ["r1", "r2"]


def test_a_failed_compaction_never_fails_the_drill(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    store = HistoryStore(tmp_path)

    def broken(directory: Path, min_files: int) -> int:
        raise HistoryError(f"cannot compact history in {directory}: disk on fire")

    monkeypatch.setattr(store, "_compact_partition", broken)
    store.append_rows([run_row("r1", T0, "acme", "t", 1.0)])
    assert store.read_runs().num_rows == 1
    assert "disk on fire" in caplog.text
