"""The S3 history's own client: it may write, but only objects under the history's prefix.

This is the one S3 client of backupcheck that may write (SPEC "Promises": the exception is an
``s3://`` history). It is a separate boto3 session with the history's own credentials
(``[history] profile``), never a backup's client, and its hook refuses, before a byte is
sent, every operation that is not in :data:`ALLOWED` or that names another bucket, a key or
listing prefix outside the history's prefix, or a copy source outside it. It may delete
only its own temporary objects (:func:`is_temporary`). Backup clients stay read-only
(:mod:`backupcheck.backends.s3guard`), also when a backup lives in the history's bucket.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ProfileNotFound

from backupcheck.errors import ConfigError, ReadOnlyViolation

#: what the history client may do, all of it under the history's bucket and prefix
READS = frozenset({"ListObjectsV2", "GetObject", "HeadObject"})
WRITES = frozenset({"PutObject", "CreateMultipartUpload", "UploadPart",
                    "CompleteMultipartUpload", "AbortMultipartUpload", "CopyObject"})
ALLOWED = READS | WRITES | {"DeleteObject"}

_CONFIG = Config(connect_timeout=5, read_timeout=60,
                 retries={"mode": "standard", "total_max_attempts": 5})


@dataclass(frozen=True)
class S3HistoryLocation:
    """``s3://bucket/prefix``: ``prefix`` is empty or ends in ``/``."""

    bucket: str
    prefix: str
    profile: str = ""
    endpoint_url: str = ""

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def is_s3_url(text: str) -> bool:
    return str(text).startswith("s3://")


def parse_history_url(text: str, profile: str = "", endpoint_url: str = "",
                      key: str = "--history") -> S3HistoryLocation:
    """``s3://bucket/prefix`` → :class:`S3HistoryLocation`; anything else is a ConfigError."""
    parts = urlsplit(text)
    bucket = parts.netloc
    if parts.scheme != "s3" or not bucket or parts.query or parts.fragment:
        raise ConfigError(text, "expected s3://bucket/prefix", key=key)
    prefix = parts.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if any(part in (".", "..") for part in prefix.split("/")):
        raise ConfigError(text, "the prefix may not hold '.' or '..' segments", key=key)
    return S3HistoryLocation(bucket, prefix, profile, endpoint_url)


def is_temporary(key: str) -> bool:
    """A writer's temporary object (``.NAME.TOKEN.tmp``): readers skip it."""
    name = posixpath.basename(key)
    return name.startswith((".", "_")) or not name.endswith(".parquet")


def _copy_source(value: Any) -> tuple[str, str]:
    if isinstance(value, Mapping):
        return str(value.get("Bucket", "")), str(value.get("Key", ""))
    bucket, _, key = str(value).lstrip("/").partition("/")
    return bucket, key.split("?", 1)[0]


def check_request(location: S3HistoryLocation, operation: str,
                  params: Mapping[str, Any]) -> None:
    """Raise :class:`ReadOnlyViolation` unless ``operation`` with ``params`` stays inside
    the history (the rule of the client's hook, callable on its own for tests)."""
    where = f"the history {location.url}"
    if operation not in ALLOWED:
        raise ReadOnlyViolation(f"refused S3 {operation}: the history client only reads and "
                                f"writes objects of {where}")
    if params.get("Bucket") != location.bucket:
        raise ReadOnlyViolation(f"refused S3 {operation} on bucket {params.get('Bucket')!r}: "
                                f"the history client only touches {where}")
    name = str(params.get("Prefix", "") if operation == "ListObjectsV2" else params.get("Key"))
    if params.get("Key") is None and operation != "ListObjectsV2" or \
            not name.startswith(location.prefix):
        raise ReadOnlyViolation(f"refused S3 {operation} of {name!r}: outside {where}")
    if operation == "CopyObject":
        bucket, key = _copy_source(params.get("CopySource"))
        if bucket != location.bucket or not key.startswith(location.prefix):
            raise ReadOnlyViolation(f"refused S3 CopyObject from {bucket}/{key}: outside "
                                    f"{where}")
    if operation == "DeleteObject" and not is_temporary(name):
        raise ReadOnlyViolation(f"refused S3 DeleteObject of {name!r}: the history client "
                                "deletes only its own temporary objects")


def make_history_client(location: S3HistoryLocation) -> Any:
    """A client of its own session (``location.profile`` or the normal AWS chain) that
    refuses everything :func:`check_request` refuses."""
    try:
        session = boto3.session.Session(profile_name=location.profile or None)
        client = session.client("s3", endpoint_url=location.endpoint_url or None,
                                region_name=session.region_name or "us-east-1",
                                config=_CONFIG)
    except ProfileNotFound:
        raise ConfigError(location.url, f"AWS profile {location.profile!r} is not configured "
                          "on this machine", key="[history] profile") from None

    def hook(params: Mapping[str, Any], model: Any, **_: Any) -> None:
        check_request(location, model.name, params)

    client.meta.events.register("before-parameter-build.s3", hook,
                                unique_id="backupcheck-history-guard")
    client.meta.events.register("before-sign.s3.CopyObject", _copy_body_md5,
                                unique_id="backupcheck-history-copy-md5")
    return client


#: MD5 of the empty body of a CopyObject request
_EMPTY_MD5 = "1B2M2Y8AsgTpgAmY2PhS4Q=="


def _copy_body_md5(request: Any, **_: Any) -> None:
    """A Content-MD5 of the (empty) CopyObject body: S3-compatible servers (moto, some
    appliances) refuse a copy into an Object Lock bucket with a default retention without
    an integrity header, and botocore sends none for a copy."""
    if "Content-MD5" not in request.headers:
        request.headers["Content-MD5"] = _EMPTY_MD5
