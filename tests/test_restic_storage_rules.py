"""A restic repository in a locked bucket whose lifecycle rule undoes the lock.

The bucket itself is COMPLIANCE 30 d, but a rule expires noncurrent versions under the
repository's prefix after a day: after a prune, the repository's old packs are gone the day
their lock ends. ``restic.storage.immutable`` runs ``s3.lifecycle`` and ``s3.bucket_policy``
on the repository's bucket and prefix, read from the real (moto) server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import S3Server, write_client
from tests.restic_helpers import init_s3_repo, make_tree, target_toml


def test_lifecycle_rule_on_the_repository_prefix_fails_storage(
        cli: Any, s3_server: S3Server, tmp_path: Path) -> None:
    repo = init_s3_repo(s3_server, "restic-lifecycle", tmp_path / "repo", prefix="restic")
    repo.backup(make_tree(tmp_path / "share", {"q3.xlsx": b"figures\n" * 100}))
    s3 = s3_server.client()
    s3.put_bucket_lifecycle_configuration(Bucket="restic-lifecycle", LifecycleConfiguration={
        "Rules": [{"ID": "old-packs", "Status": "Enabled", "Filter": {"Prefix": "restic/data/"},
                   "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
                  {"ID": "elsewhere", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
                   "Expiration": {"Days": 1}}]})
    targets = tmp_path / "targets"
    write_client(targets, "rl-lifecycle", target_toml("rl-lifecycle", repo))
    result = cli("verify", "--targets", str(targets), "--format", "json",
                 "--read-data-subset", "")
    assert "Traceback" not in result.stderr
    checks = {c["id"]: c for c in result.json()["clients"][0]["targets"][0]["checks"]}
    storage = checks["restic.storage.immutable"]
    assert storage["status"] == "fail", storage["message"]
    assert "old-packs" in storage["message"] and "elsewhere" not in storage["message"]
    subs = {c["id"]: c["status"] for c in storage["evidence"]["bucket_checks"]}
    assert subs["s3.lifecycle"] == "fail" and subs["s3.bucket_policy"] == "pass"
    assert result.exit_code == 1
