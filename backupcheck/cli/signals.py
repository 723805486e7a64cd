"""SIGINT and SIGTERM: stop a run within seconds, leave no restic child, touch no history.

``timeout``, CI runners and systemd send SIGTERM; a terminal sends SIGINT. Either one kills
every restic process group at once (they run in their own sessions, so no signal reaches
them by itself), then raises :class:`Interrupted` in the main thread: the command unwinds (the
demo stops its S3 server on the way), prints one ``interrupted`` line, and the process ends
with 130 / 143 without waiting for worker threads still blocked in a read. Nothing is written
to the history after the signal (a drill records its run only once its report is out, and
each history file is written to a temporary name first).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType

from backupcheck.backends.restic_process import stop_every_child

#: exit code per signal (128 + its number, as shells report it)
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
_received: list[int] = []


class Interrupted(KeyboardInterrupt):
    """The run was stopped by SIGINT or SIGTERM."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _on_signal(signum: int, frame: FrameType | None) -> None:
    first = not _received
    _received.append(signum)
    stop_every_child()
    if first:  # a second signal while unwinding must not break the unwinding
        raise Interrupted(signum)


def install_signal_handlers() -> None:
    """Route SIGINT and SIGTERM to :func:`_on_signal` (main thread only)."""
    for signum in EXIT_CODES:
        signal.signal(signum, _on_signal)


def interrupted_code() -> int | None:
    """130 or 143 once a signal arrived (the first one counts), else None."""
    return EXIT_CODES[signal.Signals(_received[0])] if _received else None


def exit_interrupted(code: int) -> None:
    """End the process now: flush what was printed, skip joining blocked worker threads."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
