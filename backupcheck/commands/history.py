"""``history``: the past drills of the history, per client and target (rendered elsewhere)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from backupcheck.commands.options import check_format, parse_since
from backupcheck.history import HistoryStore, open_history
from backupcheck.trend import HISTORY_FORMATS, HistoryResult


def history_command(history: Path | str | HistoryStore, clients: Sequence[str] | None = None,
                    since: str | None = None, fmt: str = "table") -> HistoryResult:
    """The runs rows of ``clients`` (all when None) since ``since`` (see :func:`parse_since`).

    ``fmt`` is only checked here, before anything is read; the renderer uses it.
    """
    check_format(fmt, HISTORY_FORMATS)
    moment = parse_since(since) if since else None
    chosen = tuple(clients) if clients else ()
    store = open_history(history)
    runs = store.read_runs(list(chosen) if chosen else None, moment)
    return HistoryResult(history=str(store), runs=runs, clients=chosen, since=moment)
