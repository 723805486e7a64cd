"""Read-only S3 clients: the guard that makes "never write a backup" a property of the code.

Every boto3 client backupcheck creates goes through :func:`make_s3_client`, which registers a
hook that runs before botocore builds a request. Only operations whose names start with
``Get``, ``Head`` or ``List`` pass; anything else raises :class:`ReadOnlyViolation` before a
byte is sent.
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


def guard(client: Any) -> Any:
    """Make ``client`` refuse every non-read operation; returns the same client."""
    client.meta.events.register("before-parameter-build.s3", _refuse_writes,
                                unique_id="backupcheck-read-only-guard")
    return client


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
        core = botocore.session.get_session()
        # one loader for every client: each new session would otherwise parse botocore's
        # JSON service models again, which dominated a drill over many small clients
        core.register_component("data_loader", _SHARED_LOADER)
        session = boto3.session.Session(botocore_session=core, profile_name=profile)
        # with a shared botocore session the profile is only looked up here
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
