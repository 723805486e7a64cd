"""Healthchecks-style pings, a dead man's switch: ``/start`` before a run, the URL itself on
success, ``/fail`` on failure (the healthchecks.io convention, also Uptime Kuma, Cronitor).

A run that dies or hangs never sends its end; the service then raises the alarm itself.
Every ping carries a run id (``rid``) so overlapping runs pair their start and end, and the
end carries the run's summary as its body. The URL is a token: no warning names it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Literal
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit, urlunsplit
from urllib.request import Request, urlopen

from backupcheck import __version__

Ping = Literal["start", "success", "fail"]
SUFFIX: dict[Ping, str] = {"start": "/start", "success": "", "fail": "/fail"}
TIMEOUT_SECONDS = 5.0
TRIES = 3
#: what healthchecks.io keeps of a ping's body
MAX_BODY = 10_000


def ping_url(base: str, ping: Ping, run_id: str) -> str:
    """``base`` with the ping's path suffix and the run id in its query."""
    parts = urlsplit(base)
    query = "&".join(q for q in (parts.query, f"rid={run_id}") if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + SUFFIX[ping],
                       query, ""))


def _reason(exc: BaseException) -> str:
    """Why a ping failed, in words that cannot hold the URL."""
    if isinstance(exc, HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, URLError) and isinstance(exc.reason, OSError):
        return exc.reason.strerror or type(exc.reason).__name__
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


@dataclass
class Healthcheck:
    url: str = field(repr=False)
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout: float = TIMEOUT_SECONDS
    pause: float = 1.0

    def ping(self, ping: Ping, body: str = "") -> str | None:
        """Send one ping (a few tries for a network fault or a 5xx); a warning on failure."""
        request = Request(ping_url(self.url, ping, self.run_id),  # noqa: S310 - http(s) only
                          data=body[:MAX_BODY].encode("utf-8"), method="POST",
                          headers={"User-Agent": f"backupcheck/{__version__}",
                                   "Content-Type": "text/plain; charset=utf-8"})
        last: BaseException | None = None
        for attempt in range(TRIES):
            try:
                with urlopen(request, timeout=self.timeout):  # noqa: S310 - validated scheme
                    return None
            except HTTPError as exc:
                last = exc
                if exc.code < 500:
                    break  # the service refused it: asking again will not help
            except (OSError, ValueError) as exc:
                last = exc
            if attempt + 1 < TRIES:
                time.sleep(self.pause * (attempt + 1))
        return f"healthcheck ping {ping} not delivered: {_reason(last) if last else 'unknown'}"

    def start(self) -> str | None:
        return self.ping("start")

    def finish(self, ok: bool, body: str) -> str | None:
        return self.ping("success" if ok else "fail", body)
