"""``backupcheck manifest build`` through the CLI: output, JSON summary, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import xxhash


def test_manifest_build_writes_the_spec_columns(cli: Any, tmp_path: Path) -> None:
    tree = tmp_path / "share"
    (tree / "sub").mkdir(parents=True)
    (tree / "q3.xlsx").write_bytes(b"quarterly")
    (tree / "sub" / "empty").write_bytes(b"")
    out = tmp_path / "m.parquet"
    result = cli("manifest", "build", str(tree), "--out", str(out), "--format", "json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["files"] == 2 and summary["bytes"] == len(b"quarterly")
    table = pq.read_table(out)
    assert {"path", "size", "mtime_ns", "xxh3_128"} <= set(table.column_names)
    rows = {r["path"]: r for r in table.to_pylist()}
    assert rows["q3.xlsx"]["xxh3_128"] == xxhash.xxh3_128(b"quarterly").hexdigest()
    assert rows["sub/empty"]["size"] == 0


def test_manifest_build_of_a_missing_directory_is_bad_usage(cli: Any, tmp_path: Path) -> None:
    result = cli("manifest", "build", str(tmp_path / "nope"), "--out", str(tmp_path / "m.pq"))
    assert result.exit_code == 2
    assert "nope" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
