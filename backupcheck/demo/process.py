"""Starting and stopping the demo's S3 server process (see ``server.py``).

Without ``--keep`` the server is a plain child that also exits when its parent dies, stopped
in a ``finally`` (SIGTERM, then SIGKILL). With ``--keep`` it is started detached (double
fork, own session) and left running; ``s3-server.pid`` in the estate says how to stop it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from backupcheck.errors import BackupcheckError

MODULE = "backupcheck.demo.server"
READY_FILE = "s3-server.json"
PID_FILE = "s3-server.pid"
LOG_FILE = "s3-server.log"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 5.0


class DemoServerError(BackupcheckError):
    """The demo's S3 server could not be started."""


@dataclass
class ServerHandle:
    pid: int
    url: str
    throttled_url: str
    directory: Path
    detached: bool
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid_file(self) -> Path:
        return self.directory / PID_FILE


def start_server(directory: Path, *, throttle: int, detached: bool) -> ServerHandle:
    """Start the server with its ready, pid and log files in ``directory``; wait until ready."""
    ready = directory / READY_FILE
    ready.unlink(missing_ok=True)
    command = [sys.executable, "-m", MODULE, "--ready-file", str(ready),
               "--throttle", str(throttle)]
    command.append("--detach" if detached else f"--parent-pid={os.getpid()}")
    with open(directory / LOG_FILE, "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   cwd=directory, close_fds=True)
    if detached:
        process.wait(timeout=READY_TIMEOUT)  # the first fork returns at once
    deadline = time.monotonic() + READY_TIMEOUT
    while not ready.exists():
        if not detached and process.poll() is not None:
            raise DemoServerError(f"the demo S3 server exited at start (code "
                                  f"{process.returncode}); see {directory / LOG_FILE}")
        if time.monotonic() > deadline:
            if not detached:
                _stop_child(process)
            raise DemoServerError(f"the demo S3 server did not start within "
                                  f"{READY_TIMEOUT:.0f}s; see {directory / LOG_FILE}")
        time.sleep(0.05)
    document = json.loads(ready.read_text(encoding="utf-8"))
    if "error" in document:
        raise DemoServerError(f"the demo S3 server could not start: {document['error']}")
    handle = ServerHandle(pid=int(document["pid"]), url=str(document["url"]),
                          throttled_url=str(document.get("throttled_url", document["url"])),
                          directory=directory, detached=detached,
                          process=None if detached else process)
    handle.pid_file.write_text(f"{handle.pid}\n", encoding="utf-8")
    return handle


def stop_server(handle: ServerHandle) -> None:
    """SIGTERM, then SIGKILL after a grace period; removes the pid file."""
    if handle.process is not None:
        _stop_child(handle.process)
    else:
        stop_pid(handle.pid, handle.directory)
    handle.pid_file.unlink(missing_ok=True)


def _stop_child(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


def is_demo_server(pid: int, directory: Path) -> bool:
    """Whether ``pid`` is the demo server of ``directory`` (not a recycled pid)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    args = [a.decode(errors="replace") for a in raw.split(b"\0")]
    return MODULE in args and str(directory / READY_FILE) in args


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def stop_pid(pid: int, directory: Path) -> bool:
    """Stop the detached server ``pid`` of ``directory``; False when it was not running."""
    if not is_demo_server(pid, directory):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return True


def stop_previous(directory: Path) -> None:
    """Stop the server an earlier ``demo --keep`` left running in ``directory``, if any."""
    pid_file = directory / PID_FILE
    try:
        pid = int(pid_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return
    stop_pid(pid, directory)
