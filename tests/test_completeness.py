"""Issue 16, situations 1 and 2: the manifest held against the whole backup listing.

1. Files the manifest lists but the backup lacks are ``missing`` (restic: excluded files; S3:
   a deleted object and objects never uploaded); files only in the backup are counted.
2. A wrong manifest (empty, another client's) fails as "wrong manifest?"; a missing or
   unreadable one is ``error`` for that target only, and every other target still runs.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from backupcheck.manifest.schema import MANIFEST_SCHEMA
from tests.conftest import S3Server, statuses
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
)
from tests.restic_helpers import make_tree

# ---------------------------------------------------------------- 1. missing files


def test_restic_files_the_backup_excluded_are_missing(tmp_path: Path) -> None:
    kept = numbered_files(20)
    skipped = numbered_files(10, seed=7, prefix="docs/skip-")
    repo, source = restic_estate(tmp_path, {**kept, **skipped})
    manifest = manifest_of(source, tmp_path / "targets" / "fs1.parquet")
    repo.restic("backup", str(source), "--exclude", "skip-*")
    restic_client(tmp_path / "targets", "fs1", repo, manifest="fs1.parquet")

    result = drill(tmp_path / "targets", plan_file(tmp_path))

    assert result.exit_code == 1, result.stdout + result.stderr
    doc = result.json()
    sample = check_of(doc, "fs1", "restore.sample")
    assert sample["status"] == "fail"
    assert "10 of the manifest's 30 files are missing from the backup" in sample["message"]
    evidence = sample["evidence"]["manifest"]
    assert evidence["location"] == str(manifest)
    assert evidence["manifest_files"] == 30 and evidence["backup_files"] == 20
    assert evidence["missing"] == 10
    assert set(evidence["missing_examples"]) <= set(skipped) and evidence["missing_examples"]
    restore = restore_of(doc, "fs1")
    assert restore["missing"] == 10
    assert {p["path"] for p in restore["problems"] if p["reason"] == "missing"} == set(skipped)
    assert restore["verified"] == restore["sampled"] == 20  # what is there restored fine


def test_restic_files_newer_than_the_manifest_are_counted_not_failed(tmp_path: Path) -> None:
    repo, source = restic_estate(tmp_path, numbered_files(12))
    manifest_of(source, tmp_path / "targets" / "fs1.parquet")
    make_tree(source, {"new/after-manifest-1.txt": b"one", "new/after-manifest-2.txt": b"two"})
    repo.backup(source)
    restic_client(tmp_path / "targets", "fs1", repo, manifest="fs1.parquet")

    result = drill(tmp_path / "targets", plan_file(tmp_path, files=3, include_newest=False))

    doc = result.json()
    sample = check_of(doc, "fs1", "restore.sample")
    assert sample["evidence"]["manifest"]["not_in_manifest"] == 2
    assert sample["evidence"]["manifest"]["missing"] == 0
    assert sample["status"] in ("pass", "warn")  # unproven new files are not a failure
    assert result.exit_code == 0, result.stdout + result.stderr


def test_s3_deleted_and_never_uploaded_objects_are_missing(tmp_path: Path,
                                                           s3_server: S3Server) -> None:
    files = numbered_files(15)
    s3, source = s3_estate(s3_server, "issue16-missing", tmp_path, files, upload=False)
    manifest_of(source, tmp_path / "targets" / "nas.parquet")
    never = ["docs/f03.bin", "docs/f09.bin"]
    for rel, data in files.items():
        if rel not in never:
            s3.put_object(Bucket="issue16-missing", Key=f"backup/{rel}", Body=data)
    s3.delete_object(Bucket="issue16-missing", Key="backup/docs/f11.bin")  # a delete marker
    s3_client(tmp_path / "targets", "nas", "issue16-missing", s3_server, manifest="nas.parquet")

    result = drill(tmp_path / "targets", plan_file(tmp_path))

    assert result.exit_code == 1, result.stdout + result.stderr
    doc = result.json()
    sample = check_of(doc, "nas", "restore.sample")
    assert sample["status"] == "fail"
    assert "3 of the manifest's 15 files are missing from the backup" in sample["message"]
    assert sample["evidence"]["manifest"]["missing"] == 3
    missing = {p["path"] for p in restore_of(doc, "nas")["problems"] if p["reason"] == "missing"}
    assert missing == {*never, "docs/f11.bin"}


# ---------------------------------------------------------------- 2. wrong manifest


def _empty_manifest(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(MANIFEST_SCHEMA.empty_table(), path)
    return path


def test_restic_empty_or_foreign_manifest_is_a_wrong_manifest(tmp_path: Path) -> None:
    repo, source = restic_estate(tmp_path, numbered_files(8))
    repo.backup(source)
    targets = tmp_path / "targets"
    _empty_manifest(targets / "empty.parquet")
    foreign = make_tree(tmp_path / "other-client", {"hr/payroll.xlsx": b"pay",
                                                    "hr/contracts.pdf": b"pdf"})
    manifest_of(foreign, targets / "foreign.parquet")
    restic_client(targets, "empty", repo, manifest="empty.parquet")
    restic_client(targets, "foreign", repo, manifest="foreign.parquet")

    result = drill(targets, plan_file(tmp_path))

    assert result.exit_code == 1, result.stdout + result.stderr
    doc = result.json()
    empty = check_of(doc, "empty", "restore.sample")
    assert empty["status"] == "fail"
    assert "wrong manifest?" in empty["message"]
    assert str(targets / "empty.parquet") in empty["message"]
    assert "0 rows" in empty["message"]
    other = check_of(doc, "foreign", "restore.sample")
    assert other["status"] == "fail" and "wrong manifest?" in other["message"]
    assert "2 rows" in other["message"]
    evidence = other["evidence"]["manifest"]
    assert set(evidence["manifest_examples"]) == {"hr/payroll.xlsx", "hr/contracts.pdf"}
    assert set(evidence["backup_examples"]) <= set(numbered_files(8))
    assert evidence["backup_examples"]


def test_s3_foreign_manifest_is_a_wrong_manifest(tmp_path: Path, s3_server: S3Server) -> None:
    s3_estate(s3_server, "issue16-foreign", tmp_path, numbered_files(6))
    foreign = make_tree(tmp_path / "other", {"a/b.txt": b"b", "a/c.txt": b"c", "d.txt": b"d"})
    manifest_of(foreign, tmp_path / "targets" / "other.parquet")
    s3_client(tmp_path / "targets", "nas", "issue16-foreign", s3_server,
              manifest="other.parquet")

    result = drill(tmp_path / "targets", plan_file(tmp_path))

    assert result.exit_code == 1, result.stdout + result.stderr
    sample = check_of(result.json(), "nas", "restore.sample")
    assert sample["status"] == "fail" and "wrong manifest?" in sample["message"]
    assert "3 rows" in sample["message"]


def test_missing_manifest_is_an_error_of_that_target_only(tmp_path: Path,
                                                          s3_server: S3Server) -> None:
    repo, source = restic_estate(tmp_path, numbered_files(5))
    repo.backup(source)
    targets = tmp_path / "targets"
    restic_client(targets, "lost", repo, manifest="nowhere/fs1.parquet")
    restic_client(targets, "healthy", repo, source=source)
    (targets / "garbage.parquet").write_text("path,size\n", encoding="utf-8")
    s3_estate(s3_server, "issue16-lost", tmp_path / "s3", numbered_files(4))
    s3_client(targets, "s3lost", "issue16-lost", s3_server,
              manifest="s3://issue16-lost/manifests/none.parquet")
    s3_client(targets, "s3garbage", "issue16-lost", s3_server, manifest="garbage.parquet")

    result = drill(targets, plan_file(tmp_path))

    assert result.exit_code == 3, result.stdout + result.stderr
    doc = result.json()
    assert statuses(doc, "healthy")["restore.sample"] == "pass"
    lost = check_of(doc, "lost", "restore.sample")
    assert lost["status"] == "error"
    assert lost["message"].startswith(f"manifest not found: {targets / 'nowhere/fs1.parquet'}")
    s3lost = check_of(doc, "s3lost", "restore.sample")
    assert s3lost["status"] == "error"
    assert s3lost["message"].startswith("manifest not found: s3://issue16-lost/manifests/")
    garbage = check_of(doc, "s3garbage", "restore.sample")
    assert garbage["status"] == "error"
    assert garbage["message"].startswith(f"manifest unreadable: {targets / 'garbage.parquet'}")
    for name in ("lost", "s3lost", "s3garbage"):
        # the rest of the target was still checked and restored
        assert statuses(doc, name)["restore.rto"] == "pass", name


def test_manifest_with_a_bad_row_is_an_error_not_a_stop(tmp_path: Path) -> None:
    repo, source = restic_estate(tmp_path, numbered_files(3))
    repo.backup(source)
    targets = tmp_path / "targets"
    targets.mkdir()
    pq.write_table(pa.table({"path": ["docs/f00.bin"], "size": pa.array([1], pa.int64()),
                             "mtime_ns": pa.array([0], pa.int64()), "xxh3_128": ["zz" * 16]}),
                   targets / "bad.parquet")
    restic_client(targets, "bad", repo, manifest="bad.parquet")
    restic_client(targets, "good", repo, source=source)

    result = drill(targets, plan_file(tmp_path))

    assert result.exit_code == 3, result.stdout + result.stderr
    bad = check_of(result.json(), "bad", "restore.sample")
    assert bad["status"] == "error"
    assert "is not 32 hexadecimal digits" in bad["message"]
    assert statuses(result.json(), "good")["restore.sample"] == "pass"


def test_restic_symlinks_are_held_against_the_snapshot_s_symlinks(tmp_path: Path) -> None:
    repo, source = restic_estate(tmp_path, numbered_files(3))
    (source / "docs" / "current").symlink_to("f00.bin")
    (source / "docs" / "gone-link").symlink_to("f01.bin")
    manifest_of(source, tmp_path / "targets" / "fs1.parquet")
    (source / "docs" / "gone-link").unlink()
    repo.backup(source)
    restic_client(tmp_path / "targets", "fs1", repo, manifest="fs1.parquet")

    result = drill(tmp_path / "targets", plan_file(tmp_path))

    sample = check_of(result.json(), "fs1", "restore.sample")
    assert sample["status"] == "fail"
    assert sample["evidence"]["manifest"]["missing_examples"] == ["docs/gone-link"]
    assert sample["evidence"]["manifest"]["matched"] == 4  # three files and one link


def test_s3_object_listed_with_another_size_fails_without_being_sampled(
        tmp_path: Path, s3_server: S3Server) -> None:
    files = numbered_files(10)
    s3, source = s3_estate(s3_server, "issue16-sizes", tmp_path, files)
    manifest_of(source, tmp_path / "targets" / "nas.parquet")
    s3.put_object(Bucket="issue16-sizes", Key="backup/docs/f05.bin", Body=b"truncated")
    s3_client(tmp_path / "targets", "nas", "issue16-sizes", s3_server, manifest="nas.parquet")
    plan = plan_file(tmp_path, files=1, include_newest=False)

    for seed in range(1, 6):  # whichever file is sampled, the listing has found it
        result = drill(tmp_path / "targets", plan, None, "--seed", str(seed))
        doc = result.json()
        restore = restore_of(doc, "nas")
        assert result.exit_code == 1
        assert [(p["path"], p["reason"]) for p in restore["problems"]] == [
            ("docs/f05.bin", "size")]
        sample = check_of(doc, "nas", "restore.sample")
        assert sample["status"] == "fail"
        if restore["files"][0]["path"] != "docs/f05.bin":
            assert "1 object listed with another size than the manifest's (not restored)" \
                in sample["message"]
            assert sample["evidence"]["manifest"]["size_differs"] == 1
