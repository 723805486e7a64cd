"""Issue 13: a manifest that is gone (a delete marker on top of it) is ``restore.sample``
``error`` for its target alone; an ``s3://`` manifest of a restic target is fetched from the
repository's endpoint, or from ``manifest_endpoint_url``."""

from __future__ import annotations

from pathlib import Path

from backupcheck.manifest.build import build_manifest
from tests.conftest import S3Server, statuses, write_client
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
from tests.restic_helpers import init_s3_repo, make_tree, target_toml


def _upload_manifest(server: S3Server, bucket: str, key: str, source: Path, tmp: Path) -> None:
    out = tmp / f"{bucket}.parquet"
    build_manifest(source, out, workers=1)
    server.client().put_object(Bucket=bucket, Key=key, Body=out.read_bytes())


def test_manifest_behind_a_delete_marker_is_an_error_of_its_target(
        tmp_path: Path, s3_server: S3Server) -> None:
    targets = tmp_path / "targets"
    files = numbered_files(4, seed=13)
    s3, source = s3_estate(s3_server, "issue13-marker", tmp_path / "s3", files)
    _upload_manifest(s3_server, "issue13-marker", "manifests/latest.parquet", source, tmp_path)
    s3.delete_object(Bucket="issue13-marker", Key="manifests/latest.parquet")  # a marker
    s3_client(targets, "s3gone", "issue13-marker", s3_server,
              manifest="s3://issue13-marker/manifests/latest.parquet")

    repo = init_s3_repo(s3_server, "issue13-rmarker", tmp_path / "r")
    rsource = make_tree(tmp_path / "rsrc", numbered_files(3, seed=14))
    repo.backup(rsource)
    _upload_manifest(s3_server, "issue13-rmarker", "manifests/fs1.parquet", rsource, tmp_path)
    s3.delete_object(Bucket="issue13-rmarker", Key="manifests/fs1.parquet")
    write_client(targets, "rgone", target_toml(
        "rgone", repo, extra='manifest = "s3://issue13-rmarker/manifests/fs1.parquet"\n',
))

    local, local_source = restic_estate(tmp_path / "l", numbered_files(3, seed=15))
    local.backup(local_source)
    restic_client(targets, "healthy", local, source=local_source)

    result = drill(targets, plan_file(tmp_path), tmp_path / "history")

    assert result.exit_code == 3, result.stdout + result.stderr
    doc = result.json()
    assert statuses(doc, "healthy")["restore.sample"] == "pass"
    for name, where in (("s3gone", "s3://issue13-marker/manifests/latest.parquet"),
                        ("rgone", "s3://issue13-rmarker/manifests/fs1.parquet")):
        sample = check_of(doc, name, "restore.sample")
        assert sample["status"] == "error", (name, sample)
        assert sample["message"].startswith(f"manifest not found: {where}"), sample
        assert statuses(doc, name)["restore.rto"] == "pass", name
    assert (tmp_path / "history" / "runs").is_dir()


def test_manifest_endpoint_url_names_where_an_s3_manifest_lives(
        tmp_path: Path, s3_server: S3Server) -> None:
    """A local repository's ``s3://`` manifest on another S3 server, and an S3 repository's
    manifest on its own endpoint (the default): both are found and prove the files."""
    targets = tmp_path / "targets"
    s3, _ = s3_estate(s3_server, "issue13-mfs", tmp_path / "s3", {}, upload=False)
    local, local_source = restic_estate(tmp_path / "l", numbered_files(3, seed=16))
    local.backup(local_source)
    _upload_manifest(s3_server, "issue13-mfs", "fs1.parquet", local_source, tmp_path)
    restic_client(targets, "elsewhere", local, manifest="s3://issue13-mfs/fs1.parquet")
    with (targets / "elsewhere.toml").open("a", encoding="utf-8") as out:
        out.write(f'manifest_endpoint_url = "{s3_server.url}"\n')

    repo = init_s3_repo(s3_server, "issue13-mown", tmp_path / "r")
    rsource = make_tree(tmp_path / "rsrc", numbered_files(3, seed=17))
    repo.backup(rsource)
    _upload_manifest(s3_server, "issue13-mown", "m/fs1.parquet", rsource, tmp_path)
    write_client(targets, "own", target_toml(
        "own", repo, extra='manifest = "s3://issue13-mown/m/fs1.parquet"\n'))

    result = drill(targets, plan_file(tmp_path))

    doc = result.json()
    for name in ("elsewhere", "own"):
        sample = check_of(doc, name, "restore.sample")
        assert sample["status"] == "pass", (name, sample)
