"""``backupcheck demo``: build the demo estate, run the weekly drill on it, clean up.

Without ``keep`` everything lives in a temporary directory and the S3 server is a child
process; both are gone when :func:`run_demo` returns or raises (Ctrl-C included). With
``keep`` the estate stays in that directory and its S3 server keeps running detached, so
the other commands can be pointed at ``DIR/targets`` and ``DIR/history``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from backupcheck import __version__
from backupcheck.clock import now_utc
from backupcheck.commands.drill import DrillOptions, drill, record_history
from backupcheck.config import load_clients, load_plan
from backupcheck.demo.earlier import SeenByTodaysDrill, earlier_rows, plan_earlier
from backupcheck.demo.estate import OFFSITE_LINK_BYTES_PER_S, build_estate
from backupcheck.demo.process import start_server, stop_previous, stop_server
from backupcheck.demo.storage import Layout, restic_binary
from backupcheck.errors import UsageError
from backupcheck.history import HistoryStore
from backupcheck.model import RunReport

MARKER = ".backupcheck-demo.json"
#: the same sample every time: the demo shows the same estate the same way
DEMO_SEED = 20261122

Notify = Callable[[str], None]


@dataclass(frozen=True)
class DemoInfo:
    """What the demo did, for the command to tell the user after the report."""

    directory: Path
    kept: bool
    server_pid: int | None
    server_url: str
    seconds: float
    planted: Mapping[str, str]
    notes: tuple[str, ...] = ()
    commands: tuple[str, ...] = field(default=())

    def summary_lines(self) -> list[str]:
        lines = [f"demo: built and drilled in {self.seconds:.1f}s; planted problems:"]
        lines += [f"  {client}: {text}" for client, text in self.planted.items()]
        lines += [f"demo: {note}" for note in self.notes]
        if not self.kept:
            lines.append("demo: the estate was removed (use --keep DIR to explore it)")
            return lines
        where = shlex.quote(str(self.directory))
        lines.append(f"demo: the estate is in {self.directory}; its S3 server "
                     f"(pid {self.server_pid}) listens on {self.server_url}. Explore it:")
        lines += [f"  {command}" for command in self.commands]
        lines.append(f"demo: stop the S3 server when done: kill $(cat {where}/s3-server.pid)")
        return lines


def explore_commands(directory: Path) -> tuple[str, ...]:
    """What to type to use a kept estate: first the line that points the AWS tools at the
    estate's own credentials and config (the demo never touches ``~/.aws``)."""
    d = shlex.quote(str(directory))
    layout = Layout(directory)
    return (
        f"export AWS_SHARED_CREDENTIALS_FILE={shlex.quote(str(layout.aws_credentials))} "
        f"AWS_CONFIG_FILE={shlex.quote(str(layout.aws_config))}",
        f"backupcheck verify --targets {d}/targets",
        f"backupcheck inventory --targets {d}/targets",
        f"backupcheck drill --targets {d}/targets --plan {d}/restore_tests/weekly.toml "
        f"--history {d}/history",
        f"backupcheck history --history {d}/history",
        f"backupcheck trend --history {d}/history",
        f"backupcheck audit --client acme --targets {d}/targets --history {d}/history "
        f"--out {d}/audit-acme",
    )


def prepare_keep_dir(directory: Path) -> str | None:
    """Make ``directory`` ready for a kept estate; returns a note when an old one was replaced.

    Raises UsageError (exit 2) when it exists and holds something other than a demo estate.
    """
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--keep {directory}: exists and is not a directory")
    if not directory.exists():
        directory.mkdir(parents=True)
        return None
    entries = list(directory.iterdir())
    if not entries:
        return None
    if not (directory / MARKER).is_file():
        raise UsageError(f"--keep {directory}: the directory is not empty and holds no earlier "
                         "demo estate; choose a new or empty directory")
    stop_previous(directory)
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return f"replaced the earlier demo estate in {directory}"


def _write_marker(directory: Path) -> None:
    (directory / MARKER).write_text(json.dumps({
        "created_by": "backupcheck demo", "version": __version__,
        "note": "a demo estate; `backupcheck demo --keep` may replace this directory",
    }, indent=2) + "\n", encoding="utf-8")


#: the caller's own AWS identity stays out of the demo (restic prefers these to a profile)
_CALLER_AWS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
               "AWS_DEFAULT_PROFILE")


@contextlib.contextmanager
def _environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables for the demo's own run; the old
    values come back after."""
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_demo(keep: Path | None = None, *,
             progress: Notify | None = None) -> tuple[RunReport, DemoInfo]:
    """Build the demo estate, run the weekly drill over it, record it; returns the report.

    The report's exit code is the drill's (1: the estate has planted problems).
    """
    started = time.monotonic()
    notify: Notify = progress or (lambda _line: None)
    restic_binary()  # fail before building anything when restic is missing
    notes: list[str] = []
    if keep is not None:
        directory = Path(os.path.abspath(keep.expanduser()))
        replaced = prepare_keep_dir(directory)
        notes += [replaced] if replaced else []
    else:
        directory = Path(tempfile.mkdtemp(prefix="backupcheck-demo-"))
    layout = Layout(directory)
    handle = None
    try:
        _write_marker(directory)  # first: a half-built estate is still known as the demo's
        notify("starting the local S3 server")
        handle = start_server(directory, throttle=OFFSITE_LINK_BYTES_PER_S,
                              detached=keep is not None)
        notify(f"S3 server listening on {handle.url}")
        demo_env: dict[str, str | None] = dict.fromkeys(_CALLER_AWS)
        demo_env["AWS_SHARED_CREDENTIALS_FILE"] = str(layout.aws_credentials)
        demo_env["AWS_CONFIG_FILE"] = str(layout.aws_config)
        with _environment(demo_env):
            report, planted = _build_and_drill(layout, handle.url, handle.throttled_url,
                                               notify)
    except BaseException:
        if handle is not None:
            stop_server(handle)
        if keep is None:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    if keep is None:
        stop_server(handle)
        shutil.rmtree(directory, ignore_errors=True)
    info = DemoInfo(directory=directory, kept=keep is not None,
                    server_pid=handle.pid if keep is not None else None,
                    server_url=handle.url, seconds=time.monotonic() - started,
                    planted=planted, notes=tuple(notes),
                    commands=explore_commands(directory) if keep is not None else ())
    return report, info


def _build_and_drill(layout: Layout, url: str, throttled_url: str,
                     notify: Notify) -> tuple[RunReport, dict[str, str]]:
    estate = build_estate(layout, url, throttled_url, now_utc(), notify)
    now = now_utc()  # after the build: its uploads are not from the future
    clients = load_clients(layout.targets)
    plan = load_plan(layout.plan)
    earlier = plan_earlier(estate.targets, plan, now)
    store = HistoryStore(layout.history)
    options = DrillOptions(plan=plan, seed=DEMO_SEED, jobs=plan.jobs,
                           history=SeenByTodaysDrill(earlier, store), now=now)
    notify("running the weekly drill")
    report = drill(clients, options,
                   progress=lambda client, target: notify(f"drilled {client}/{target}"))
    runs, files = earlier_rows(earlier, report, plan)
    store.append_rows(runs, files)
    record_history(options, report)
    notify(f"history: {len(earlier.drills)} earlier weekly drills and today's in "
           f"{layout.history}")
    return report, estate.planted
