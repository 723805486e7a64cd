"""Issue 13: drills sharing one history directory (overlapping cron runs, shards). Several
processes append and compact while others read: no reader fails, no row is lost."""

from __future__ import annotations

import multiprocessing
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backupcheck.cli import app
from backupcheck.history import HistoryStore
from tests.conftest import run_cli

WRITERS = 4
RUNS_PER_WRITER = 12  # each writer's appends pass COMPACT_AFTER, so compactions overlap
READERS = 3
T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def _row(run_id: str, started: datetime, target: str) -> dict[str, Any]:
    return {"run_id": run_id, "started_at": started, "client": "acme", "target": target,
            "kind": "restic", "status": "pass", "sampled": 2, "verified": 2, "mismatched": 0,
            "unreadable": 0, "bytes": 1000, "seconds": 1.0, "throughput_bytes_per_s": 1000.0,
            "estimated_full_restore_seconds": 60.0, "rto_seconds": 14400.0, "coverage": 0.5}


def _writer(root: str, number: int, errors: Any) -> None:
    try:
        store = HistoryStore(Path(root))
        for run in range(RUNS_PER_WRITER):
            run_id = f"w{number}-r{run:02d}"
            started = T0 + timedelta(minutes=number * 100 + run)
            store.append_rows([_row(run_id, started, "fs1")],
                              [{"run_id": run_id, "started_at": started, "client": "acme",
                                "target": "fs1", "path": f"p{run}", "size": 1,
                                "xxh3_128": "ab" * 16, "result": "ok"}])
    except BaseException:  # noqa: BLE001 - reported to the test
        errors.put(f"writer {number}: {traceback.format_exc()}")


def _reader(root: str, stop: Any, errors: Any, reads: Any) -> None:
    store = HistoryStore(Path(root))
    try:
        while not stop.is_set():
            store.read_runs()
            store.read_files()
            store.verified_paths("acme", "fs1")
            result = run_cli("history", "--history", root, "--format", "json")
            if result.exit_code not in (0, 3):
                errors.put(f"history exited {result.exit_code}: {result.stderr}")
            with reads.get_lock():
                reads.value += 1
    except BaseException:  # noqa: BLE001 - reported to the test
        errors.put(f"reader: {traceback.format_exc()}")


def test_concurrent_writers_and_readers_share_one_history(tmp_path: Path) -> None:
    assert app is not None  # the CLI is importable in the children (spawned, not forked)
    root = tmp_path / "history"
    HistoryStore(root).append_rows([_row("seed", T0 - timedelta(days=1), "fs1")])
    context = multiprocessing.get_context("spawn")
    errors = context.Queue()
    stop = context.Event()
    reads = context.Value("i", 0)
    readers = [context.Process(target=_reader, args=(str(root), stop, errors, reads))
               for _ in range(READERS)]
    writers = [context.Process(target=_writer, args=(str(root), n, errors))
               for n in range(WRITERS)]
    for process in (*readers, *writers):
        process.start()
    for process in writers:
        process.join(timeout=300)
    stop.set()
    for process in readers:
        process.join(timeout=300)

    found = []
    while not errors.empty():
        found.append(errors.get())
    assert not found, "\n".join(found)
    assert all(p.exitcode == 0 for p in (*readers, *writers))
    assert reads.value > 0
    store = HistoryStore(root)
    runs = store.read_runs()
    expected = {"seed"} | {f"w{n}-r{r:02d}" for n in range(WRITERS)
                           for r in range(RUNS_PER_WRITER)}
    assert sorted(runs.column("run_id").to_pylist()) == sorted(expected)
    assert store.read_files().num_rows == WRITERS * RUNS_PER_WRITER
