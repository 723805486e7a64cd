"""Loads ``backupcheck.toml``, the installation's settings, into values: part of the config layer.

The file lives beside the targets directory (``--settings FILE`` names another one); every
section is optional: ``[notify]`` (Apprise URLs from ``urls_file``, which run statuses notify,
a healthchecks-style ``healthcheck_url``), ``[metrics]`` (a node_exporter ``textfile`` and/or a
``pushgateway``) and ``[mute]`` (accepted risks, see ``mutes.py``). As for client files,
unknown keys and bad values are a :class:`ConfigError` naming the file, the line and the key.

Notification URLs and the healthcheck URL carry tokens: they are kept out of every ``repr``
and no error message quotes them (an unusable line of ``urls_file`` is named by its number).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from backupcheck.alerts.notify import understood
from backupcheck.checks.registry import BY_ID
from backupcheck.config_reader import TableReader as _Reader
from backupcheck.config_reader import read_toml as _read_toml
from backupcheck.errors import ConfigError
from backupcheck.model import Client, Status
from backupcheck.mutes import Mute

__all__ = ["HistorySettings", "MetricsSettings", "NotifySettings", "Settings", "check_mutes",
           "load_settings", "settings_path"]

SETTINGS_NAME = "backupcheck.toml"
#: run statuses ``[notify] on`` may name (``muted`` is never a run's status)
RUN_STATUSES = ("pass", "warn", "error", "fail")
DEFAULT_ON = frozenset({Status.FAIL, Status.ERROR})


@dataclass(frozen=True)
class NotifySettings:
    #: ``(line in urls_file, URL)``; the URLs carry tokens and stay out of every repr
    urls: tuple[tuple[int, str], ...] = field(default=(), repr=False)
    urls_file: Path | None = None
    on: frozenset[Status] = DEFAULT_ON
    healthcheck_url: str = field(default="", repr=False)


@dataclass(frozen=True)
class MetricsSettings:
    textfile: Path | None = None
    pushgateway: str = ""


@dataclass(frozen=True)
class HistorySettings:
    """``[history]``: where drills are recorded (a directory or ``s3://bucket/prefix``);
    ``url`` empty: ``--history`` or its default. A relative directory is relative to the
    settings file."""

    url: str = ""
    profile: str = ""
    endpoint_url: str = ""


@dataclass(frozen=True)
class Settings:
    """Everything ``backupcheck.toml`` says; the defaults when there is no such file."""

    file: Path | None = None
    notify: NotifySettings = field(default_factory=NotifySettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    mutes: tuple[Mute, ...] = ()
    history: HistorySettings = field(default_factory=HistorySettings)


def settings_path(targets: Path, explicit: Path | None) -> Path | None:
    """The settings file to read: ``--settings FILE``, else ``backupcheck.toml`` beside the
    targets directory when there is one, else None (every section at its default)."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(explicit, "settings file not found", key="--settings")
        return explicit
    beside = targets.resolve().parent / SETTINGS_NAME
    return beside if beside.is_file() else None


def _http_url(reader: _Reader, key: str, secret: bool) -> str:
    value: str = reader.get(key, str, "")
    if not value:
        return ""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        # a healthcheck URL is a token: say what is wrong without quoting it
        shown = "" if secret else f", got {value!r}"
        raise reader.error(key, f"expected an http:// or https:// URL{shown}")
    return value


def _local_path(reader: _Reader, key: str, base: Path) -> Path | None:
    value: str = reader.get(key, str, "")
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _read_urls(path: Path) -> tuple[tuple[int, str], ...]:
    """The URLs of ``urls_file``: one a line; blank lines and ``#`` comments are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read notification URLs: {type(exc).__name__}: "
                          f"{getattr(exc, 'strerror', None) or 'not UTF-8 text'}") from None
    urls: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        url = line.strip()
        if not url or url.startswith("#"):
            continue
        if not understood(url):
            raise ConfigError(path, "not a notification URL Apprise understands (the line is "
                              "not shown: it may hold a token)", line=number)
        urls.append((number, url))
    if not urls:
        raise ConfigError(path, "holds no notification URL (one per line)")
    return tuple(urls)


def _notify(reader: _Reader, base: Path) -> NotifySettings:
    if "urls" in reader.table:
        raise reader.error("urls", "notification URLs carry tokens: put them in the file "
                           "urls_file names, one per line, never in this file")
    urls_file = _local_path(reader, "urls_file", base)
    on = reader.string_list("on") if "on" in reader.table else tuple(sorted(DEFAULT_ON))
    for status in on:
        if status not in RUN_STATUSES:
            raise reader.error("on", f"must list run statuses of {', '.join(RUN_STATUSES)}, "
                               f"got {status!r}")
    healthcheck = _http_url(reader, "healthcheck_url", secret=True)
    reader.reject_unknown()
    return NotifySettings(urls=_read_urls(urls_file) if urls_file else (), urls_file=urls_file,
                          on=frozenset(Status(s) for s in on), healthcheck_url=healthcheck)


def _metrics(reader: _Reader, base: Path) -> MetricsSettings:
    textfile = _local_path(reader, "textfile", base)
    if textfile is not None:
        if textfile.suffix != ".prom":
            raise reader.error("textfile", "the textfile collector reads only files ending "
                               f"in .prom, got {textfile.name!r}")
        if not textfile.parent.is_dir():
            raise reader.error("textfile", f"directory {str(textfile.parent)!r} does not exist")
    metrics = MetricsSettings(textfile=textfile,
                              pushgateway=_http_url(reader, "pushgateway", secret=False))
    reader.reject_unknown()
    return metrics


def _history(reader: _Reader, base: Path) -> HistorySettings:
    url: str = reader.get("url", str, "")
    if url and not url.startswith("s3://"):
        url = str(base / Path(url).expanduser())
    elif url.startswith("s3://") and not url[5:].split("/", 1)[0]:
        raise reader.error("url", "expected s3://bucket/prefix")
    endpoint: str = reader.get("endpoint_url", str, "")
    if endpoint and urlsplit(endpoint).scheme not in ("http", "https"):
        raise reader.error("endpoint_url", "expected an http:// or https:// URL")
    history = HistorySettings(url=url, profile=reader.get("profile", str, ""),
                              endpoint_url=endpoint)
    reader.reject_unknown()
    return history


def _mute_line(text: str, key: str) -> int | None:
    quoted = (f'"{key}"', f"'{key}'")
    for number, line in enumerate(text.splitlines(), start=1):
        if any(q in line for q in quoted):
            return number
    return None


class _EntryReader(_Reader):
    """A reader for one ``[mute]`` entry: every key of it is on the entry's line."""

    def __init__(self, file: Path, text: str, table: Mapping[str, Any], prefix: str,
                 line: int | None) -> None:
        super().__init__(file, text, table, prefix)
        self.line = line

    def line_of(self, key: str) -> int | None:
        return self.line


def _until(reader: _Reader, value: Any) -> date:
    """A TOML date (``until = 2027-03-31``) or the same as a string."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise reader.error("until", f"expected a date like 2027-03-31, got {value!r}")


def _mutes(path: Path, text: str, table: Mapping[str, Any]) -> tuple[Mute, ...]:
    mutes: list[Mute] = []
    for key, entry in table.items():
        line = _mute_line(text, key)
        where = f'mute."{key}"'
        parts = key.split("/")
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise ConfigError(path, "a mute is named client/target/check", key=where, line=line)
        check = BY_ID.get(parts[2])
        if check is None:
            raise ConfigError(path, f"no such check {parts[2]!r} (see backupcheck list-checks)",
                              key=where, line=line)
        if check.kind == "client":
            raise ConfigError(path, f"{check.id} cannot be muted: fix the client file",
                              key=where, line=line)
        if not isinstance(entry, dict):
            raise ConfigError(path, 'expected a table like { reason = "...", until = '
                              '"2027-03-31" }', key=where, line=line)
        reader = _EntryReader(path, text, entry, f"{where}.", line)
        reason: str = reader.get("reason", str, required=True)
        if not reason.strip():
            raise reader.error("reason", "say why the risk is accepted")
        reader.used.add("until")
        if "until" not in entry:
            raise reader.error("until", "required key is missing: a mute needs the last day "
                               "it holds (until = \"YYYY-MM-DD\")")
        until = _until(reader, entry["until"])
        reader.reject_unknown()
        mutes.append(Mute(parts[0], parts[1], parts[2], reason.strip(), until, str(path), line))
    return tuple(mutes)


def load_settings(path: Path | None) -> Settings:
    """Parse and validate ``path`` (None: no settings file, every default)."""
    if path is None:
        return Settings()
    text, doc = _read_toml(path)
    top = _Reader(path, text, doc)
    base = path.parent
    notify = _notify(_Reader(path, text, top.get("notify", dict, {}), "notify."), base)
    metrics = _metrics(_Reader(path, text, top.get("metrics", dict, {}), "metrics."), base)
    mutes = _mutes(path, text, top.get("mute", dict, {}))
    history = _history(_Reader(path, text, top.get("history", dict, {}), "history."), base)
    top.reject_unknown()
    return Settings(file=path, notify=notify, metrics=metrics, mutes=mutes, history=history)


def check_mutes(settings: Settings, clients: Sequence[Client]) -> None:
    """Every mute names a client, one of its targets and a check that target reports."""
    by_name = {c.name: c for c in clients}
    for mute in settings.mutes:
        where = f'mute."{mute.key}"'
        client = by_name.get(mute.client)
        if client is None:
            raise ConfigError(mute.file, f"no such client {mute.client!r}", key=where,
                              line=mute.line)
        target = next((t for t in client.targets if t.name == mute.target), None)
        if target is None:
            raise ConfigError(mute.file, f"client {mute.client!r} has no target "
                              f"{mute.target!r}", key=where, line=mute.line)
        kind = BY_ID[mute.check].kind
        if kind not in (target.kind, "restore"):
            raise ConfigError(mute.file, f"{mute.check} is not a check of {target.kind} target "
                              f"{mute.target!r}", key=where, line=mute.line)
