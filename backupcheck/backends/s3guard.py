"""Read-only S3 clients: the guard that makes "never write a backup" a property of the code.

Every boto3 client backupcheck creates goes through :func:`make_s3_client` (or, for the one
STS question it asks, :func:`make_sts_client`), which registers a hook that runs before
botocore builds a request. On S3 only operations whose names start with ``Get``, ``Head`` or
``List`` pass; on STS only ``GetCallerIdentity`` (which account these credentials belong to);
anything else raises :class:`ReadOnlyViolation` before a byte is sent.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import ProfileNotFound

from backupcheck.errors import ReadOnlyViolation, TargetUnavailable

#: parsed service models, shared by all sessions (the loader caches what it has read)
_SHARED_LOADER = botocore.loaders.create_loader()

READ_PREFIXES = ("Get", "Head", "List")
#: the STS operations a client may send: none of them creates or changes anything
STS_OPERATIONS = frozenset({"GetCallerIdentity"})

#: short connect timeout so an unreachable endpoint fails a target in seconds, standard retries
CLIENT_CONFIG = Config(
    connect_timeout=3,
    read_timeout=60,
    retries={"mode": "standard", "total_max_attempts": 3},
    max_pool_connections=32,
)


def is_read_operation(name: str) -> bool:
    return name.startswith(READ_PREFIXES)


def _refuse_writes(event_name: str, **_: Any) -> None:
    operation = event_name.rsplit(".", 1)[-1]
    if not is_read_operation(operation):
        raise ReadOnlyViolation(
            f"refused S3 {operation}: backupcheck is read-only towards backups"
        )


def _refuse_sts(event_name: str, **_: Any) -> None:
    operation = event_name.rsplit(".", 1)[-1]
    if operation not in STS_OPERATIONS:
        raise ReadOnlyViolation(f"refused STS {operation}: backupcheck only asks STS "
                                "GetCallerIdentity")


def guard(client: Any) -> Any:
    """Make ``client`` refuse every non-read operation; returns the same client."""
    client.meta.events.register("before-parameter-build.s3", _refuse_writes,
                                unique_id="backupcheck-read-only-guard")
    return client


def _session(profile: str | None) -> boto3.session.Session:
    core = botocore.session.get_session()
    # one loader for every client: each new session would otherwise parse botocore's
    # JSON service models again, which dominated a drill over many small clients
    core.register_component("data_loader", _SHARED_LOADER)
    # with a shared botocore session the profile is only looked up here
    return boto3.session.Session(botocore_session=core, profile_name=profile)


def make_s3_client(
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    config: Config | None = None,
) -> Any:
    """A guarded S3 client; credentials come from the normal AWS chain (or ``profile``).

    Raises TargetUnavailable when ``profile`` is not configured on this machine.
    """
    try:
        session = _session(profile)
        client = session.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or session.region_name or "us-east-1",
            config=CLIENT_CONFIG.merge(config) if config else CLIENT_CONFIG,
        )
    except ProfileNotFound:
        raise TargetUnavailable(f"AWS profile {profile!r} is not configured on this "
                                "machine") from None
    return guard(client)


def make_sts_client(*, endpoint_url: str | None = None, region: str | None = None,
                    profile: str | None = None) -> Any:
    """An STS client that can ask GetCallerIdentity and nothing else.

    ``endpoint_url`` is the backup's S3 endpoint, if any: S3-compatible servers that answer
    STS do so there (MinIO, moto); AWS's own STS is used otherwise. Raises TargetUnavailable
    when ``profile`` is not configured on this machine.
    """
    try:
        session = _session(profile)
        client = session.client("sts", endpoint_url=endpoint_url or None,
                                region_name=region or session.region_name or "us-east-1",
                                config=CLIENT_CONFIG)
    except ProfileNotFound:
        raise TargetUnavailable(f"AWS profile {profile!r} is not configured on this "
                                "machine") from None
    client.meta.events.register("before-parameter-build.sts", _refuse_sts,
                                unique_id="backupcheck-sts-guard")
    return client
