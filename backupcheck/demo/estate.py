"""The demo estate: three clients, what each backs up where, and the one problem each has.

Glossary (of this module):
  layout   where everything lives under the estate directory;
  planted  the one problem built into each client on purpose.

=========  ===============================================  ==================================
client     backups                                          planted problem
=========  ===============================================  ==================================
acme       S3 ``acme-nas`` (rclone copy of a NAS, objects   the S3 bucket's default retention
           carry ``x-amz-meta-xxh3-128``), restic           is GOVERNANCE 7 days (policy:
           ``acme-fs1`` in an object-locked bucket          COMPLIANCE 30): s3.object_lock.*
                                                            and s3.objects.locked
globex     S3 ``globex-files`` (SSE-KMS, manifest kept in   the newest file's current version
           the locked bucket), restic ``globex-erp``        was overwritten after the backup:
           (SSE-KMS bucket)                                 restore.sample fails (digest),
                                                            s3.objects.overwritten warns
initech    S3 ``initech-offsite`` (a Veeam chain, reached   the offsite link is slow: the
           over a 256 KiB/s-per-stream link), restic        estimated full restore breaks the
           ``initech-fileserver`` on local disk             15 s RTO: restore.rto fails
=========  ===============================================  ==================================

Everything else passes, except what SPEC makes a warning: a restic repository on local disk
is not immutable storage (``restic.storage.immutable`` and ``restic.objects.locked`` warn), and
globex's overwrite is a new version over an older one (``s3.objects.overwritten`` warns).
"""

from __future__ import annotations

import json
import math
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from backupcheck.demo.data import (
    FileSpec,
    KiB,
    MiB,
    office_share,
    veeam_chain,
    write_file,
    write_tree,
)
from backupcheck.demo.storage import (
    PROFILE,
    REGION,
    BucketSpec,
    Interrupted,
    Layout,
    ResticRepo,
    config_text,
    create_bucket,
    credentials_text,
    upload_files,
    writer_client,
)
from backupcheck.manifest.build import build_manifest
from backupcheck.manifest.load import load_manifest

#: bytes per second per connection of initech's "offsite link" (the demo server's proxy)
OFFSITE_LINK_BYTES_PER_S = 256 * KiB
INITECH_RTO = "15s"

Notify = Callable[[str], None]

PLAN_TOML = """\
# The demo's weekly restore drill (small, so the demo stays fast).
name = "weekly"
files = 8                  # sampled files per target
max_bytes = "5MiB"         # byte budget per target
read_data_subset = "10%"   # restic check --read-data-subset
include_newest = true      # always include the most recently changed file
snapshot = "latest"
prefer_unverified = true   # favour files no earlier drill verified
jobs = 4                   # parallel restore streams per target
"""


@dataclass
class BuiltTarget:
    client: str
    target: str
    kind: str
    #: the backed-up files as the current backup holds them: path -> (size, xxh3-128)
    files: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: what identifies each file's content there: path -> (mtime_ns, S3 version id or "")
    identity: dict[str, tuple[int | None, str]] = field(default_factory=dict)


@dataclass
class Estate:
    layout: Layout
    url: str
    throttled_url: str
    kms_key_id: str
    targets: list[BuiltTarget]
    #: client -> one line saying what was planted
    planted: dict[str, str]


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _manifest_rows(path: Path) -> tuple[dict[str, tuple[int, str]], dict[str, int]]:
    """path -> (size, xxh3-128), and path -> mtime_ns at the microseconds a snapshot keeps."""
    rows: dict[str, tuple[int, str]] = {}
    mtimes: dict[str, int] = {}
    for name, entry in load_manifest(str(path), base_dir=None).entries():
        rows[name] = (entry.size, entry.xxh3_128)
        mtimes[name] = entry.mtime_ns // 1000 * 1000
    return rows, mtimes


def _upload_order(specs: Sequence[FileSpec]) -> list[FileSpec]:
    """Large files first, then oldest to newest: the newest small file is the newest object."""
    return sorted(specs, key=lambda s: (s.size <= 64 * KiB, s.mtime, s.path))


class _Builder:
    def __init__(self, layout: Layout, url: str, now: datetime, notify: Notify) -> None:
        self.layout, self.url, self.now, self.notify = layout, url, now, notify
        #: set when the build must stop early: every job checks it between files
        self.stop = threading.Event()
        self.s3 = writer_client(url)
        self.backup_times = [now - timedelta(days=14, hours=2), now - timedelta(days=7, hours=2),
                             now - timedelta(hours=2)]
        self.restic_env = {"AWS_PROFILE": PROFILE,
                           "AWS_SHARED_CREDENTIALS_FILE": str(layout.aws_credentials)}

    def s3_target(self, client: str, target: str, bucket: str, prefix: str,
                  specs: Sequence[FileSpec], *, metadata: bool,
                  manifest_key: str | None = None) -> BuiltTarget:
        root = self.layout.data / client / target
        write_tree(root, specs, self.stop)
        self._check_stop()
        manifest = self.layout.manifests / f"{target}.parquet"
        build_manifest(root, manifest, workers=1)
        rows, _ = _manifest_rows(manifest)
        digests = {path: digest for path, (_, digest) in rows.items()}
        versions = upload_files(self.s3, bucket, prefix, root, _upload_order(specs),
                                digests if metadata else None, self.stop)
        if manifest_key is not None:
            # the ground truth is kept in the locked bucket itself, not on this machine
            self.s3.put_object(Bucket=bucket, Key=manifest_key, Body=manifest.read_bytes())
            manifest.unlink()
        self.notify(f"{client}: {len(specs)} objects in s3://{bucket}/{prefix}")
        return BuiltTarget(client, target, "s3", rows,
                           {path: (None, version) for path, version in versions.items()})

    def restic_target(self, client: str, target: str, repo: ResticRepo, host: str,
                      specs: Sequence[FileSpec]) -> BuiltTarget:
        root = self.layout.data / client / target
        root.mkdir(parents=True, exist_ok=True)
        repo.init()
        pending = sorted(specs, key=lambda s: (s.mtime, s.path))
        for moment in self.backup_times:
            self._check_stop()
            while pending and pending[0].mtime <= moment:
                write_file(root, pending.pop(0))
            repo.backup(root, host=host, moment=moment)
        # every file predates the last backup, so the manifest describes exactly that snapshot
        assert not pending, "demo data newer than the last backup"
        manifest = self.layout.manifests / f"{target}.parquet"
        build_manifest(root, manifest, workers=1)
        self.notify(f"{client}: {len(self.backup_times)} restic snapshots of {host} in "
                    f"{repo.repository}")
        rows, mtimes = _manifest_rows(manifest)
        return BuiltTarget(client, target, "restic", rows,
                           {path: (mtime, "") for path, mtime in mtimes.items()})

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise Interrupted("interrupted")

    def corrupt_current_version(self, bucket: str, key: str, not_before: float) -> None:
        """Put a new version of ``key`` with some bytes flipped (same size), after the rest.

        S3 timestamps have one-second resolution: wait for the next second so that the bad
        version is unambiguously the newest object in the bucket.
        """
        time.sleep(max(0.0, math.floor(not_before) + 1.05 - time.time()))
        data = bytearray(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        middle = len(data) // 2
        for index in range(middle, min(len(data), middle + 4 * KiB)):
            data[index] ^= 0xFF
        self.s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))


def build_estate(layout: Layout, url: str, throttled_url: str, now: datetime,
                 notify: Notify) -> Estate:
    """Build every bucket, repository, manifest and config file of the demo under ``layout``."""
    for directory in (layout.targets, layout.plan.parent, layout.data, layout.manifests,
                      layout.restic):
        directory.mkdir(parents=True, exist_ok=True)
    _write_private(layout.aws_credentials, credentials_text())
    _write_private(layout.aws_config, config_text())
    passwords = {}
    for client in ("acme", "globex", "initech"):
        passwords[client] = layout.secrets / f"{client}.pass"
        _write_private(passwords[client], secrets.token_urlsafe(24) + "\n")

    builder = _Builder(layout, url, now, notify)
    s3 = builder.s3
    key = writer_client(url, "kms").create_key(Description="globex backup key")["KeyMetadata"]
    buckets = [
        BucketSpec("acme-nas-immutable", lock_mode="GOVERNANCE", lock_days=7),  # planted
        BucketSpec("acme-restic-fs1"),
        BucketSpec("globex-file-backup", kms_key_arn=key["Arn"]),
        BucketSpec("globex-restic-erp", kms_key_arn=key["Arn"]),
        BucketSpec("initech-veeam-offsite"),
    ]
    for bucket in buckets:
        create_bucket(s3, bucket)
    notify("buckets created: Object Lock, versioning, default encryption, public access blocked")

    newest_change = builder.backup_times[-1] - timedelta(minutes=10)
    globex_files = office_share("globex-files", small=180, large=2, newest=newest_change)
    globex_done: list[float] = []

    def globex_s3() -> BuiltTarget:
        built = builder.s3_target("globex", "globex-files", "globex-file-backup", "fileserver/",
                                  globex_files, metadata=False,
                                  manifest_key="manifests/fileserver.parquet")
        globex_done.append(time.time())
        return built

    def repo(client: str, repository: str) -> ResticRepo:
        return ResticRepo(repository, passwords[client], builder.restic_env)

    jobs: list[Callable[[], BuiltTarget]] = [
        lambda: builder.restic_target(
            "acme", "acme-fs1", repo("acme", f"s3:{url}/acme-restic-fs1"), "fs1",
            office_share("acme-fs1", small=200, large=2, newest=newest_change)),
        lambda: builder.restic_target(
            "globex", "globex-erp", repo("globex", f"s3:{url}/globex-restic-erp"), "erp01",
            office_share("globex-erp", small=160, large=2, newest=newest_change)),
        lambda: builder.restic_target(
            "initech", "initech-fileserver",
            repo("initech", str(layout.restic / "initech-fileserver")), "fileserver",
            office_share("initech-fileserver", small=150, large=1, newest=newest_change)),
        lambda: builder.s3_target(
            "acme", "acme-nas", "acme-nas-immutable", "nas01/",
            office_share("acme-nas", small=180, large=2, newest=newest_change), metadata=True),
        globex_s3,
        lambda: builder.s3_target(
            "initech", "initech-offsite", "initech-veeam-offsite", "Veeam/",
            veeam_chain("initech-offsite", "Backup Job FileServer", weeks=3,
                        newest=newest_change, full_size=12 * MiB,
                        incremental_range=(int(1.1 * MiB), int(1.5 * MiB))),
            metadata=True),
    ]
    pool = ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="build")
    try:
        futures = [pool.submit(job) for job in jobs]
        built = [future.result() for future in futures]
    except BaseException:
        builder.stop.set()  # Ctrl-C or a failed job: the others stop at their next file
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)

    victim = _upload_order(globex_files)[-1]
    builder.corrupt_current_version("globex-file-backup", "fileserver/" + victim.path,
                                    globex_done[0])
    notify(f"globex: overwrote the current version of fileserver/{victim.path} after the "
           "backup")

    _write_configs(layout, url, throttled_url, key["KeyId"], passwords)
    return Estate(layout, url, throttled_url, key["KeyId"], built, planted={
        "acme": "acme-nas-immutable has GOVERNANCE mode with 7-day default retention "
                "(policy: COMPLIANCE, 30 days)",
        "globex": f"the current version of fileserver/{victim.path} was overwritten after "
                  "the backup (the manifest in the bucket still has the original digest)",
        "initech": f"initech-offsite is reached over a slow link "
                   f"({OFFSITE_LINK_BYTES_PER_S // KiB} KiB/s per stream): the estimated "
                   f"full restore breaks the {INITECH_RTO} RTO",
    })


# ---------------------------------------------------------------- configuration files


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def client_toml(name: str, rpo: str, rto: str, policy: Mapping[str, object],
                targets: Sequence[Mapping[str, object]], comment: str) -> str:
    lines = [f"# {comment}", f"client = {_toml_value(name)}", f"rpo = {_toml_value(rpo)}",
             f"rto = {_toml_value(rto)}", "", "[policy]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in policy.items()]
    for target in targets:
        lines += ["", "[[targets]]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in target.items()]
    return "\n".join(lines) + "\n"


def _write_configs(layout: Layout, url: str, throttled_url: str, kms_key_id: str,
                   passwords: Mapping[str, Path]) -> None:
    restic_env = {"AWS_PROFILE": PROFILE,
                  "AWS_SHARED_CREDENTIALS_FILE": str(layout.aws_credentials)}
    manifests = layout.manifests

    def s3(name: str, bucket: str, prefix: str, endpoint: str, manifest: str) -> dict[str, Any]:
        return {"name": name, "kind": "s3", "bucket": bucket, "prefix": prefix,
                "endpoint_url": endpoint, "region": REGION, "profile": PROFILE,
                "manifest": manifest}

    def restic(name: str, client: str, repository: str, host: str) -> dict[str, Any]:
        target: dict[str, Any] = {"name": name, "kind": "restic", "repository": repository,
                                  "password_file": str(passwords[client]), "host": host,
                                  "manifest": str(manifests / f"{name}.parquet")}
        if repository.startswith("s3:"):
            target["env"] = restic_env
        return target

    files = {
        "acme": client_toml(
            "acme", "26h", "4h", {"object_lock_mode": "COMPLIANCE", "min_retention_days": 30,
                                  "min_snapshots": 3},
            [s3("acme-nas", "acme-nas-immutable", "nas01/", url,
                str(manifests / "acme-nas.parquet")),
             restic("acme-fs1", "acme", f"s3:{url}/acme-restic-fs1", "fs1")],
            "demo client acme: NAS copy in S3 plus a restic repository in a locked bucket"),
        "globex": client_toml(
            "globex", "26h", "8h", {"encryption": "aws:kms", "kms_key_id": kms_key_id,
                                    "min_snapshots": 3},
            [s3("globex-files", "globex-file-backup", "fileserver/", url,
                "s3://globex-file-backup/manifests/fileserver.parquet"),
             restic("globex-erp", "globex", f"s3:{url}/globex-restic-erp", "erp01")],
            "demo client globex: SSE-KMS everywhere; the S3 manifest lives in the locked "
            "bucket"),
        "initech": client_toml(
            "initech", "26h", INITECH_RTO, {"encryption": "AES256", "min_snapshots": 3},
            [s3("initech-offsite", "initech-veeam-offsite", "Veeam/", throttled_url,
                str(manifests / "initech-offsite.parquet")),
             restic("initech-fileserver", "initech",
                    str(layout.restic / "initech-fileserver"), "fileserver")],
            "demo client initech: a Veeam offsite copy over a slow link, restic on local disk"),
    }
    for name, text in files.items():
        (layout.targets / f"{name}.toml").write_text(text, encoding="utf-8")
    layout.plan.write_text(PLAN_TOML, encoding="utf-8")
