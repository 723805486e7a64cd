"""A loopback HTTP receiver for the alert tests: records every request, answers with a status.

It stands in for everything a run talks to besides storage: an Apprise ``json://`` webhook,
a healthchecks.io ping endpoint and a Prometheus Pushgateway. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def route(self) -> str:
        """The path without its query."""
        return self.path.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.path.split("?", 1)[1] if "?" in self.path else ""

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    server: ThreadingHTTPServer
    requests: list[Request] = field(default_factory=list)
    #: answer for each request whose path starts with the key (default 200)
    answers: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, prefix: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.route.startswith(prefix)]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()


def _handler(receiver: list[Receiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            owner = receiver[0]
            with owner.lock:
                owner.requests.append(Request(self.command, self.path, dict(self.headers),
                                              body))
            code = next((c for p, c in owner.answers.items() if self.path.startswith(p)), 200)
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        do_GET = do_POST = do_PUT = do_HEAD = _record  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


def start_receiver() -> Iterator[Receiver]:
    """Generator for a fixture: a running receiver, stopped afterwards."""
    slot: list[Receiver] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(slot))
    host, port = server.server_address[:2]
    receiver = Receiver(f"http://{host}:{port}", server)
    slot.append(receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
