"""Which history a command uses: a directory, or ``s3://bucket/prefix`` with its own client."""

from __future__ import annotations

from pathlib import Path

from backupcheck.history.s3guard import is_s3_url, parse_history_url
from backupcheck.history.s3store import S3HistoryStore
from backupcheck.history.store import HistoryStore


def open_history(location: str | Path | HistoryStore, *, profile: str = "",
                 endpoint_url: str = "") -> HistoryStore:
    """The store at ``location`` (a store is returned as it is). ``profile`` and
    ``endpoint_url`` apply to an ``s3://`` history only: its credentials, never a backup's."""
    if isinstance(location, HistoryStore):
        return location
    text = str(location)
    if is_s3_url(text):
        return S3HistoryStore(parse_history_url(text, profile, endpoint_url))
    return HistoryStore(Path(text))
