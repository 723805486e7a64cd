"""What the fault and signal tests share: the plan and environment of a drill run as a
subprocess with the fake restic (``tests.faultproxy.fake_restic``) first on its PATH, the
children that environment marks, and a directory's contents to compare before and after.

Every child of such a run carries ``BC_HARDENING_MARKER`` in its environment, so a test can
find what a run left behind (a zombie nobody reaped counts too) and kill it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent


def plan_file(directory: Path, *, files: int = 50, jobs: int = 4) -> Path:
    path = directory / "plan.toml"
    path.write_text(f'name = "hardening"\nfiles = {files}\nmax_bytes = "1GiB"\n'
                    f'read_data_subset = ""\njobs = {jobs}\nprefer_unverified = false\n',
                    encoding="utf-8")
    return path


def subprocess_env(estate: dict[str, Any], marker: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTIC_", "BACKUPCHECK_"))}
    env.update(PATH=f"{estate['bin']}:{env.get('PATH', '/usr/bin:/bin')}",
               BC_HARDENING_MARKER=marker, PYTHONPATH=str(ROOT), **extra)
    return env


def marked(marker: str) -> list[psutil.Process]:
    """Every live process whose environment carries ``marker`` (restic, sh, sleep …)."""
    found = []
    for process in psutil.process_iter(["pid", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                found.append(process)  # a zombie is a child nobody reaped: also a leak
                continue
            if process.environ().get("BC_HARDENING_MARKER") == marker:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return [p for p in found if _is_ours(p, marker)]


def _is_ours(process: psutil.Process, marker: str) -> bool:
    try:
        if process.status() != psutil.STATUS_ZOMBIE:
            return True
        parent = process.parent()
        return parent is not None and parent.environ().get("BC_HARDENING_MARKER") == marker
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def assert_no_leftovers(marker: str, grace: float = 2.0) -> None:
    deadline = time.monotonic() + grace
    while (left := marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, [(p.pid, p.name()) for p in left]


def wait_for_pid(path: Path, process: subprocess.Popen[str]) -> int:
    """The first pid the hanging fake restic wrote to ``path`` (the run must still be
    running while it waits, at most about a minute)."""
    for _ in range(1200):
        if path.exists() and path.read_text().strip():
            return int(path.read_text().split()[0])
        assert process.poll() is None, process.communicate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.05)
    raise AssertionError("the hanging restic never started")


@contextlib.contextmanager
def reaping(process: subprocess.Popen[str], marker: str) -> Iterator[list[psutil.Process]]:
    """Around a run to interrupt: yields a list that holds, once the block is left, the
    marked processes still alive then; they and the run (when it has not ended) are killed
    however the block ended, so a failed test leaves nothing to the next."""
    leftovers: list[psutil.Process] = []
    try:
        yield leftovers
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        leftovers.extend(marked(marker))
        for leftover in leftovers:  # never leave a failed run's children to the next test
            with contextlib.suppress(psutil.NoSuchProcess):
                leftover.kill()


def tree_digest(directory: Path) -> dict[str, str]:
    """Each file below ``directory`` (relative path) -> its SHA-256."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}
