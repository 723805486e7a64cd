"""What restic prints, as typed values: results, parsers, repository strings, failures.

Pure functions only (no processes): the adapter in ``restic.py`` runs restic and hands the
output here. Anything that does not parse raises ValueError, which the adapter reports as
"unexpected output from restic …" (a hostile or broken repository, or an unknown version).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from backupcheck.backends.restic_process import meaningful_lines
from backupcheck.errors import TargetUnavailable

#: restic 0.17+ exit codes
EXIT_NO_REPOSITORY, EXIT_LOCKED, EXIT_WRONG_PASSWORD = 10, 11, 12
#: repository kinds the native reader (``backends/resticrepo``) reads; the rest go through restic
NATIVE_KINDS = ("local", "s3", "rest")
#: the target key ``reader``: who reads snapshots, trees and files
READERS = ("auto", "native", "restic")
SNAPSHOT_ID = re.compile(r"^[0-9a-f]{8,64}$")
_TIME = re.compile(r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$")
_UNREACHABLE = ("connection refused", "no such host", "dial tcp", "i/o timeout",
                "network is unreachable", "tls handshake", "x509:", "connection reset",
                "no route to host", "server misbehaving", "context deadline exceeded")
_DENIED = ("access denied", "accessdenied", "permission denied", "forbidden",
           "invalidaccesskeyid", "signaturedoesnotmatch")
_NO_REPOSITORY = ("unable to open config file", "is there a repository", "does not exist",
                  "no such file or directory", "repository does not exist")


# ---------------------------------------------------------------- typed results


@dataclass(frozen=True)
class Snapshot:
    id: str
    short_id: str
    time: datetime
    hostname: str
    username: str
    paths: tuple[str, ...]
    tags: tuple[str, ...]
    parent: str = ""


@dataclass(frozen=True)
class Node:
    """One entry of ``restic ls``: ``path`` is the absolute path inside the snapshot."""

    path: str
    name: str
    type: str  # file | dir | symlink | dev | ...
    size: int | None
    mtime: datetime | None


@dataclass(frozen=True)
class RestoreSize:
    total_size: int
    total_file_count: int  # restic counts directories too


@dataclass(frozen=True)
class RawData:
    total_size: int
    total_blob_count: int


@dataclass(frozen=True)
class KeyInfo:
    id: str
    username: str = ""
    hostname: str = ""
    created: str = ""


@dataclass(frozen=True)
class Keys:
    keys: tuple[KeyInfo, ...]

    @property
    def count(self) -> int:
        return len(self.keys)


@dataclass(frozen=True)
class RepoConfig:
    version: int
    id: str

    @property
    def compression(self) -> bool:
        """Format version 2 (restic 0.14+) can compress; version 1 stores data uncompressed."""
        return self.version >= 2


@dataclass(frozen=True)
class CheckOutcome:
    ok: bool
    exit_code: int
    errors: tuple[str, ...]  # the first ERROR_LINES lines restic reported
    error_count: int
    read_data_subset: str
    seconds: float


@dataclass(frozen=True)
class S3Location:
    """Where an ``s3:`` repository lives. ``endpoint_url`` None means AWS's own endpoint."""

    endpoint_url: str | None
    bucket: str
    prefix: str
    region: str | None = None


# ---------------------------------------------------------------- pure helpers


def parse_time(text: str) -> datetime:
    """restic's RFC 3339 times (nanoseconds, ``Z`` or offset) as an aware datetime."""
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"not a restic time: {text!r}")
    base, fraction, zone = match.groups()
    micro = (fraction or "0")[:6].ljust(6, "0")
    tz = "+00:00" if zone in (None, "Z") else zone
    moment = datetime.fromisoformat(f"{base.replace(' ', 'T')}.{micro}{tz}")
    return moment.astimezone(UTC)


def redact_repository(repository: str) -> str:
    """The repository string with a URL password (``rest:https://u:pw@host/``) masked."""
    return re.sub(r"(://[^/:@\s]*:)[^@/\s]+@", r"\1***@", repository)


def url_password(repository: str) -> str | None:
    match = re.search(r"://[^/:@\s]*:([^@/\s]+)@", repository)
    return match.group(1) if match else None


def storage_kind(repository: str) -> str:
    """``s3``, ``sftp``, ``rest``, ``b2``, ``azure``, ``gs``, ``swift``, ``rclone`` or ``local``."""
    scheme, sep, _ = repository.partition(":")
    if sep and scheme in {"s3", "sftp", "rest", "b2", "azure", "gs", "swift", "rclone"}:
        return scheme
    return "local"


def reader_key(repository: str) -> Callable[[str], str]:
    """The validator of a restic target's ``reader`` key (raises ValueError)."""
    def valid(value: str) -> str:
        if value not in READERS:
            raise ValueError(f"must be one of {', '.join(READERS)}, got {value!r}")
        if value == "native" and storage_kind(repository) not in NATIVE_KINDS:
            raise ValueError("native reads only local, s3: and rest: repositories")
        return value
    return valid


def parse_s3_repository(repository: str) -> S3Location | None:
    """Endpoint, bucket and prefix of an ``s3:`` repository string; None for other kinds.

    Forms: ``s3:https://host[:port]/bucket[/prefix]``, ``s3:http://…``, ``s3:host/bucket/prefix``
    (https implied) and ``s3:s3.amazonaws.com/bucket`` (AWS: endpoint left to boto3).
    An ``s3:`` string that does not parse also gives None.
    """
    if storage_kind(repository) != "s3":
        return None
    rest = repository[3:]
    if not re.match(r"^https?://", rest):
        rest = "https://" + rest
    parts = urlsplit(rest)
    segments = [s for s in parts.path.split("/") if s]
    if not parts.hostname or not segments:
        return None
    bucket, prefix = segments[0], "/".join(segments[1:])
    host = parts.hostname
    aws = re.match(r"^s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com$", host)
    if aws:
        region = aws.group(1) if aws.group(1) not in (None, "external-1") else None
        return S3Location(None, bucket, prefix, region)
    try:
        port = parts.port
    except ValueError:
        return None
    netloc = host + (f":{port}" if port else "")
    return S3Location(f"{parts.scheme}://{netloc}", bucket, prefix)


def excerpt(data: bytes | str, limit: int = 80) -> str:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    first = text.strip().splitlines()[0] if text.strip() else "(no output)"
    clean = "".join(c if c.isprintable() else "?" for c in first)
    return clean[:limit] + ("…" if len(clean) > limit else "")


def shorten(line: str, limit: int = 300) -> str:
    return line if len(line) <= limit else line[:limit] + "…"


def first_line(stderr: str) -> str:
    lines = meaningful_lines(stderr)
    fatal = [line for line in lines if line.startswith("Fatal:")]
    return shorten((fatal or lines or ["(no message)"])[0])


def classify_failure(command: str, exit_code: int, stderr: str, location: str,
                     password_source: str) -> TargetUnavailable:
    """The one-line TargetUnavailable for a failed restic command (0.14 and 0.17+ styles)."""
    text = stderr.lower()
    line = first_line(stderr)
    if exit_code == EXIT_WRONG_PASSWORD or "wrong password" in text:
        return TargetUnavailable(f"wrong password for restic repository {location} "
                                 f"(password from {password_source})")
    if "resolving password failed" in text or "reading password" in text \
            or "empty password" in text:
        return TargetUnavailable(f"cannot get the password for restic repository {location} "
                                 f"from {password_source}: {line}")
    if any(p in text for p in _UNREACHABLE):
        return TargetUnavailable(f"restic repository {location} is unreachable: {line}")
    if any(p in text for p in _DENIED):
        return TargetUnavailable(f"access denied to restic repository {location}: {line}")
    if exit_code == EXIT_NO_REPOSITORY or any(p in text for p in _NO_REPOSITORY):
        if "bucket does not exist" in text:
            why = "the bucket does not exist"
        elif "key does not exist" in text:
            # with a region set, restic only HEADs the config object: a missing bucket and
            # an empty one look the same
            why = "no repository config in the bucket (or no such bucket)"
        else:
            why = "no repository config found"
        return TargetUnavailable(f"no restic repository at {location}: {why}")
    if exit_code == EXIT_LOCKED or "already locked" in text or "unable to create lock" in text:
        return TargetUnavailable(f"restic repository {location} is locked by another "
                                 f"process: {line}")
    return TargetUnavailable(f"restic {command} failed for {location} (exit {exit_code}): "
                             f"{line}")


def unexpected_output(command: str, output: bytes | str, why: str = "") -> TargetUnavailable:
    detail = f" ({why})" if why else ""
    return TargetUnavailable(f"unexpected output from restic {command}{detail}: "
                             f"{excerpt(output)!r}")


def _str(doc: Mapping[str, Any], key: str, default: str | None = None) -> str:
    if not isinstance(doc, dict):
        raise ValueError("not an object")
    value = doc.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value


def _int(doc: Mapping[str, Any], key: str) -> int:
    if not isinstance(doc, dict):
        raise ValueError("not an object")
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key} is not an integer")
    return value


def _strings(doc: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = doc.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} is not a list of strings")
    return tuple(value)


def parse_snapshot(doc: Any) -> Snapshot:
    if not isinstance(doc, dict):
        raise ValueError("snapshot is not an object")
    snapshot_id = _str(doc, "id")
    if not SNAPSHOT_ID.match(snapshot_id):
        raise ValueError("bad snapshot id")
    return Snapshot(id=snapshot_id, short_id=_str(doc, "short_id", snapshot_id[:8]),
                    time=parse_time(_str(doc, "time")), hostname=_str(doc, "hostname", ""),
                    username=_str(doc, "username", ""), paths=_strings(doc, "paths"),
                    tags=_strings(doc, "tags"), parent=_str(doc, "parent", ""))


def parse_node(doc: Mapping[str, Any]) -> Node:
    size = doc.get("size")
    mtime = doc.get("mtime")
    return Node(path=_str(doc, "path"), name=_str(doc, "name", ""), type=_str(doc, "type"),
                size=_int(doc, "size") if size is not None else None,
                mtime=parse_time(mtime) if isinstance(mtime, str) else None)


def parse_version(output: str) -> tuple[int, int, int]:
    match = re.match(r"^restic (\d+)\.(\d+)\.(\d+)", output.strip())
    if not match:
        raise ValueError("no version number")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def parse_restore_size(doc: Any) -> RestoreSize:
    return RestoreSize(_int(doc, "total_size"), _int(doc, "total_file_count"))


def parse_raw_data(doc: Any) -> RawData:
    size = _int(doc, "total_size")
    blobs = doc.get("total_blob_count", 0)
    return RawData(size, blobs if isinstance(blobs, int) else 0)


def parse_config(doc: Any) -> RepoConfig:
    return RepoConfig(_int(doc, "version"), _str(doc, "id"))


def parse_key(key_id: str, doc: Any) -> KeyInfo:
    if not isinstance(doc, dict):
        raise ValueError("key is not an object")
    return KeyInfo(key_id[:8], str(doc.get("username", "")), str(doc.get("hostname", "")),
                   str(doc.get("created", "")))


def is_access_failure(stderr: str, code: int) -> bool:
    """Whether a failed ``check`` failed to open the repository rather than found damage."""
    text = stderr.lower()
    return (code in (EXIT_NO_REPOSITORY, EXIT_LOCKED, EXIT_WRONG_PASSWORD)
            or "wrong password" in text or "unable to open config file" in text
            or "unable to create lock" in text or "resolving password failed" in text
            or "dial tcp" in text or "connection refused" in text)
