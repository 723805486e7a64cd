"""Real restic repositories for tests: on local disk or on the moto S3 server.

Everything here calls the real restic binary (the tests' job is to write backups; the tool
under test never may). Reused by the verify, drill and demo tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backupcheck.backends.resticrepo.storage import LocalStorage

RESTIC = shutil.which("restic") or "/usr/bin/restic"
PASSWORD = "test-repo-password-3f9a"
#: restic's ``backup --time`` format (local time; the test machines run in UTC)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class Repo:
    """A restic repository the tests can write to."""

    repository: str
    password_file: Path
    password: str
    extra_env: dict[str, str] = field(default_factory=dict)
    #: for an S3 repository: bucket and prefix on the moto server
    bucket: str = ""
    prefix: str = ""

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        env.update(self.extra_env)
        env.update(RESTIC_REPOSITORY=self.repository,
                   RESTIC_PASSWORD_FILE=str(self.password_file))
        env.update(extra)
        return env

    def restic(self, *args: str, cwd: Path | None = None, check: bool = True,
               env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([RESTIC, *args], cwd=cwd, env=dict(env or self.env()),
                                capture_output=True, text=True, timeout=120, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"restic {' '.join(args)} failed ({result.returncode}): "
                                 f"{result.stderr.strip()}")
        return result

    def backup(self, *sources: str | Path, time: str | None = None, host: str | None = None,
               tags: Sequence[str] = (), cwd: Path | None = None) -> str:
        """Back up ``sources`` (relative ones against ``cwd``); returns the *short* snapshot id.

        (restic 0.14's summary only has the short id; ``snapshots()`` has the full ones.)
        """
        args = ["backup", "--json", *(str(s) for s in sources)]
        if time:
            args += ["--time", time]
        if host:
            args += ["--host", host]
        for tag in tags:
            args += ["--tag", tag]
        out = self.restic(*args, cwd=cwd).stdout
        for line in out.splitlines():
            doc = json.loads(line) if line.startswith("{") else {}
            if doc.get("message_type") == "summary":
                return str(doc["snapshot_id"])
        raise AssertionError(f"no summary in restic backup output: {out[-500:]}")

    def add_key(self, password: str, directory: Path) -> None:
        new = directory / f"new-key-{abs(hash(password))}.pass"
        new.write_text(password + "\n", encoding="utf-8")
        self.restic("key", "add", "--new-password-file", str(new))

    def snapshots(self) -> list[dict[str, Any]]:
        doc: list[dict[str, Any]] = json.loads(self.restic("snapshots", "--json").stdout)
        return doc


class CountingStorage(LocalStorage):
    """A local repository read by the native reader, recording every read: (kind, name,
    length). Used to count the requests a read plan makes."""

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        self.reads: list[tuple[str, str, int | None]] = []
        self._lock = threading.Lock()

    def read(self, kind: str, name: str, offset: int = 0, length: int | None = None) -> bytes:
        with self._lock:
            self.reads.append((kind, name, length))
        return super().read(kind, name, offset, length)


def write_password(path: Path, password: str = PASSWORD) -> Path:
    path.write_text(password + "\n", encoding="utf-8")
    return path


def init_local_repo(directory: Path, name: str = "repo", password: str = PASSWORD) -> Repo:
    """A new repository at ``directory/name`` with its password file beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    repo = Repo(str(directory / name), write_password(directory / f"{name}.pass", password),
                password)
    repo.restic("init")
    return repo


def create_bucket(s3: Any, bucket: str, *, lock_mode: str | None = "COMPLIANCE",
                  lock_days: int = 30) -> None:
    """A bucket; with ``lock_mode`` versioned, Object Lock on, that default retention."""
    if lock_mode is None:
        s3.create_bucket(Bucket=bucket)
        return
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": lock_mode, "Days": lock_days}}})


def init_s3_repo(server: Any, bucket: str, directory: Path, *, prefix: str = "restic",
                 lock_mode: str | None = "COMPLIANCE", lock_days: int = 30,
                 password: str = PASSWORD, create: bool = True, init: bool = True) -> Repo:
    """A repository at ``s3:<server>/<bucket>/<prefix>`` (bucket created unless ``create``,
    ``restic init`` run unless ``init``: the objects are already there)."""
    if create:
        create_bucket(server.client(), bucket, lock_mode=lock_mode, lock_days=lock_days)
    directory.mkdir(parents=True, exist_ok=True)
    repo = Repo(f"s3:{server.url}/{bucket}/{prefix}",
                write_password(directory / f"{bucket}.pass", password), password,
                extra_env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": "us-east-1"},
                bucket=bucket, prefix=prefix)
    if init:
        repo.restic("init")
    return repo


def make_tree(root: Path, files: Mapping[str, bytes]) -> Path:
    """Files under ``root`` (relative names, ``/``-separated); returns ``root``."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]


def corrupt_biggest_pack(repo: Repo, s3: Any = None) -> str:
    """Flip one byte in the middle of the biggest data pack; returns its name.

    Local: restic makes pack files read-only, so the mode is lifted first. S3: a new object
    version with the damaged bytes (needs an unguarded client, ``s3``).
    """
    if repo.bucket:
        assert s3 is not None, "an S3 repository needs an unguarded client"
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=repo.bucket, Prefix=f"{repo.prefix}/data/")
        objects = [o for page in pages for o in page.get("Contents", [])]
        biggest = max(objects, key=lambda o: o["Size"])["Key"]
        body = s3.get_object(Bucket=repo.bucket, Key=biggest)["Body"].read()
        s3.put_object(Bucket=repo.bucket, Key=biggest, Body=_flip(body))
        return str(biggest)
    packs = [p for p in (Path(repo.repository) / "data").glob("*/*") if p.is_file()]
    biggest_path = max(packs, key=lambda p: p.stat().st_size)
    biggest_path.chmod(0o600)
    biggest_path.write_bytes(_flip(biggest_path.read_bytes()))
    return biggest_path.name


def target_toml(name: str, repo: Repo, *, password: str = "file", rpo: str = "26h",
                policy: str = "", password_env: str = "BACKUPCHECK_TEST_RESTIC_PW",
                extra: str = "", env: Mapping[str, str] | None = None) -> str:
    """A whole client file with one restic target named ``name`` (client named the same).

    ``password``: ``file`` (password_file), ``command`` (``cat`` of the file, so the secret
    is not in the command line) or ``env`` (password_env; the caller sets the variable).
    """
    body = f'client = "{name}"\nrpo = "{rpo}"\nrto = "4h"\n'
    if policy:
        body += f"\n[policy]\n{policy}\n"
    body += (f'\n[[targets]]\nname = "{name}"\nkind = "restic"\n'
             f'repository = "{repo.repository}"\n')
    if password == "file":
        body += f'password_file = "{repo.password_file}"\n'
    elif password == "command":
        body += f'password_command = "cat {repo.password_file}"\n'
    elif password == "env":
        body += f'password_env = "{password_env}"\n'
    else:
        raise ValueError(password)
    merged = {**repo.extra_env, **(env or {})}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # credentials: the environment
        merged.pop(key, None)
    if merged:
        body += "env = { " + ", ".join(f'{k} = "{v}"' for k, v in merged.items()) + " }\n"
    return body + extra
