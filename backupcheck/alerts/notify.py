"""Sending the run's message through Apprise (Slack, Teams, e-mail, ntfy, PagerDuty, webhooks…).

Each URL of ``urls_file`` is its own Apprise instance, so a failure is told per service and
line ("urls_file line 3 (Slack)"), never by its URL: URLs carry tokens. Apprise's own log,
which names URLs and payloads at debug level, is kept out of ours while it sends. Nothing is
stored on disk (Apprise's persistent store is kept in memory).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence

from backupcheck.model import Status
from backupcheck.report.notification import Message

log = logging.getLogger(__name__)


@contextlib.contextmanager
def apprise_silenced() -> Iterator[None]:
    """Apprise's log off: it names URLs (tokens) when it loads and sends them."""
    logger = logging.getLogger("apprise")
    saved = (logger.propagate, logger.level, list(logger.handlers))
    logger.propagate, logger.handlers = False, [logging.NullHandler()]
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.propagate, logger.handlers = saved[0], saved[2]
        logger.setLevel(saved[1])


def understood(url: str) -> bool:
    """Apprise knows the service ``url`` names (read without logging it)."""
    import apprise

    with apprise_silenced():
        return apprise.Apprise.instantiate(url) is not None


def _notify_type(status: Status) -> str:
    from apprise import NotifyType

    if status in (Status.FAIL, Status.ERROR):
        return str(NotifyType.FAILURE.value)
    if status is Status.WARN:
        return str(NotifyType.WARNING.value)
    return str(NotifyType.SUCCESS.value)


def send(message: Message, urls: Sequence[tuple[int, str]]) -> list[str]:
    """Deliver ``message`` to every ``(line, URL)``; a warning for each that failed."""
    import apprise  # slow to import: only when there is something to send

    warnings: list[str] = []
    with apprise_silenced():
        for line, url in urls:
            sender = apprise.Apprise(asset=apprise.AppriseAsset(
                app_id="backupcheck", app_desc="backupcheck", storage_mode="memory"))
            if not sender.add(url):
                warnings.append(f"notification not sent: urls_file line {line} is not a URL "
                                "Apprise understands")
                continue
            service = str(getattr(next(iter(sender)), "service_name", "") or "notification")
            try:
                delivered = bool(sender.notify(body=message.body, title=message.title,
                                               notify_type=_notify_type(message.status)))
            except Exception as exc:  # noqa: BLE001 - a notification never stops the run
                log.debug("notification %s raised %s", line, type(exc).__name__)
                delivered = False
            if not delivered:
                warnings.append(f"notification not delivered: urls_file line {line} "
                                f"({service})")
    return warnings
