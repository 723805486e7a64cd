"""An S3-compatible server without Object Lock, versioning or ListObjectVersions.

Such servers (older MinIO gateways, some NAS appliances, small S3 clones) answer those
operations with ``501 NotImplemented`` or ``405 MethodNotAllowed``, as AWS documents for
operations a service does not implement. moto implements them all, so the answer is injected:
the tool's real, guarded client talks to the real moto server, and only the named operations
are answered by a botocore ``before-call`` handler with that error, as such a server would.

What the server cannot tell is unknown, never false: inventory says "unknown (server does
not support ...)", the listing falls back to ListObjectsV2, and the checks that need versions
say ``error`` with that reason.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from backupcheck.backends import s3_backend
from tests.conftest import S3Server, write_client
from tests.test_s3_verify import _block_public, _encrypt, _put

BUCKET = "unsupported-clone"
UNSUPPORTED = ("GetBucketVersioning", "GetObjectLockConfiguration", "ListObjectVersions")


def answer_unsupported(monkeypatch: pytest.MonkeyPatch, code: str, status: int) -> None:
    real_make_client = s3_backend.make_s3_client

    def refuse(**_: Any) -> tuple[Any, dict[str, Any]]:
        parsed = {"Error": {"Code": code, "Message": "not implemented by this server"},
                  "ResponseMetadata": {"HTTPStatusCode": status}}
        return SimpleNamespace(status_code=status, headers={}), parsed

    def make_client(**kwargs: Any) -> Any:
        client = real_make_client(**kwargs)
        for operation in UNSUPPORTED:
            client.meta.events.register(f"before-call.s3.{operation}", refuse)
        return client

    monkeypatch.setattr(s3_backend, "make_s3_client", make_client)


@pytest.fixture(scope="module")
def targets(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    s3 = s3_server.client()
    s3.create_bucket(Bucket=BUCKET)  # no versioning, no lock: what such a server holds
    _encrypt(s3, BUCKET)
    _block_public(s3, BUCKET)
    _put(s3, BUCKET, "Veeam/full.vbk", "Veeam/incr-1.vib")
    directory = tmp_path_factory.mktemp("unsupported") / "targets"
    write_client(directory, "clone", f'''client = "clone"
rpo = "26h"
rto = "4h"

[[targets]]
name = "clone"
kind = "s3"
bucket = "{BUCKET}"
endpoint_url = "{s3_server.url}"
region = "us-east-1"
''')
    return directory


@pytest.mark.parametrize(("code", "status"), [("NotImplemented", 501),
                                              ("MethodNotAllowed", 405)])
def test_inventory_says_unknown_not_off(cli: Any, targets: Path, monkeypatch: pytest.MonkeyPatch,
                                        code: str, status: int) -> None:
    answer_unsupported(monkeypatch, code, status)
    result = cli("inventory", "--targets", str(targets), "--format", "json")
    assert "Traceback" not in result.stderr
    inventory = result.json()["clients"][0]["targets"][0]["inventory"]
    assert inventory["lock_mode"] == (
        "unknown (server does not support GetObjectLockConfiguration)")
    assert inventory["object_lock_enabled"] == (
        "unknown (server does not support GetObjectLockConfiguration)")
    assert inventory["versioning"] == "unknown (server does not support GetBucketVersioning)"
    assert inventory["versions"] == "unknown (server does not support ListObjectVersions)"
    assert inventory["delete_markers"] == inventory["versions"]
    # the listing fell back to ListObjectsV2: the current objects are still counted
    assert inventory["objects"] == 2
    assert inventory["newest"] is not None


def test_checks_that_need_what_the_server_cannot_tell_are_error(
        cli: Any, targets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answer_unsupported(monkeypatch, "NotImplemented", 501)
    result = cli("verify", "--targets", str(targets), "--format", "json")
    checks = {c["id"]: c for c in result.json()["clients"][0]["targets"][0]["checks"]}
    status = {i: c["status"] for i, c in checks.items()}
    for unknown in ("s3.versioning", "s3.object_lock", "s3.object_lock.mode",
                    "s3.object_lock.retention"):
        assert status[unknown] == "error", unknown
        assert "server does not support" in checks[unknown]["message"]
    for needs_versions in ("s3.objects.overwritten", "s3.delete_markers"):
        assert status[needs_versions] == "error"
        assert "ListObjectVersions" in checks[needs_versions]["message"]
    # HEAD still answers, and says the objects carry no retention: that is a fact, a failure
    assert status["s3.objects.locked"] == "fail"
    assert checks["s3.objects.locked"]["evidence"]["checked"] == 2
    assert status["s3.freshness"] == "pass"  # from the ListObjectsV2 listing
    assert status["s3.encryption"] == "pass"
    assert result.exit_code == 1
