"""Issue 16: an honest message for every verdict of ``restore.sample``: what was compared with
what, how many, and which source of ground truth (named per file in the evidence)."""

from __future__ import annotations

from pathlib import Path

import xxhash

from tests.conftest import S3Server
from tests.drill_helpers import (
    check_of,
    drill,
    numbered_files,
    plan_file,
    restic_client,
    restic_estate,
    s3_client,
    s3_estate,
)

NO_TRUTH = "no ground truth (no manifest, no xxh3-128 metadata, no source)"


def test_a_changed_live_source_is_named_not_called_missing_truth(tmp_path: Path) -> None:
    files = numbered_files(5)
    repo, source = restic_estate(tmp_path, files)
    repo.backup(source)
    for rel in files:
        (source / rel).write_bytes(b"the live file moved on after the snapshot")
    restic_client(tmp_path / "targets", "fs1", repo, source=source)

    result = drill(tmp_path / "targets", plan_file(tmp_path))

    sample = check_of(result.json(), "fs1", "restore.sample")
    assert sample["status"] == "warn"
    assert NO_TRUTH not in sample["message"]
    assert "5 of 5 files restored but unproven" in sample["message"]
    assert "live source changed since the snapshot" in sample["message"]
    assert {f["note"] for f in sample["evidence"]["files"]} == {
        "live source changed since the snapshot"}


def test_nothing_configured_says_so(tmp_path: Path) -> None:
    repo, source = restic_estate(tmp_path, numbered_files(2))
    repo.backup(source)
    restic_client(tmp_path / "targets", "fs1", repo)

    result = drill(tmp_path / "targets", plan_file(tmp_path))

    sample = check_of(result.json(), "fs1", "restore.sample")
    assert sample["status"] == "warn" and NO_TRUTH in sample["message"]


def test_self_attested_metadata_is_named_per_file(tmp_path: Path, s3_server: S3Server) -> None:
    files = numbered_files(4)
    s3, _ = s3_estate(s3_server, "issue16-attested", tmp_path, {})
    for rel, data in files.items():
        s3.put_object(Bucket="issue16-attested", Key=f"backup/{rel}", Body=data,
                      Metadata={"xxh3-128": xxhash.xxh3_128(data).hexdigest()})
    s3_client(tmp_path / "targets", "nas", "issue16-attested", s3_server)

    result = drill(tmp_path / "targets", plan_file(tmp_path))

    assert result.exit_code == 0, result.stdout + result.stderr
    sample = check_of(result.json(), "nas", "restore.sample")
    assert sample["status"] == "pass"
    assert "4 of 4 sampled files restored byte for byte" in sample["message"]
    assert "self-attested x-amz-meta-xxh3-128" in sample["message"]
    assert sample["evidence"]["truth_sources"] == {"metadata": 4}
    assert {(f["path"], f["truth"]) for f in sample["evidence"]["files"]} == {
        (rel, "metadata") for rel in files}
