"""An S3 target naming an AWS profile this machine does not have: a clear `error`, exit 3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import S3Server, statuses, write_client


def test_unknown_profile_is_a_clear_target_error(cli: Any, tmp_path: Path, s3_server: S3Server,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    write_client(tmp_path / "targets", "acme", f'''
client = "acme"
rpo = "26h"
rto = "4h"
[[targets]]
name = "acme-s3"
kind = "s3"
bucket = "some-bucket"
endpoint_url = "{s3_server.url}"
profile = "no-such-profile"
''')
    result = cli("verify", "--targets", str(tmp_path / "targets"), "--format", "json")
    assert result.exit_code == 3
    checks = statuses(result.json(), "acme-s3")
    assert set(checks.values()) == {"error"}
    message = result.json()["clients"][0]["targets"][0]["checks"][0]["message"]
    assert "no-such-profile" in message and "not configured" in message
    assert "internal error" not in result.stdout
