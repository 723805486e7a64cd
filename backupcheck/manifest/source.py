"""Where a manifest's bytes come from: a local file or an ``s3://bucket/key`` object.

An S3 manifest is fetched through the read-only client of
:func:`backupcheck.backends.s3guard.make_s3_client`, like every other S3 read of the tool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from backupcheck.backends.s3guard import make_s3_client
from backupcheck.errors import ConfigError, TargetUnavailable


class ManifestNotFound(ConfigError):
    """Nothing where a target's ``manifest`` points. Bad configuration on its own (exit 2);
    a drill makes it ``error`` for that target's ``restore.sample`` alone."""

    def __init__(self, where: str, message: str, what: str) -> None:
        super().__init__(where, message)
        #: what was not found, for a finding's message ("manifest not found: WHAT")
        self.what = what


@dataclass(frozen=True)
class ManifestSource:
    """A manifest found: the name its errors carry, and what to read it from."""

    where: str
    #: a local file's path (read in place), or the bytes of an S3 object
    content: str | bytes


def locate_manifest(location: str, *, base_dir: Path | None,
                    s3_client_factory: Callable[[], Any] | None = None) -> ManifestSource:
    """Find the manifest ``location`` names, fetching it when it is on S3.

    A relative local path is resolved against ``base_dir`` (the targets directory). A missing
    file or object raises :class:`ManifestNotFound` (a :class:`ConfigError`); an S3 object
    that cannot be fetched (denied, unreachable) raises :class:`TargetUnavailable`.
    """
    if location.startswith("s3://"):
        return ManifestSource(location, _fetch_s3(location, s3_client_factory))
    path = Path(location).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    where = str(path)
    if not path.is_file():
        raise ManifestNotFound(where, "manifest file not found", where)
    return ManifestSource(where, where)


def _fetch_s3(location: str, factory: Callable[[], Any] | None) -> bytes:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise ConfigError(location, "expected s3://bucket/key")
    if factory is None:
        factory = make_s3_client
    try:
        body = factory().get_object(Bucket=bucket, Key=key)["Body"]
        try:
            data: bytes = body.read()
        finally:
            body.close()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchKey", "NoSuchBucket", "404", "NotFound"):
            raise ManifestNotFound(location, f"manifest object not found ({code})",
                                   f"{location} ({code})") from exc
        raise TargetUnavailable(f"{location}: cannot fetch manifest: {code or exc}") from exc
    except BotoCoreError as exc:
        raise TargetUnavailable(f"{location}: cannot fetch manifest: {exc}") from exc
    return data
