"""A repository behind a restic REST server (``rest:http[s]://[user:pass@]host/path/``).

restic's REST protocol: ``GET /config``, ``GET /<kind>/<name>`` (with ``Range``), and
``GET /<kind>/`` listing, in API v2 (``Accept: application/vnd.x.restic.rest.v2``) as JSON
``[{"name", "size"}]``. Only GET is ever sent. Connections come from one urllib3 pool.
"""

from __future__ import annotations

import json
from urllib.parse import unquote, urlsplit, urlunsplit

import urllib3

from backupcheck.backends.resticrepo.storage import (
    StorageError,
    StorageMissing,
    StorageUnreachable,
    layout_path,
)

API_V2 = "application/vnd.x.restic.rest.v2"
POOL = 16
TIMEOUT = urllib3.Timeout(connect=10.0, read=60.0)


class RestStorage:
    """``rest:`` repository (the URL after ``rest:``)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.headers: dict[str, str] = {}
        if parts.username is not None:
            self.headers.update(urllib3.make_headers(
                basic_auth=f"{unquote(parts.username)}:{unquote(parts.password or '')}"))
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        self.base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/", "", ""))
        self.location = self.base
        self.pool = urllib3.PoolManager(maxsize=POOL, timeout=TIMEOUT,
                                        retries=urllib3.Retry(total=2, backoff_factor=0.2))

    def _get(self, path: str, headers: dict[str, str]) -> bytes:
        try:
            answer = self.pool.request("GET", self.base + path, headers={**self.headers,
                                                                         **headers})
        except (urllib3.exceptions.MaxRetryError, urllib3.exceptions.TimeoutError,
                urllib3.exceptions.NewConnectionError) as exc:
            raise StorageUnreachable(f"cannot read {path}: {exc}") from None
        except urllib3.exceptions.HTTPError as exc:
            raise StorageError(f"cannot read {path}: {exc}") from None
        if answer.status == 404:
            raise StorageMissing(f"{path} is missing")
        if answer.status in (401, 403):
            raise StorageError(f"access denied to {path}: HTTP {answer.status}")
        if answer.status not in (200, 206):
            raise StorageError(f"cannot read {path}: HTTP {answer.status}")
        return bytes(answer.data)

    def list(self, kind: str) -> list[tuple[str, int]]:
        try:
            doc = json.loads(self._get(kind + "/", {"Accept": API_V2}))
            return [(str(item["name"]), int(item["size"])) for item in doc]
        except StorageMissing:
            return []
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"unexpected listing of {kind}/: {exc}") from None

    def read(self, kind: str, name: str, offset: int = 0, length: int | None = None) -> bytes:
        path = "config" if kind == "config" else f"{kind}/{name}"
        layout_path(kind, name)  # validates the name
        headers: dict[str, str] = {}
        if length is not None:
            if length == 0:
                return b""
            headers["Range"] = f"bytes={offset}-{offset + length - 1}"
        elif offset:
            headers["Range"] = f"bytes={offset}-"
        data = self._get(path, headers)
        if length is not None and len(data) != length:
            raise StorageError(f"{path}: got {len(data)} of {length} bytes")
        return data

    def object_key(self, kind: str, name: str) -> str:
        return "config" if kind == "config" else f"{kind}/{name}"

    def close(self) -> None:
        self.pool.clear()
