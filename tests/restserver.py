"""A loopback server speaking restic's REST protocol over a repository directory.

Debian has no rest-server package, so the tests bring this small one: enough of the protocol
(``POST /?create=true``, ``HEAD/GET/POST/DELETE /config`` and ``/<type>/<name>``, ``GET
/<type>/`` listings in API v1 and v2, ``Range`` on GET) for the real restic binary to init and
back up, and for the tool to read. Files are kept in restic's local layout (``data/<xx>/``), and
every request is recorded so a test can prove the tool only ever sent GET.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TYPES = ("data", "keys", "locks", "snapshots", "index")
_NAME = re.compile(r"^[0-9a-f]{64}$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass
class RestServer:
    url: str
    root: Path
    requests: list[tuple[str, str, str]] = field(default_factory=list)  #: (method, path, agent)


def _file(root: Path, path: str) -> Path | None:
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts == ["config"]:
        return root / "config"
    if len(parts) == 2 and parts[0] in TYPES and _NAME.match(parts[1]):
        kind, name = parts
        return root / kind / name[:2] / name if kind == "data" else root / kind / name
    return None


def _handler(server: RestServer) -> type[BaseHTTPRequestHandler]:
    root = server.root

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:
            pass

        def _record(self) -> None:
            server.requests.append((self.command, self.path, self.headers.get("User-Agent", "")))

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
                  ) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _listing(self, kind: str) -> None:
            base = root / kind
            found: list[tuple[str, int]] = []
            dirs = [d for d in base.iterdir() if d.is_dir()] if kind == "data" else [base]
            for directory in dirs:
                found += [(f.name, f.stat().st_size) for f in directory.iterdir() if f.is_file()]
            if "vnd.x.restic.rest.v2" in self.headers.get("Accept", ""):
                body = json.dumps([{"name": n, "size": s} for n, s in found]).encode()
                self._send(200, body, {"Content-Type": "application/vnd.x.restic.rest.v2"})
            else:
                self._send(200, json.dumps([n for n, _ in found]).encode(),
                           {"Content-Type": "application/vnd.x.restic.rest.v1"})

        def do_GET(self) -> None:  # noqa: N802
            self._record()
            parts = [p for p in self.path.split("?", 1)[0].split("/") if p]
            if len(parts) == 1 and parts[0] in TYPES:
                return self._listing(parts[0])
            path = _file(root, self.path)
            if path is None or not path.is_file():
                return self._send(404)
            data = path.read_bytes()
            wanted = _RANGE.match(self.headers.get("Range", ""))
            if wanted:
                start = int(wanted.group(1))
                end = int(wanted.group(2)) if wanted.group(2) else len(data) - 1
                return self._send(206, data[start:end + 1], {
                    "Content-Range": f"bytes {start}-{end}/{len(data)}"})
            return self._send(200, data)

        def do_HEAD(self) -> None:  # noqa: N802
            self._record()
            path = _file(root, self.path)
            if path is None or not path.is_file():
                return self._send(404)
            self.send_response(200)
            self.send_header("Content-Length", str(path.stat().st_size))
            self.end_headers()

        def do_POST(self) -> None:  # noqa: N802
            self._record()
            body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
            if self.path.split("?", 1)[0] in ("/", "") and "create=true" in self.path:
                for kind in TYPES:
                    (root / kind).mkdir(parents=True, exist_ok=True)
                for i in range(256):
                    (root / "data" / f"{i:02x}").mkdir(exist_ok=True)
                return self._send(200)
            path = _file(root, self.path)
            if path is None:
                return self._send(400)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(body)
            os.replace(tmp, path)
            return self._send(200)

        def do_DELETE(self) -> None:  # noqa: N802
            self._record()
            path = _file(root, self.path)
            if path is None or not path.is_file():
                return self._send(404)
            path.unlink()
            return self._send(200)

    return Handler


@contextmanager
def rest_server(root: Path) -> Iterator[RestServer]:
    """Serve ``root`` on 127.0.0.1 (an ephemeral port) until the block ends."""
    root.mkdir(parents=True, exist_ok=True)
    state = RestServer("", root)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    thread = threading.Thread(target=httpd.serve_forever, name="rest-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
