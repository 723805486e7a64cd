"""Fault injection for the hardening tests: an HTTP proxy for S3 and a wrapper for restic.

The real server and the real restic cannot misbehave on demand. :class:`FaultProxy` sits on
loopback between the tool and the moto server and plants faults the way a flaky network or a
throttling provider produces them:

* :meth:`FaultProxy.cut_once` — forward a matching response's headers and the first N bytes
  of its body, then reset the connection (RST), once; later requests pass untouched;
* :meth:`FaultProxy.slow_down` — answer matching requests with ``503 SlowDown`` (S3's
  throttling error), every time or the first N times, without forwarding them;
* :meth:`FaultProxy.add_latency` — hold every request for a fixed time before it is
  answered: the round trip to a distant endpoint (each request pays it, as each pays TTFB);
* :meth:`FaultProxy.throttle` — pace every response body through one shared budget of
  bytes per second: a thin link that all connections share, so more streams do not make it
  any faster.

Every request is logged (method, path, Range header, time) so a test can prove what the
tool sent: that a read resumed with a ranged GET from the offset reached, how often a
throttled request was retried, or that a refused write never left the process.

:func:`fake_restic` writes a ``restic`` script that delegates to the real binary except for
the faults named in the ``BC_FAKE`` variable of its environment (a target's ``env`` sets it,
so one target misbehaves and the others do not).
"""

from __future__ import annotations

import contextlib
import http.client
import shutil
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

SLOW_DOWN_BODY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
                  b"<Message>Please reduce your request rate.</Message>"
                  b"<RequestId>FAULTPROXY</RequestId><HostId>faultproxy</HostId></Error>")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as sent, with the query string
    headers: dict[str, str]  # lower-case names
    at: float
    raw_headers: tuple[tuple[str, str], ...] = ()  # as sent, for forwarding

    @property
    def bucket(self) -> str:
        return unquote(urlsplit(self.path).path.lstrip("/").split("/", 1)[0])

    @property
    def key(self) -> str:
        parts = unquote(urlsplit(self.path).path).lstrip("/").split("/", 1)
        return parts[1] if len(parts) > 1 else ""

    @property
    def query(self) -> str:
        return urlsplit(self.path).query

    @property
    def range(self) -> str:
        return self.headers.get("range", "")

    @property
    def is_object_get(self) -> bool:
        """A GetObject (not a bucket-level GET like ``?versioning`` or a listing)."""
        return (self.method == "GET" and bool(self.key)
                and all(p.startswith("versionId=") or p.startswith("partNumber=")
                        for p in self.query.split("&") if p))


Match = Callable[[Request], bool]


@dataclass
class _Rule:
    kind: str  # "cut" | "slowdown"
    match: Match
    times: int | None  # None: every matching request
    after: int = 0  # cut: body bytes forwarded before the reset
    fired: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, request: Request) -> bool:
        if not self.match(request):
            return False
        with self.lock:
            if self.times is not None and self.fired >= self.times:
                return False
            self.fired += 1
            return True


class _SharedLink:
    """One budget of bytes per second for every connection: each chunk books the next free
    slot on the link, so N connections together still get ``rate``, each about rate / N."""

    CHUNK = 16 * 1024

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._free_at = time.monotonic()

    def send(self, conn: socket.socket, payload: bytes) -> None:
        view = memoryview(payload)
        for offset in range(0, len(view), self.CHUNK):
            piece = view[offset:offset + self.CHUNK]
            with self._lock:
                now = time.monotonic()
                start = max(self._free_at, now)  # an idle link saves up no credit
                self._free_at = start + len(piece) / self.rate
            if start + len(piece) / self.rate > now:
                time.sleep(start + len(piece) / self.rate - now)
            conn.sendall(piece)


class FaultProxy:
    """Threaded HTTP/1.1 proxy to ``upstream_host:upstream_port``; see the module docstring."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.requests: list[Request] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._sockets: set[socket.socket] = set()
        self.latency = 0.0
        self._link: _SharedLink | None = None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept, daemon=True, name="faultproxy")
        self._thread.start()

    # ------------------------------------------------------------ faults

    def cut_once(self, match: Match, after: int) -> _Rule:
        """Reset the connection after ``after`` body bytes of the first matching response."""
        rule = _Rule("cut", match, 1, after)
        with self._lock:
            self._rules.append(rule)
        return rule

    def slow_down(self, match: Match, times: int | None = None) -> _Rule:
        """Answer matching requests with 503 SlowDown (``times`` None: always)."""
        rule = _Rule("slowdown", match, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def add_latency(self, seconds: float) -> None:
        """Every request waits ``seconds`` before it is forwarded (0: none)."""
        self.latency = seconds

    def throttle(self, bytes_per_second: int) -> None:
        """All response bodies together get at most this many bytes per second (0: off)."""
        self._link = _SharedLink(bytes_per_second) if bytes_per_second > 0 else None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.requests.clear()

    def matching(self, match: Match) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if match(r)]

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    # ------------------------------------------------------------ plumbing

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True,
                             name="faultproxy-conn").start()

    def _rule_for(self, request: Request) -> _Rule | None:
        with self._lock:
            rules = list(self._rules)
        return next((rule for rule in rules if rule.take(request)), None)

    def _serve(self, conn: socket.socket) -> None:
        upstream = http.client.HTTPConnection(*self.upstream, timeout=60)
        reader = conn.makefile("rb")
        try:
            while not self._closed.is_set():
                request, body = self._read_request(reader)
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                rule = self._rule_for(request)
                if rule is not None and rule.kind == "slowdown":
                    conn.sendall(self._slow_down(request))
                    continue
                if self.latency > 0:
                    time.sleep(self.latency)
                status, reason, headers, data = self._forward(upstream, request, body)
                head = self._head(status, reason, headers, data, request.method == "HEAD")
                if rule is not None and rule.kind == "cut":
                    conn.sendall(head + data[:rule.after])
                    time.sleep(0.2)  # let the bytes arrive, then reset like a dying link
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                    return
                payload = head + (b"" if request.method == "HEAD" else data)
                link = self._link
                if link is None:
                    conn.sendall(payload)
                else:
                    link.send(conn, payload)
        except (OSError, http.client.HTTPException):
            return
        finally:
            with contextlib.suppress(OSError):
                reader.close()
            with contextlib.suppress(OSError):
                conn.close()
            upstream.close()
            with self._lock:
                self._sockets.discard(conn)

    @staticmethod
    def _read_request(reader: object) -> tuple[Request | None, bytes]:
        readline = reader.readline  # type: ignore[attr-defined]
        line = readline(65536)
        while line in (b"\r\n", b"\n"):
            line = readline(65536)
        if not line:
            return None, b""
        method, path, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        raw: list[tuple[str, str]] = []
        while True:
            header = readline(65536)
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.decode("latin-1").partition(":")
            raw.append((name.strip(), value.strip()))
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = reader.read(length) if length else b""  # type: ignore[attr-defined]
        return Request(method, path, headers, time.monotonic(), tuple(raw)), body

    def _forward(self, upstream: http.client.HTTPConnection, request: Request,
                 body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        for attempt in range(2):
            try:
                upstream.putrequest(request.method, request.path, skip_host=True,
                                    skip_accept_encoding=True)
                for name, value in request.raw_headers:
                    if name.lower() not in _HOP_BY_HOP:
                        upstream.putheader(name, value)
                upstream.endheaders(body or None)
                response = upstream.getresponse()
                data = response.read()
                return response.status, response.reason, response.getheaders(), data
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                upstream.close()  # moto closed an idle keep-alive connection: reconnect
                if attempt:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _head(status: int, reason: str, headers: list[tuple[str, str]], data: bytes,
              head_request: bool) -> bytes:
        lines = [f"HTTP/1.1 {status} {reason}"]
        for name, value in headers:
            lowered = name.lower()
            if lowered in _HOP_BY_HOP or (lowered == "content-length" and not head_request):
                continue
            lines.append(f"{name}: {value}")
        if not head_request:
            lines.append(f"Content-Length: {len(data)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    @staticmethod
    def _slow_down(request: Request) -> bytes:
        body = b"" if request.method == "HEAD" else SLOW_DOWN_BODY
        head = ("HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                "x-amz-request-id: FAULTPROXY\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
        return head + body


# ---------------------------------------------------------------- restic

#: ``BC_FAKE`` words: old-version, busybox, garbage-snapshots, garbage-ls, dump-faults
#: (``dump`` of ``*/die.bin`` prints a little and fails; of ``*/hang*.bin`` prints a little
#: and hangs, its pid appended to ``$BC_HANG_PIDS``), check-hangs (with ``$BC_HANG_PIDS`` set,
#: ``check`` hangs, its pid appended there). ``BC_ARGV_LOG``: every argv, one a line.
_WRAPPER = r"""#!/bin/sh
[ -n "$BC_ARGV_LOG" ] && printf '%s\n' "$*" >> "$BC_ARGV_LOG"
OLD='restic 0.9.6 compiled with go1.13.8 on linux/amd64'
BUSYBOX='BusyBox v1.36.1 (2023-01-01) multi-call binary.'
case " $BC_FAKE " in *" old-version "*)
  case " $* " in *" version "*) echo "$OLD"; exit 0;; esac;;
esac
case " $BC_FAKE " in *" busybox "*)
  case " $* " in *" version "*) echo "$BUSYBOX"; exit 0;; esac;;
esac
case " $BC_FAKE " in *" garbage-snapshots "*)
  case " $* " in *" snapshots "*)
    printf '\033[31m\033]0;pwned\007<html>{"not": json'; exit 0;; esac;;
esac
case " $BC_FAKE " in *" garbage-ls "*)
  case " $* " in *" ls "*) printf '{"struct_type": "node", "path": 7}\n'; exit 0;; esac;;
esac
case " $BC_FAKE " in *" check-hangs "*)
  case " $* " in *" check "*) if [ -n "$BC_HANG_PIDS" ]; then
                                echo $$ >> "$BC_HANG_PIDS"; exec sleep 600; fi;; esac;;
esac
case " $BC_FAKE " in *" dump-faults "*)
  if [ "$2" = dump ]; then
    case "$4" in
      */die.bin) printf 'partial'
                 echo "Fatal: planted failure: pack 5eed1e55 is damaged" >&2; exit 1;;
      */hang*.bin) [ -n "$BC_HANG_PIDS" ] && echo $$ >> "$BC_HANG_PIDS"
                   printf 'partial'; exec sleep 600;;
    esac
  fi;;
esac
exec REAL "$@"
"""


def fake_restic(directory: Path) -> Path:
    """``directory/restic``, the wrapper above around the real restic; returns ``directory``
    (put it first on PATH)."""
    real = shutil.which("restic") or "/usr/bin/restic"
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "restic"
    script.write_text(_WRAPPER.replace("exec REAL", f'exec "{real}"'), encoding="utf-8")
    script.chmod(0o755)
    return directory
