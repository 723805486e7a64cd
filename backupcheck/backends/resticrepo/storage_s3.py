"""A repository in an S3 bucket, read through the read-only guarded client (``s3guard``).

Byte ranges are ranged GETs; the blob reader runs several of them at once (boto3 clients are
thread-safe), so one file's blobs arrive in parallel.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
)

from backupcheck.backends.restic_output import parse_s3_repository
from backupcheck.backends.resticrepo.storage import (
    StorageError,
    StorageMissing,
    StorageUnreachable,
    layout_path,
)
from backupcheck.backends.s3guard import make_s3_client

#: connections per client: the parallel ranged GETs of the blob reader share them
POOL = 16
_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}
_UNREACHABLE = (ConnectionError, ConnectTimeoutError, ReadTimeoutError)


class S3Storage:
    """``s3:`` repository: bucket and prefix on an S3 endpoint."""

    def __init__(self, client: Any, bucket: str, prefix: str, location: str) -> None:
        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/")
        self.location = location

    @classmethod
    def from_repository(cls, repository: str, env: Mapping[str, str]) -> S3Storage:
        where = parse_s3_repository(repository)
        if where is None:
            raise StorageError("cannot find endpoint and bucket in the repository string")
        client = make_s3_client(endpoint_url=where.endpoint_url, profile=env.get("AWS_PROFILE"),
                                region=where.region or env.get("AWS_DEFAULT_REGION"),
                                config=Config(max_pool_connections=POOL))
        return cls(client, where.bucket, where.prefix, repository)

    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def list(self, kind: str) -> list[tuple[str, int]]:
        start = self._key(kind + "/")
        found: list[tuple[str, int]] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start)
            for page in pages:
                for item in page.get("Contents", ()):
                    name = item["Key"].rsplit("/", 1)[-1]
                    if name and not name.startswith("."):
                        found.append((name, int(item["Size"])))
        except _UNREACHABLE as exc:
            raise StorageUnreachable(f"cannot list {kind}/: {exc}") from None
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"cannot list {kind}/ in s3://{self.bucket}: {exc}") from None
        return found

    def read(self, kind: str, name: str, offset: int = 0, length: int | None = None) -> bytes:
        relative = layout_path(kind, name)
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(relative)}
        if length is not None:
            if length == 0:
                return b""
            args["Range"] = f"bytes={offset}-{offset + length - 1}"
        elif offset:
            args["Range"] = f"bytes={offset}-"
        try:
            body = self.client.get_object(**args)["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchBucket":
                raise StorageMissing(f"the bucket {self.bucket} does not exist") from None
            if code in _MISSING:
                raise StorageMissing(f"{relative} is missing") from None
            raise StorageError(f"cannot read {relative}: {code or exc}") from None
        except _UNREACHABLE as exc:
            raise StorageUnreachable(f"cannot read {relative}: {exc}") from None
        except BotoCoreError as exc:
            raise StorageError(f"cannot read {relative}: {exc}") from None
        if length is not None and len(data) != length:
            raise StorageError(f"{relative}: got {len(data)} of {length} bytes")
        return data

    def object_key(self, kind: str, name: str) -> str:
        return self._key(layout_path(kind, name))

    def close(self) -> None:
        self.client.close()
