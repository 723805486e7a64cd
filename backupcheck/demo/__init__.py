"""``backupcheck demo``: a small, realistic estate on this machine, and the weekly drill on it.

Modules: ``run`` (the command's core, :func:`run_demo`), ``estate`` (the three clients and
their planted problems), ``data`` (deterministic files), ``storage`` (buckets, uploads,
restic repositories), ``earlier`` (earlier drills for the history), ``process`` and
``server`` (the local S3 server process). Importing this package stays cheap: the server
process starts with ``python -m backupcheck.demo.server``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backupcheck.demo.run import DemoInfo, Notify
    from backupcheck.model import RunReport


def run_demo(keep: Path | None = None, *,
             progress: Notify | None = None) -> tuple[RunReport, DemoInfo]:
    """Build the demo estate and drill it; see :func:`backupcheck.demo.run.run_demo`."""
    from backupcheck.demo.run import run_demo as run

    return run(keep, progress=progress)
