"""Small estates for the restore-verdict tests (issue 16): a restic repository or an S3 prefix,
a manifest made at "backup time", a client file, a plan, and one drill through the CLI.

Everything writes with the real restic binary and an unguarded test S3 client; the tool under
test only ever reads.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backupcheck.manifest.build import build_manifest
from tests.conftest import S3Server, run_cli, target_of, write_client
from tests.restic_helpers import Repo, init_local_repo, make_tree, target_toml
from tests.test_drill_s3 import make_bucket


def numbered_files(count: int, seed: int = 16, prefix: str = "docs/f") -> dict[str, bytes]:
    """``count`` small files of random bytes, named ``docs/f00.bin`` …"""
    rng = random.Random(seed)
    return {f"{prefix}{i:02d}.bin": rng.randbytes(rng.randint(10, 3000)) for i in range(count)}


def plan_file(directory: Path, *, files: int = 50, subset: str = "",
              include_newest: bool = True, prefer_unverified: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "plan.toml"
    path.write_text(f'name = "issue16"\nfiles = {files}\nmax_bytes = "1GiB"\n'
                    f'read_data_subset = "{subset}"\njobs = 8\n'
                    f'include_newest = {str(include_newest).lower()}\n'
                    f'prefer_unverified = {str(prefer_unverified).lower()}\n', encoding="utf-8")
    return path


def drill(targets: Path, plan: Path, history: Path | None = None, *extra: str) -> Any:
    """``backupcheck drill --format json``; ``history`` None means ``--no-history``."""
    where = ["--history", str(history)] if history is not None else ["--no-history"]
    return run_cli("drill", "--targets", str(targets), "--format", "json", "--plan", str(plan),
                   *where, *extra)


def check_of(document: dict[str, Any], target: str, check_id: str) -> dict[str, Any]:
    for check in target_of(document, target)["checks"]:
        if check["id"] == check_id:
            return dict(check)
    raise KeyError(check_id)


def restore_of(document: dict[str, Any], target: str) -> dict[str, Any]:
    return dict(target_of(document, target)["restore"])


def set_mtime(path: Path, mtime_ns: int) -> None:
    os.utime(path, ns=(mtime_ns, mtime_ns))


# ---------------------------------------------------------------- restic


def restic_estate(root: Path, files: Mapping[str, bytes]) -> tuple[Repo, Path]:
    """A local repository and a source tree holding ``files`` (not backed up yet)."""
    repo = init_local_repo(root / "repos", name="repo")
    source = make_tree(root / "source", files)
    return repo, source


def restic_client(targets: Path, name: str, repo: Repo, *, manifest: str | None = None,
                  source: Path | None = None, extra: str = "") -> Path:
    if manifest is not None:
        extra += f'manifest = "{manifest}"\n'
    if source is not None:
        extra += f'source = "{source}"\n'
    return write_client(targets, name, target_toml(name, repo, extra=extra))


# ---------------------------------------------------------------- S3


def s3_estate(server: S3Server, bucket: str, root: Path, files: Mapping[str, bytes], *,
              upload: bool = True) -> tuple[Any, Path]:
    """A bucket that passes every policy check; ``files`` in ``root/source`` and (with
    ``upload``) under ``backup/``; returns the unguarded client and the source tree."""
    s3 = server.client()
    make_bucket(s3, bucket)
    source = make_tree(root / "source", files)
    if upload:
        for rel, data in files.items():
            s3.put_object(Bucket=bucket, Key=f"backup/{rel}", Body=data)
    return s3, source


def s3_client(targets: Path, name: str, bucket: str, server: S3Server, *,
              manifest: str | None = None) -> Path:
    line = f'manifest = "{manifest}"\n' if manifest is not None else ""
    return write_client(targets, name, f'''
client = "{name}"
rpo = "26h"
rto = "4h"
[[targets]]
name = "{name}"
kind = "s3"
bucket = "{bucket}"
prefix = "backup/"
endpoint_url = "{server.url}"
{line}''')


def manifest_of(source: Path, out: Path) -> Path:
    build_manifest(source, out, workers=1)
    return out
