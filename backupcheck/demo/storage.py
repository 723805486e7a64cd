"""Writing the demo's backups: object-locked buckets, uploads, restic repositories.

This is the *backup software's* side of the demo (it writes, with its own unguarded S3
client); backupcheck itself only ever reads what is built here. Credentials are the fake
``backupcheck-demo`` profile of the estate's own credentials file, never real ones: the
restic child processes get a cleaned environment without the caller's AWS or restic
variables.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from backupcheck.demo.data import FileSpec
from backupcheck.errors import BackupcheckError

PROFILE = "backupcheck-demo"
REGION = "us-east-1"
FAKE_KEY = "backupcheck-demo"
PUBLIC_ACCESS_BLOCKED = {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                         "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
UPLOAD_THREADS = 8


class DemoError(BackupcheckError):
    """The demo estate could not be built."""


class ResticMissing(DemoError):
    """No restic binary: the demo needs it for its repositories (exit 3, as for targets)."""

    exit_code = 3


@dataclass(frozen=True)
class Layout:
    """Where the estate's parts live under ``root``."""

    root: Path

    @property
    def targets(self) -> Path:
        return self.root / "targets"

    @property
    def plan(self) -> Path:
        return self.root / "restore_tests" / "weekly.toml"

    @property
    def history(self) -> Path:
        return self.root / "history"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def manifests(self) -> Path:
        return self.root / "manifests"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def restic(self) -> Path:
        return self.root / "restic"

    @property
    def aws_credentials(self) -> Path:
        return self.root / "aws" / "credentials"

    @property
    def aws_config(self) -> Path:
        return self.root / "aws" / "config"


def config_text() -> str:
    """The estate's own AWS config file: the profile's region, nothing of the user's."""
    return f"[profile {PROFILE}]\nregion = {REGION}\n"


def credentials_text() -> str:
    """The fake profile moto accepts (it checks signatures' shape, not keys)."""
    return (f"[{PROFILE}]\naws_access_key_id = {FAKE_KEY}\n"
            f"aws_secret_access_key = {FAKE_KEY}\n")


def writer_client(url: str, service: str = "s3") -> Any:
    """An unguarded client of the demo server, for the backup software's writes."""
    session = boto3.session.Session(aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_KEY,
                                    region_name=REGION)
    return session.client(service, endpoint_url=url,
                          config=Config(max_pool_connections=4 * UPLOAD_THREADS))


@dataclass(frozen=True)
class BucketSpec:
    name: str
    lock_mode: str = "COMPLIANCE"
    lock_days: int = 30
    #: None: SSE-S3 (AES256); else the KMS key ARN for SSE-KMS
    kms_key_arn: str | None = None


def create_bucket(s3: Any, spec: BucketSpec) -> None:
    """Versioned, Object Lock with a default retention, default encryption, no public access."""
    s3.create_bucket(Bucket=spec.name, ObjectLockEnabledForBucket=True)
    s3.put_bucket_versioning(Bucket=spec.name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=spec.name, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": spec.lock_mode, "Days": spec.lock_days}}})
    default: dict[str, str] = {"SSEAlgorithm": "AES256"}
    if spec.kms_key_arn:
        default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": spec.kms_key_arn}
    s3.put_bucket_encryption(Bucket=spec.name, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": default,
                   "BucketKeyEnabled": bool(spec.kms_key_arn)}]})
    s3.put_public_access_block(Bucket=spec.name,
                               PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCKED)


class Interrupted(DemoError):
    """The build was told to stop (Ctrl-C in the main thread, or another job failed)."""


def upload_files(s3: Any, bucket: str, prefix: str, root: Path, specs: Sequence[FileSpec],
                 digests: Mapping[str, str] | None, stop: threading.Event | None = None
                 ) -> dict[str, str]:
    """Upload ``root/<path>`` in order (the last is the newest object); digests as metadata.
    Returns each path's object version id. Raises Interrupted once ``stop`` is set.
    """
    def put(spec: FileSpec) -> tuple[str, str]:
        if stop is not None and stop.is_set():
            raise Interrupted("interrupted")
        extra: dict[str, Any] = {}
        if digests is not None:
            extra["Metadata"] = {"xxh3-128": digests[spec.path]}
        answer = s3.put_object(Bucket=bucket, Key=prefix + spec.path,
                               Body=(root / spec.path).read_bytes(), **extra)
        return spec.path, str(answer.get("VersionId") or "")

    # all but the last in parallel, then the last alone, so it is the newest object
    with ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="upload") as pool:
        versions = dict(pool.map(put, specs[:-1]))
    if specs:
        versions.update([put(specs[-1])])
    return versions


# ---------------------------------------------------------------- restic


def restic_binary() -> str:
    found = shutil.which("restic")
    if found is None:
        raise ResticMissing("the demo needs restic for its repositories: install it "
                            "(Debian: apt-get install restic) and run the demo again")
    return found


def restic_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without AWS or restic settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RESTIC_"))}
    env.update(extra)
    return env


@dataclass(frozen=True)
class ResticRepo:
    repository: str
    password_file: Path
    env: Mapping[str, str]

    def run(self, *args: str) -> str:
        command = [restic_binary(), "--repo", self.repository, "--password-file",
                   str(self.password_file), "--no-cache", "--quiet", *args]
        result = subprocess.run(command, env=restic_env(self.env), capture_output=True,
                                text=True, timeout=300, check=False)
        if result.returncode != 0:
            detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise DemoError(f"restic {args[0]} for {self.repository} failed: {detail}")
        return result.stdout

    def init(self) -> None:
        self.run("init")

    def backup(self, source: Path, *, host: str, moment: datetime, tags: Sequence[str] = ()
               ) -> None:
        """A snapshot of ``source`` dated ``moment`` (restic reads ``--time`` as local time)."""
        local = moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        tag_args = [f"--tag={t}" for t in tags]
        self.run("backup", "--host", host, "--time", local, *tag_args, str(source))
