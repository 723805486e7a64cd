"""Issue 16, situation 3: a manifest older than the backup, and one manifest per backup.

Restic: a manifest row is ground truth only while its size and mtime match the file in the
snapshot; a changed file is unproven by that row, not a mismatch (a flipped byte under an
unchanged mtime still is one). S3: every row is judged. ``manifest build --out DIR/`` writes
one manifest per backup; a target ``manifest`` naming a directory or an ``s3://`` prefix ending
in ``/`` uses the one written closest to the chosen backup's time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tests.conftest import S3Server, run_cli
from tests.drill_helpers import (
    check_of,
    drill,
    manifest_of,
    numbered_files,
    plan_file,
    restic_client,
    restic_estate,
    restore_of,
    s3_client,
    s3_estate,
    set_mtime,
)
from tests.restic_helpers import TIME_FORMAT

CHANGED = ("docs/f01.bin", "docs/f04.bin", "docs/f07.bin")


def _change_after_manifest(source: Path) -> None:
    for rel in CHANGED:
        path = source / rel
        path.write_bytes(path.read_bytes() + b" edited after the manifest was written")


def test_restic_files_changed_after_the_manifest_are_unproven_not_mismatched(
        tmp_path: Path) -> None:
    repo, source = restic_estate(tmp_path, numbered_files(10))
    manifest_of(source, tmp_path / "targets" / "fs1.parquet")
    _change_after_manifest(source)
    repo.backup(source)
    restic_client(tmp_path / "targets", "fs1", repo, manifest="fs1.parquet")

    result = drill(tmp_path / "targets", plan_file(tmp_path))

    doc = result.json()
    restore = restore_of(doc, "fs1")
    assert restore["mismatched"] == 0 and restore["problems"] == []
    changed = {f["path"]: f for f in restore["files"] if f["path"] in CHANGED}
    assert {f["result"] for f in changed.values()} == {"unproven"}
    assert all("changed after the manifest" in f["note"] for f in changed.values())
    sample = check_of(doc, "fs1", "restore.sample")
    assert sample["status"] == "warn"
    assert "3 changed after the manifest" in sample["message"]
    assert sample["evidence"]["manifest"]["changed_since_manifest"] == 3
    assert result.exit_code == 0, result.stdout + result.stderr


def test_restic_changed_files_fall_back_to_an_unchanged_source(tmp_path: Path) -> None:
    repo, source = restic_estate(tmp_path, numbered_files(10))
    manifest_of(source, tmp_path / "targets" / "fs1.parquet")
    _change_after_manifest(source)
    repo.backup(source)
    restic_client(tmp_path / "targets", "fs1", repo, manifest="fs1.parquet", source=source)

    result = drill(tmp_path / "targets", plan_file(tmp_path))

    assert result.exit_code == 0, result.stdout + result.stderr
    restore = restore_of(result.json(), "fs1")
    truths = {f["path"]: f["truth"] for f in restore["files"]}
    assert {truths[p] for p in CHANGED} == {"source"}
    assert restore["verified"] == restore["sampled"] == 10


def test_restic_flipped_byte_under_an_unchanged_mtime_is_still_a_digest_mismatch(
        tmp_path: Path) -> None:
    repo, source = restic_estate(tmp_path, numbered_files(6))
    manifest_of(source, tmp_path / "targets" / "fs1.parquet")
    victim = source / "docs/f02.bin"
    before = victim.stat().st_mtime_ns
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    set_mtime(victim, before)
    repo.backup(source)
    restic_client(tmp_path / "targets", "fs1", repo, manifest="fs1.parquet")

    result = drill(tmp_path / "targets", plan_file(tmp_path))

    assert result.exit_code == 1, result.stdout + result.stderr
    problems = restore_of(result.json(), "fs1")["problems"]
    assert [(p["path"], p["reason"]) for p in problems] == [("docs/f02.bin", "digest")]


def test_s3_every_manifest_row_is_judged(tmp_path: Path, s3_server: S3Server) -> None:
    files = numbered_files(5)
    s3, source = s3_estate(s3_server, "issue16-judged", tmp_path, files)
    manifest_of(source, tmp_path / "targets" / "nas.parquet")
    s3.put_object(Bucket="issue16-judged", Key="backup/docs/f01.bin", Body=b"rewritten later")
    s3_client(tmp_path / "targets", "nas", "issue16-judged", s3_server, manifest="nas.parquet")

    result = drill(tmp_path / "targets", plan_file(tmp_path))

    assert result.exit_code == 1
    problems = restore_of(result.json(), "nas")["problems"]
    assert [(p["path"], p["reason"]) for p in problems] == [("docs/f01.bin", "size")]


# ---------------------------------------------------------------- one manifest per backup


STAMP = re.compile(r"^\d{8}T\d{6}Z\.parquet$")


def test_manifest_build_into_a_directory_names_the_file_by_utc_time(tmp_path: Path) -> None:
    source = tmp_path / "tree"
    source.mkdir()
    (source / "a.txt").write_text("a")
    before = datetime.now(UTC).replace(microsecond=0)
    slash = run_cli("manifest", "build", str(source), "--out", f"{tmp_path / 'new'}/",
                    "--format", "json")
    assert slash.exit_code == 0, slash.stderr
    written = Path(slash.json()["out"])
    assert written.parent == tmp_path / "new" and STAMP.match(written.name), written
    stamp = datetime.strptime(written.stem, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= stamp <= datetime.now(UTC)
    assert pq.read_table(written).column("path").to_pylist() == ["a.txt"]

    existing = tmp_path / "existing"
    existing.mkdir()
    plain = run_cli("manifest", "build", str(source), "--out", str(existing), "--format", "json")
    assert plain.exit_code == 0, plain.stderr
    assert Path(plain.json()["out"]).parent == existing
    assert STAMP.match(Path(plain.json()["out"]).name)


def _bad_copy(good: Path, out: Path) -> None:
    """The same rows with wrong digests: a drill that used this manifest would fail."""
    table = pq.read_table(good)
    bad = pc.if_else(pc.is_valid(table.column("xxh3_128")), "0" * 32, None)
    index = table.schema.get_field_index("xxh3_128")
    pq.write_table(table.set_column(index, "xxh3_128", pa.array(bad.to_pylist())), out)


def _name(moment: datetime) -> str:
    return f"{moment:%Y%m%dT%H%M%SZ}.parquet"


def test_restic_manifest_directory_uses_the_one_closest_to_the_snapshot(tmp_path: Path) -> None:
    repo, source = restic_estate(tmp_path, numbered_files(6))
    snapshot_time = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    repo.backup(source, time=snapshot_time.strftime(TIME_FORMAT))
    series = tmp_path / "targets" / "manifests" / "fs1"
    series.mkdir(parents=True)
    good = manifest_of(source, series / _name(snapshot_time + timedelta(minutes=2)))
    _bad_copy(good, series / _name(snapshot_time - timedelta(days=7)))
    _bad_copy(good, series / _name(snapshot_time + timedelta(hours=2)))  # the newest, wrong
    (series / "notes.txt").write_text("not a manifest")
    restic_client(tmp_path / "targets", "fs1", repo, manifest="manifests/fs1/")

    result = drill(tmp_path / "targets", plan_file(tmp_path))

    assert result.exit_code == 0, result.stdout + result.stderr
    sample = check_of(result.json(), "fs1", "restore.sample")
    assert sample["status"] == "pass"
    chosen = sample["evidence"]["manifest"]
    assert chosen["location"] == str(good)
    assert chosen["series"]["candidates"] == 3
    assert chosen["series"]["backup_time"].startswith(f"{snapshot_time:%Y-%m-%dT%H:%M:%S}")
    assert good.name in sample["message"]


def test_s3_manifest_prefix_uses_the_one_closest_to_the_backup(tmp_path: Path,
                                                              s3_server: S3Server) -> None:
    s3, source = s3_estate(s3_server, "issue16-series", tmp_path, numbered_files(6))
    now = datetime.now(UTC)
    good = manifest_of(source, tmp_path / "good.parquet")
    bad = tmp_path / "bad.parquet"
    _bad_copy(good, bad)
    for moment, path in ((now - timedelta(days=3), bad), (now - timedelta(minutes=1), good),
                         (now + timedelta(days=2), bad)):
        s3.put_object(Bucket="issue16-series", Key=f"manifests/{_name(moment)}",
                      Body=path.read_bytes())
    s3_client(tmp_path / "targets", "nas", "issue16-series", s3_server,
              manifest="s3://issue16-series/manifests/")

    result = drill(tmp_path / "targets", plan_file(tmp_path))

    assert result.exit_code == 0, result.stdout + result.stderr
    sample = check_of(result.json(), "nas", "restore.sample")
    assert sample["status"] == "pass"
    location = sample["evidence"]["manifest"]["location"]
    assert location == f"s3://issue16-series/manifests/{_name(now - timedelta(minutes=1))}"


def test_an_empty_manifest_directory_is_an_error(tmp_path: Path) -> None:
    repo, source = restic_estate(tmp_path, numbered_files(2))
    repo.backup(source)
    (tmp_path / "targets" / "series").mkdir(parents=True)
    restic_client(tmp_path / "targets", "fs1", repo, manifest="series/")

    result = drill(tmp_path / "targets", plan_file(tmp_path))

    assert result.exit_code == 3, result.stdout + result.stderr
    sample = check_of(result.json(), "fs1", "restore.sample")
    assert sample["status"] == "error"
    assert sample["message"].startswith("manifest not found: no YYYYMMDDTHHMMSSZ.parquet in ")
