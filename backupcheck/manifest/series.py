"""One manifest per backup: ``DIR/YYYYMMDDTHHMMSSZ.parquet``, named by the UTC time it was built.

``manifest build --out DIR/`` writes the next one (:func:`series_path`). A target ``manifest``
that names a directory (an existing one, or a path ending in ``/``) or an ``s3://`` prefix
ending in ``/`` is a series: the drill uses the manifest written closest to the chosen
backup's time, by the time in its name (:func:`choose`), and says which in the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from backupcheck.clock import iso_full
from backupcheck.errors import ConfigError, TargetUnavailable
from backupcheck.manifest.source import ManifestNotFound

NAME_FORMAT = "%Y%m%dT%H%M%SZ"
NAME_PATTERN = "YYYYMMDDTHHMMSSZ.parquet"
_NAME = re.compile(r"^(\d{8}T\d{6}Z)\.parquet$")


def series_path(directory: Path, moment: datetime) -> Path:
    """``directory/YYYYMMDDTHHMMSSZ.parquet`` for ``moment`` (in UTC)."""
    return directory / f"{moment.astimezone(UTC):{NAME_FORMAT}}.parquet"


def wants_series(out: str) -> bool:
    """``--out`` names a directory: it ends in ``/`` or is an existing directory."""
    return out.endswith("/") or Path(out).expanduser().is_dir()


def is_series(location: str, base_dir: Path | None) -> bool:
    """Whether a target's ``manifest`` names a series rather than one file."""
    if location.startswith("s3://"):
        return location.endswith("/")
    return location.endswith("/") or _local(location, base_dir).is_dir()


def name_time(name: str) -> datetime | None:
    """The UTC time in a series file name, or None when the name is not one."""
    match = _NAME.match(name)
    if not match:
        return None
    try:
        return datetime.strptime(match.group(1), NAME_FORMAT).replace(tzinfo=UTC)
    except ValueError:  # 20261399T…: digits, but no date
        return None


@dataclass(frozen=True)
class Chosen:
    """The manifest of a series a drill uses, and why."""

    location: str
    written: datetime
    candidates: int
    series: str
    backup_time: datetime | None

    def evidence(self) -> dict[str, Any]:
        distance = (abs((self.written - self.backup_time).total_seconds())
                    if self.backup_time is not None else None)
        return {"series": {"location": self.series, "candidates": self.candidates,
                           "written": iso_full(self.written),
                           "backup_time": iso_full(self.backup_time),
                           "seconds_from_backup": distance,
                           "rule": "the manifest written closest to the backup's time"}}


def choose(location: str, backup_time: datetime | None, *, base_dir: Path | None,
           s3_client_factory: Callable[[], Any]) -> Chosen:
    """The manifest of the series ``location`` written closest to ``backup_time`` (the
    newest when the backup's time is unknown). An empty series raises ManifestNotFound."""
    if location.startswith("s3://"):
        names, join = _s3_names(location, s3_client_factory), location.__add__
        shown = location
    else:
        directory = _local(location, base_dir)
        shown = f"{directory}/"
        try:
            names = [p.name for p in directory.iterdir() if p.is_file()]
        except OSError as exc:
            raise ManifestNotFound(shown, f"cannot list the manifest directory: "
                                   f"{exc.strerror or exc}", shown) from exc

        def join(name: str) -> str:
            return str(directory / name)
    timed = sorted((moment, name) for name in names if (moment := name_time(name)) is not None)
    if not timed:
        raise ManifestNotFound(shown, f"no {NAME_PATTERN} in the manifest directory",
                               f"no {NAME_PATTERN} in {shown}")
    if backup_time is None:
        written, name = timed[-1]
    else:
        # ties go to the later manifest: one built just after the backup describes it
        written, name = min(timed, key=lambda t: (abs((t[0] - backup_time).total_seconds()),
                                                  -t[0].timestamp()))
    return Chosen(join(name), written, len(timed), shown, backup_time)


def _local(location: str, base_dir: Path | None) -> Path:
    path = Path(location).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


def _s3_names(location: str, factory: Callable[[], Any]) -> list[str]:
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    if not bucket:
        raise ConfigError(location, "expected s3://bucket/prefix/")
    names: list[str] = []
    try:
        client = factory()
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, Delimiter="/")
        for page in pages:
            names.extend(o["Key"][len(prefix):] for o in page.get("Contents", []))
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchBucket", "404", "NotFound"):
            raise ManifestNotFound(location, f"no such bucket ({code})",
                                   f"{location} (no bucket {bucket})") from exc
        raise TargetUnavailable(f"{location}: cannot list manifests: {code or exc}") from exc
    except BotoCoreError as exc:
        raise TargetUnavailable(f"{location}: cannot list manifests: {exc}") from exc
    return names
