"""What the command line shows: consoles, one-line errors, progress bars, reports."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import typer
from rich import filesize
from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from backupcheck.errors import BackupcheckError
from backupcheck.model import RunReport
from backupcheck.report.jsonout import render_json
from backupcheck.report.table import print_table
from backupcheck.report.text import visible

log = logging.getLogger("backupcheck")

T = TypeVar("T")


#: width for tables written to a pipe or a file (logs, CI): wide rather than wrapped
PIPE_WIDTH = 160


def stdout_console() -> Console:
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console = Console(highlight=False, soft_wrap=False, width=PIPE_WIDTH)
    return console


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def print_error(message: str, level: str = "error") -> None:
    """One ``backupcheck: error: ...`` (or ``warning``) line on stderr."""
    stderr_console().print(f"backupcheck: {level}: {visible(message)}", markup=False,
                           highlight=False, soft_wrap=True)


def fail(message: str, code: int) -> typer.Exit:
    print_error(message)
    return typer.Exit(code)


def guarded(action: Callable[[], T]) -> T:
    """Run core code; turn our errors into one line and their exit code, never a traceback."""
    try:
        return action()
    except BackupcheckError as exc:
        raise fail(str(exc), exc.exit_code) from None
    except KeyboardInterrupt as stop:
        # SIGINT or SIGTERM (cli/signals.py): one line; main() ends the process at once
        stderr_console().print("backupcheck: interrupted", markup=False, highlight=False)
        raise typer.Exit(143 if getattr(stop, "signum", None) == signal.SIGTERM else 130) \
            from None
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        log.debug("unexpected error", exc_info=True)
        raise fail(f"internal error: {type(exc).__name__}: {exc}".splitlines()[0], 1) from None


def show_progress(fmt: str) -> bool:
    return fmt == "table" and sys.stdout.isatty() and sys.stderr.isatty()


class Bar:
    """A command's progress bar: whole targets (``bar(client, target)``) and, on a drill,
    the sampled files and bytes restored so far (``bar.restored(...)``), so the bar moves
    while a big target is still restoring."""

    def __init__(self, bar: Progress, label: str, total: int) -> None:
        self._bar, self._label = bar, label
        self._targets = bar.add_task(label, total=total)
        self._files = self._bytes = 0
        self._lock = threading.Lock()
        self._restore: TaskID | None = None

    def __call__(self, client: str, target: str) -> None:
        self._bar.update(self._targets, advance=1, description=f"{self._label} "
                         f"{visible(client)}/{visible(target)}")

    def restored(self, client: str, target: str, files: int, nbytes: int) -> None:
        with self._lock:
            self._files += files
            self._bytes += nbytes
            if self._restore is None:
                # how much the samples hold is not known up front: a pulsing bar of counts
                self._restore = self._bar.add_task("restored", total=None)
            text = (f"restored {self._files} files, {filesize.decimal(self._bytes)} "
                    f"({visible(client)}/{visible(target)})")
            self._bar.update(self._restore, completed=self._files, description=text)


@contextlib.contextmanager
def progress_bar(label: str, total: int, enabled: bool) -> Iterator[Bar | None]:
    if not enabled or total == 0:
        yield None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=stderr_console(), transient=True) as bar:
        yield Bar(bar, label, total)


def show(report: RunReport, fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(render_json(report) + "\n")
        sys.stdout.flush()
    else:
        print_table(report, stdout_console())


def emit(report: RunReport, fmt: str) -> None:
    show(report, fmt)
    raise typer.Exit(report.exit_code)


def print_output(output: RenderableType | str, *, to_stderr: bool = False) -> None:
    """A command core's output: text as it is, rich renderables through the console."""
    if isinstance(output, str):
        stream = sys.stderr if to_stderr else sys.stdout
        stream.write(output if output.endswith("\n") else output + "\n")
        stream.flush()
    else:
        (stderr_console() if to_stderr else stdout_console()).print(output)
