"""Shared fixtures: a real moto S3 server on loopback, AWS test credentials, CLI runner."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from backupcheck.cli import app

logging.getLogger("werkzeug").setLevel(logging.ERROR)


@dataclass
class S3Server:
    url: str
    host: str
    port: int

    def client(self, service: str = "s3") -> Any:
        """An unguarded client for setting up fixtures (tests may write; the tool may not)."""
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="session", autouse=True)
def aws_test_credentials() -> Iterator[None]:
    """Test credentials in the environment; never real ones, never a real endpoint."""
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION", "AWS_PROFILE")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_PROFILE", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield S3Server(url=f"http://{host}:{port}", host=host, port=port)
    server.stop()


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str) -> CliResult:
    """Run the CLI in-process, stdout and stderr kept apart."""
    runner = CliRunner()
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli() -> Any:
    return run_cli


def write_client(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.toml"
    path.write_text(body, encoding="utf-8")
    return path


def target_of(document: dict[str, Any], name: str) -> dict[str, Any]:
    """One target's object of a JSON report."""
    for client in document["clients"]:
        for target in client["targets"]:
            if target["target"] == name:
                return dict(target)
    raise KeyError(name)


def statuses(document: dict[str, Any], target: str) -> dict[str, str]:
    """check id -> status for one target of a JSON report."""
    for client in document["clients"]:
        for t in client["targets"]:
            if t["target"] == target:
                return {c["id"]: c["status"] for c in t["checks"]}
    raise KeyError(target)
