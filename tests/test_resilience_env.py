"""Issue 13: the ``env`` refusal of an AWS secret points to profiles, not to passwords."""

from __future__ import annotations

from pathlib import Path

import pytest

from backupcheck.config import load_client
from backupcheck.errors import ConfigError
from tests.conftest import write_client

BODY = ('client = "acme"\nrpo = "26h"\nrto = "4h"\n[[targets]]\nname = "fs1"\nkind = "restic"\n'
        'repository = "s3:https://s3.example.com/b"\npassword_env = "PW"\n'
        'env = {{ {key} = "x" }}\n')


@pytest.mark.parametrize("key", ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"])
def test_an_aws_secret_in_env_points_to_a_profile(tmp_path: Path, key: str) -> None:
    path = write_client(tmp_path, "acme", BODY.format(key=key))
    with pytest.raises(ConfigError) as caught:
        load_client(path)
    message = str(caught.value)
    assert f"{path}:9: targets[0].env: {key} is a secret" in message
    assert "AWS_PROFILE" in message and "password_file" not in message


def test_restic_password_in_env_still_points_to_the_password_options(tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme", BODY.format(key="RESTIC_PASSWORD"))
    with pytest.raises(ConfigError, match="password_file, password_command or password_env"):
        load_client(path)
