"""Loads ``targets/*.toml`` and ``restore_tests/*.toml`` into the model: the only validation edge.

Every problem becomes a :class:`ConfigError` naming the file, the line where it can be found,
and the key, so the CLI can print one line and exit 2.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from backupcheck.backends.restic_output import reader_key
from backupcheck.config_reader import TableReader as _Reader
from backupcheck.config_reader import read_toml as _read_toml
from backupcheck.errors import ConfigError
from backupcheck.model import Client, Plan, Policy, ResticTarget, S3Target, Target
from backupcheck.units import parse_duration, parse_size

__all__ = ["BrokenClient", "default_plan", "load_client", "load_clients", "load_estate",
           "load_plan", "parse_duration", "parse_size"]

_SECRET_ADVICE = {"AWS_": 'set env = { AWS_PROFILE = "..." } and keep the keys in that profile',
                  "REST": "use password_file, password_command or password_env"}
#: environment variables that hold secrets and so must not be written into a config file
_SECRET_ENV = frozenset({"RESTIC_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                         "B2_ACCOUNT_KEY", "AZURE_ACCOUNT_KEY", "AZURE_ACCOUNT_SAS",
                         "RESTIC_REST_PASSWORD", "GOOGLE_APPLICATION_CREDENTIALS_JSON"})

#: every key of a client file's top level and of one of its ``[[targets]]`` (any kind)
_TOP_KEYS = ("client", "rpo", "rto", "policy", "targets")
_TARGET_KEYS = ("name", "kind", "bucket", "prefix", "endpoint_url", "region", "profile",
                "manifest", "inventory_report", "env", "password_file", "password_command",
                "password_env", "repository", "host", "paths", "tags", "source",
                "manifest_endpoint_url", "reader")

#: the longest string a client file may hold: PATH_MAX, for paths, URLs and the rest alike
_MAX_STRING = 4096

_READ_DATA_SUBSET = re.compile(r"^(\d+(\.\d+)?%|\d+/\d+|\d+[KMGT]?|rotate/0*[1-9]\d*)$")
_CLIENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
#: what botocore accepts as a region name (anything else raises deep inside it)
_REGION = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
#: a name the environment of a restic child can hold
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
def _load_policy(reader: _Reader) -> Policy:
    policy = Policy(
        object_lock_mode=reader.choice(  # type: ignore[arg-type]
            "object_lock_mode", ("COMPLIANCE", "GOVERNANCE", "any"), "COMPLIANCE"),
        min_retention_days=reader.non_negative_int("min_retention_days", 30),
        encryption=reader.choice(  # type: ignore[arg-type]
            "encryption", ("any", "AES256", "aws:kms"), "any"),
        kms_key_id=reader.get("kms_key_id", str, ""),
        max_restic_keys=reader.non_negative_int("max_restic_keys", 1, minimum=1),
        min_snapshots=reader.non_negative_int("min_snapshots", 1),
        max_object_heads=reader.non_negative_int("max_object_heads", 100_000, minimum=1),
        min_lock_horizon_seconds=reader.converted("min_lock_horizon", parse_duration, "7d"),
    )
    # only after every known key was read: reject_unknown reports the keys not read
    reader.reject_unknown()
    return policy


def _endpoint(reader: _Reader, key: str) -> str | None:
    if (url := reader.get(key, str)) is not None and not re.match(r"^https?://[^/\s]+", url):
        raise reader.error(key, f"expected an http:// or https:// URL, got {url!r}")
    return str(url) if url is not None else None


def _local_path(value: str | None, base: Path) -> str | None:
    """A path of a client file: a relative one is relative to that file's directory."""
    if value is None:
        return None
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else base.absolute() / path)


def _load_target(reader: _Reader) -> Target:
    name: str = reader.get("name", str, required=True)
    if not name.strip():
        raise reader.error("name", "must not be empty")
    reader.get("kind", str, required=True)
    kind = reader.choice("kind", ("s3", "restic"), "")
    target: Target
    if kind == "s3":
        bucket: str = reader.get("bucket", str, required=True)
        if not bucket:
            raise reader.error("bucket", "must not be empty")
        endpoint_url = _endpoint(reader, "endpoint_url")
        region: str | None = reader.get("region", str)
        if region is not None and not _REGION.match(region):
            raise reader.error("region", f"not a region name: {region!r}")
        target = S3Target(
            name=name, bucket=bucket, prefix=reader.get("prefix", str, ""),
            endpoint_url=endpoint_url, region=region,
            profile=reader.get("profile", str),
            manifest=reader.get("manifest", str),
            inventory_report=reader.get("inventory_report", str),
        )
        if not re.match(r"^s3://[^/\s]+/", (target.inventory_report or "s3://b") + "/"):
            raise reader.error("inventory_report", "expected s3://bucket/prefix/")
    else:
        env = reader.get("env", dict, {})
        for key, value in env.items():
            if not _ENV_NAME.match(key):
                raise reader.error("env", f"{key!r} is not an environment variable name")
            if not isinstance(value, str) or "\x00" in value or len(value) > _MAX_STRING:
                raise reader.error("env", f"value of {key} must be a string (without NUL, "
                                   f"at most {_MAX_STRING} characters)")
            if key in _SECRET_ENV:
                advice = _SECRET_ADVICE.get(key[:4], "keep it in backupcheck's environment")
                raise reader.error("env", f"{key} is a secret and must not be written in a "
                                   f"config file ({advice})")
        passwords = {k: reader.get(k, str) for k in
                     ("password_file", "password_command", "password_env")}
        given = [k for k, v in passwords.items() if v]
        if len(given) != 1:
            raise reader.error(
                "password_file" if not given else given[1],
                "set exactly one of password_file, password_command, password_env")
        target = ResticTarget(
            name=name,
            repository=reader.get("repository", str, required=True),
            password_file=_local_path(passwords["password_file"], reader.file.parent),
            password_command=passwords["password_command"],
            password_env=passwords["password_env"],
            env=dict(env), host=reader.get("host", str),
            paths=reader.string_list("paths"), tags=reader.string_list("tags"),
            manifest=reader.get("manifest", str),
            source=_local_path(reader.get("source", str), reader.file.parent),
            manifest_endpoint_url=_endpoint(reader, "manifest_endpoint_url"),
            reader=reader.converted("reader", reader_key(reader.get("repository", str)), "auto"),
        )
    reader.reject_unknown()
    return target


def load_client(path: Path) -> Client:
    """Parse and validate one client file."""
    text, doc = _read_toml(path)
    top = _Reader(path, text, doc, known=_TOP_KEYS, max_length=_MAX_STRING)
    name: str = top.get("client", str, required=True)
    if not _CLIENT_NAME.match(name):
        raise top.error("client", "use letters, digits, '.', '_' and '-' only (max 128)")
    rpo = top.converted("rpo", parse_duration, required=True)
    rto = top.converted("rto", parse_duration, required=True)
    policy = _load_policy(_Reader(path, text, top.get("policy", dict, {}), "policy.",
                                   max_length=_MAX_STRING))
    raw_targets = top.get("targets", list, [])
    top.reject_unknown()
    targets: list[Target] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_targets):
        if not isinstance(raw, dict):
            raise top.error("targets", "each [[targets]] entry must be a table")
        reader = _Reader(path, text, raw, f"targets[{index}].", known=_TARGET_KEYS,
                         max_length=_MAX_STRING)
        target = _load_target(reader)
        if target.name in seen:
            raise reader.error("name", f"duplicate target name {target.name!r}")
        seen.add(target.name)
        targets.append(target)
    return Client(name=name, rpo_seconds=rpo, rto_seconds=rto, policy=policy,
                  targets=tuple(targets), source_file=path)


@dataclass(frozen=True)
class BrokenClient:
    """A client file that could not be loaded: the name it is reported under (its ``client``
    value when that much could be read, else the file's name) and the error."""

    name: str
    file: Path
    error: ConfigError
    #: its client name could not be read: it might be any client, so ``--client`` keeps it
    anonymous: bool = False


def _name_of_broken(path: Path) -> str | None:
    """The ``client`` of a file that did not load, when that much can be read."""
    try:
        name = tomllib.loads(path.read_text(encoding="utf-8")).get("client")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None
    return name if isinstance(name, str) and _CLIENT_NAME.match(name) else None


def load_estate(directory: Path,
                only: Iterable[str] = ()) -> tuple[list[Client], list[BrokenClient]]:
    """The clients in ``directory/*.toml`` (optionally only the named ones), and the files
    that could not be loaded: one bad file never stops the others. A client file without
    ``[[targets]]`` is broken too (it would check nothing and pass). A missing directory, no
    client file at all, a duplicate client name and an unknown ``--client`` raise."""
    if not directory.is_dir():
        raise ConfigError(directory, "targets directory does not exist")
    clients: list[Client] = []
    broken: list[BrokenClient] = []
    by_name: dict[str, Path] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            client = load_client(path)
            if not client.targets:
                raise ConfigError(path, "no [[targets]]: the file checks nothing",
                                  key="targets")
        except ConfigError as exc:
            name = _name_of_broken(path)
            if name is None or name in by_name:  # reported under its file's name
                name, anonymous = path.name, name is None
            else:
                anonymous = False
            by_name[name] = path
            broken.append(BrokenClient(name, path, exc, anonymous))
            continue
        if client.name in by_name:
            text, doc = _read_toml(path)
            raise _Reader(path, text, doc).error(
                "client", f"duplicate client {client.name!r} (also in {by_name[client.name]})")
        by_name[client.name] = path
        clients.append(client)
    if not by_name:
        raise ConfigError(directory, "no client files (*.toml) found")
    wanted = list(only)
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise ConfigError(directory, f"no such client: {', '.join(unknown)}", key="--client")
    if wanted:
        clients = [c for c in clients if c.name in wanted]
        broken = [b for b in broken if b.name in wanted or b.anonymous]
    return clients, broken


def load_clients(directory: Path, only: Iterable[str] = ()) -> list[Client]:
    """All clients in ``directory/*.toml``, optionally only the named ones; the first file
    that cannot be loaded raises its :class:`ConfigError`."""
    clients, broken = load_estate(directory, only)
    if broken:
        raise broken[0].error
    return clients


def load_plan(path: Path) -> Plan:
    """Parse and validate one restore plan."""
    if not path.is_file():
        raise ConfigError(path, "restore plan not found")
    text, doc = _read_toml(path)
    reader = _Reader(path, text, doc)
    subset: str = reader.get("read_data_subset", str, "2%")
    if subset and not _READ_DATA_SUBSET.match(subset):
        raise reader.error("read_data_subset", f"expected '' or like 2%, 1/5, 500M or "
                           f"rotate/12, got {subset!r}")
    snapshot: str = reader.get("snapshot", str, "latest")
    window: float | None = None
    if snapshot.startswith("random-within:"):
        try:
            window = parse_duration(snapshot.split(":", 1)[1])
        except ValueError as exc:
            raise reader.error("snapshot", str(exc)) from None
    elif snapshot != "latest":
        raise reader.error("snapshot", f"must be 'latest' or 'random-within:30d', got {snapshot!r}")
    plan = Plan(
        name=reader.get("name", str, path.stem),
        files=reader.non_negative_int("files", 20, minimum=1),
        max_bytes=reader.converted("max_bytes", parse_size, "2GiB"),
        read_data_subset=subset,
        include_newest=reader.get("include_newest", bool, True),
        snapshot=snapshot,
        snapshot_window_seconds=window,
        prefer_unverified=reader.get("prefer_unverified", bool, True),
        jobs=reader.non_negative_int("jobs", 4, minimum=1),
        restore_streams=reader.non_negative_int("restore_streams", 8, minimum=1),
        restore_file_seconds=reader.converted("restore_file_cost", _file_cost, "3ms"),
        file=str(path),
    )
    reader.reject_unknown()
    return plan


def _file_cost(text: str) -> float:
    """``restore_file_cost``: a duration like ``3ms``, or ``0s`` (a target where creating a
    file costs nothing worth counting)."""
    return 0.0 if text.strip() in ("0", "0s", "0ms") else parse_duration(text)


def default_plan() -> Plan:
    """The plan used when ``--plan`` is not given and ``restore_tests/weekly.toml`` is absent."""
    return Plan()
