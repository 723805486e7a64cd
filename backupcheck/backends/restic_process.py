"""Child processes for the restic adapter: started in their own session, watched, always reaped.

A :class:`Child` drains stderr on a thread into a bounded buffer (a chatty restic can never
fill the pipe and deadlock us), kills its whole process group when it runs longer than its
timeout (``idle=True``: longer than that *without output*), and is listed in a
:class:`ChildRegistry` while alive so its adapter can stop everything on ``close()``.
Stopping is SIGTERM to the group, then SIGKILL after a grace period, then a reap: no zombies.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence

#: seconds between SIGTERM and SIGKILL
KILL_GRACE = 1.0
PIPE_SIZE = 1024 * 1024
STDERR_HEAD = 64 * 1024
STDERR_TAIL = 16 * 1024
_NOISE = ("using temporary cache", "load indexes", "loading indexes", "check all packs",
          "check snapshots, trees and blobs", "read all data", "read ", "no errors were found",
          "is there a repository at the following location?", "created new cache",
          "[", "repository ", "scanning", "found ")


def meaningful_lines(text: str) -> list[str]:
    """restic's output without progress bars, blank lines and status chatter."""
    lines = []
    for raw in text.replace("\r", "\n").splitlines():
        line = raw.strip()
        if line and not line.lower().startswith(_NOISE):
            lines.append(line)
    return lines


class StderrBuffer:
    """The first STDERR_HEAD and last STDERR_TAIL bytes of a stream; the middle is counted."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = STDERR_HEAD - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > STDERR_TAIL:
                cut = len(self.tail) - STDERR_TAIL
                self.dropped += cut
                del self.tail[:cut]

    def text(self) -> str:
        middle = f"\n[… {self.dropped} bytes of output omitted …]\n" if self.dropped else ""
        return (bytes(self.head).decode("utf-8", "replace") + middle
                + bytes(self.tail).decode("utf-8", "replace"))


#: every live child of this process, and whether an interrupt has stopped them for good
_ALL_LOCK = threading.RLock()  # re-entrant: a signal handler may run while main holds it
_ALL: set[Child] = set()
_STOPPING = False


class Interrupted(OSError):
    """A restic child was asked for after an interrupt stopped them all."""


def stop_every_child() -> None:
    """On SIGINT / SIGTERM: SIGTERM every live restic process group at once, SIGKILL what is
    still running after :data:`KILL_GRACE`, reap them; no child may start afterwards. Safe
    to call from a signal handler (it neither joins threads nor takes a child's own lock)."""
    global _STOPPING
    if not _ALL_LOCK.acquire(timeout=KILL_GRACE):
        return  # never hang the interrupt; the adapters' close() still stops theirs
    try:
        _STOPPING = True
        children = list(_ALL)
    finally:
        _ALL_LOCK.release()
    running = [c for c in children if c.proc.poll() is None]
    for child in running:
        child._signal(signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE
    for child in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    for child in running:
        if child.proc.poll() is None:
            child._signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(timeout=KILL_GRACE)


class ChildRegistry:
    """The live children of one adapter instance."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._children: set[Child] = set()

    def add(self, child: Child) -> None:
        with self._lock:
            self._children.add(child)

    def discard(self, child: Child) -> None:
        with self._lock:
            self._children.discard(child)

    def live(self) -> list[Child]:
        with self._lock:
            return list(self._children)

    def stop_all(self) -> None:
        for child in self.live():
            child.stop()


class Child:
    """One restic process with its stderr drain and its timeout watchdog."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], *, timeout: float,
                 idle: bool, buffered: bool, registry: ChildRegistry) -> None:
        self.timeout, self.idle, self.registry = timeout, idle, registry
        self.timed_out = False
        self.stopped = False  # stop() was called
        self.stopped_early = False  # ... while the process was still running
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._reaped = threading.Event()
        self._readers = 0
        self._stdout_closed = False
        self._stderr = StderrBuffer()
        # own session: a Ctrl-C on the terminal reaches us, not restic; we stop it ourselves
        # (stop_every_child on SIGINT / SIGTERM, close() of its adapter otherwise)
        with _ALL_LOCK:
            if _STOPPING:
                raise Interrupted("interrupted: no new restic process")
            self.proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         env=dict(env), start_new_session=True, bufsize=0)
            _ALL.add(self)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        with contextlib.suppress(OSError, AttributeError):
            # bigger pipe, fewer wake-ups for a streamed dump (Linux; best effort)
            fcntl.fcntl(self.proc.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        self._stdout: io.RawIOBase | io.BufferedReader = self.proc.stdout  # type: ignore[assignment]
        if buffered:
            self._stdout = io.BufferedReader(self.proc.stdout, 64 * 1024)  # type: ignore[arg-type]
        registry.add(self)
        self._last_activity = time.monotonic()
        self._drain = threading.Thread(target=self._drain_stderr, daemon=True,
                                       name=f"restic-stderr-{self.proc.pid}")
        self._drain.start()
        self._watchdog = threading.Thread(target=self._watch, daemon=True,
                                          name=f"restic-watchdog-{self.proc.pid}")
        self._watchdog.start()

    # ------------------------------------------------------------ threads

    def _drain_stderr(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        with contextlib.suppress(OSError, ValueError):
            while chunk := stream.read(65536):
                self._stderr.add(chunk)

    def _watch(self) -> None:
        interval = max(0.02, min(1.0, self.timeout / 20))
        while not self._done.wait(interval):
            if time.monotonic() - self._last_activity > self.timeout:
                self.timed_out = True
                self.stop()
                return

    # ------------------------------------------------------------ reading

    def _begin_read(self) -> bool:
        with self._lock:
            if self._stdout_closed:
                return False
            self._readers += 1
            return True

    def _end_read(self) -> None:
        with self._lock:
            self._readers -= 1
            if self.stopped and self._readers == 0:
                self._close_stdout()

    def _touch(self) -> None:
        if self.idle:
            self._last_activity = time.monotonic()

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes as they arrive (all when ``size`` < 0); b"" at EOF or stop."""
        if size == 0 or not self._begin_read():
            return b""
        try:
            data = self._stdout.read(size if size > 0 else -1) or b""
        except (OSError, ValueError):
            data = b""
        finally:
            self._end_read()
        if data:
            self._touch()
        return data

    def read_all(self) -> bytes:
        return self.read(-1)

    def lines(self) -> Iterator[bytes]:
        """stdout line by line, as restic writes it."""
        if not self._begin_read():
            return
        try:
            while True:
                try:
                    line = self._stdout.readline()
                except (OSError, ValueError):
                    return
                if not line:
                    return
                self._touch()
                yield line
        finally:
            self._end_read()

    def stderr_text(self) -> str:
        self._drain.join(timeout=5)
        return self._stderr.text()

    # ------------------------------------------------------------ ending

    def wait(self) -> int:
        """The exit code (the watchdog bounds how long this can take)."""
        return self.proc.wait()

    def _close_stdout(self) -> None:
        if not self._stdout_closed:
            self._stdout_closed = True
            with contextlib.suppress(OSError, ValueError):
                self._stdout.close()

    def stop(self) -> None:
        """Kill the process group if still running, reap it, release pipes. Idempotent."""
        with self._lock:
            first = not self.stopped
            self.stopped = True
        if not first:
            # another thread is stopping it: return once that is done
            self._reaped.wait(timeout=KILL_GRACE + 10)
            return
        self._done.set()
        if self.proc.poll() is None:
            self.stopped_early = True
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=KILL_GRACE)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait()
        with self._lock:
            if self._readers == 0:
                self._close_stdout()
        self._drain.join(timeout=5)
        if self.proc.stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                self.proc.stderr.close()
        self.registry.discard(self)
        with _ALL_LOCK:
            _ALL.discard(self)
        self._reaped.set()

    def _signal(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)


def installed_version(binary: str = "restic", *, timeout: float = 15.0) -> str | None:
    """``restic version``'s first line (``restic 0.16.4 compiled with …``), or None where
    restic is not installed, cannot start or does not answer within ``timeout``."""
    try:
        child = Child([binary, "version"], os.environ, timeout=timeout, idle=False,
                      buffered=False, registry=ChildRegistry())
    except OSError:
        return None
    try:
        stdout = child.read_all()
        child.wait()
    finally:
        child.stop()
    lines = stdout.decode("utf-8", "replace").strip().splitlines()
    return lines[0] if lines and not child.timed_out else None
