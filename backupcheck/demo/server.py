"""The demo's local S3 server: moto in server mode, run as its own process.

``python -m backupcheck.demo.server --ready-file FILE [--port P] [--throttle BYTES_PER_S]
[--detach]`` starts moto's S3 (and KMS, on the same port) on 127.0.0.1, plus an optional
loopback TCP proxy in front of it whose server-to-client direction is paced to
``BYTES_PER_S`` per connection: a slow WAN link to an offsite copy, used by the demo to make
one client's restore honestly too slow for its RTO. When both listen, it writes
``{"pid", "port", "url", "throttled_port", "throttled_url"}`` as JSON to the ready file
(atomically) and serves until SIGTERM, SIGINT or SIGHUP.

``--detach`` double-forks first, so the server outlives the command that started it (the
demo's ``--keep``) and is never left as a zombie of it. ``--parent-pid`` instead makes it
exit when the demo that started it is gone, even if that demo was killed outright.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from types import FrameType

LOOPBACK = "127.0.0.1"
#: bytes sent per pacing step: small, so a paced response arrives as a steady stream
PACE_CHUNK = 4096
RELAY_BUFFER = 64 * 1024


class ThrottledProxy:
    """A loopback TCP proxy to ``upstream_port``; responses paced to ``rate`` bytes/s each.

    Requests (client to server) pass unpaced. Each connection has its own pace, like one TCP
    stream over a thin link: ``jobs`` parallel restore streams get ``jobs`` times the rate.
    An idle connection saves up no credit, so every response starts at the paced rate.
    """

    def __init__(self, upstream_port: int, rate: int) -> None:
        self.upstream_port, self.rate = upstream_port, rate
        self.listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self.listener.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self.listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((LOOPBACK, self.upstream_port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._relay, args=(client, upstream, 0),
                             name="proxy-up", daemon=True).start()
            threading.Thread(target=self._relay, args=(upstream, client, self.rate),
                             name="proxy-down", daemon=True).start()

    @staticmethod
    def _relay(source: socket.socket, sink: socket.socket, rate: int) -> None:
        next_send = time.monotonic()
        try:
            while True:
                data = source.recv(RELAY_BUFFER)
                if not data:
                    break
                if rate <= 0:
                    sink.sendall(data)
                    continue
                view = memoryview(data)
                for offset in range(0, len(view), PACE_CHUNK):
                    piece = view[offset:offset + PACE_CHUNK]
                    now = time.monotonic()
                    next_send = max(next_send, now)  # no credit saved while idle
                    if next_send > now:
                        time.sleep(next_send - now)
                    sink.sendall(piece)
                    next_send += len(piece) / rate
        except OSError:
            pass
        finally:
            # half-close towards the sink so the other direction can finish on its own
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError):
                source.shutdown(socket.SHUT_RD)


def _detach() -> None:
    """Classic double fork: the server is re-parented and in its own session."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)


def _write_ready(path: Path, document: dict[str, object]) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(document), encoding="utf-8")
    os.replace(temp, path)


def serve(port: int, ready_file: Path, throttle: int, parent_pid: int | None = None) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    try:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
        server.start()
        _, bound = server.get_host_and_port()
        proxy = ThrottledProxy(bound, throttle) if throttle > 0 else None
        if proxy is not None:
            proxy.start()
    except Exception as exc:  # noqa: BLE001 - reported to the waiting parent, then exit
        _write_ready(ready_file, {"pid": os.getpid(), "error": f"{type(exc).__name__}: {exc}"})
        return 1
    document: dict[str, object] = {"pid": os.getpid(), "port": bound,
                                   "url": f"http://{LOOPBACK}:{bound}"}
    if proxy is not None:
        document.update(throttled_port=proxy.port,
                        throttled_url=f"http://{LOOPBACK}:{proxy.port}",
                        throttle_bytes_per_s=throttle)
    _write_ready(ready_file, document)
    try:
        while not stop.wait(0.5):
            if parent_pid is not None and os.getppid() != parent_pid:
                break  # the demo that started us is gone: nobody will stop us otherwise
    finally:
        if proxy is not None:
            proxy.stop()
        server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backupcheck.demo.server",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--ready-file", type=Path, required=True,
                        help="where to write the JSON ready document")
    parser.add_argument("--throttle", type=int, default=0,
                        help="also start a proxy paced to this many bytes/s per connection")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--detach", action="store_true",
                      help="double-fork into the background first")
    mode.add_argument("--parent-pid", type=int,
                      help="exit when this process (the parent) is gone")
    args = parser.parse_args(argv)
    if args.detach:
        _detach()
    return serve(args.port, args.ready_file.resolve(), args.throttle, args.parent_pid)


if __name__ == "__main__":
    sys.exit(main())
