"""``manifest build``: hash a tree into the ground truth a later drill compares with."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from backupcheck.cli.options import Format, FormatOpt
from backupcheck.cli.output import guarded, show_progress, stderr_console, stdout_console
from backupcheck.clock import now_utc
from backupcheck.manifest.build import build_manifest
from backupcheck.manifest.series import series_path, wants_series
from backupcheck.report.text import visible


def manifest_build(
    path: Annotated[Path, typer.Argument(help="Directory tree to hash (the backed-up root).")],
    out: Annotated[str, typer.Option("--out", help="Manifest Parquet file to write; DIR/ (or "
                                     "an existing directory) writes DIR/YYYYMMDDTHHMMSSZ"
                                     ".parquet, one manifest per backup.")],
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Hashing processes "
                                                "(default: the usable CPUs).")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Hash a tree with xxh3-128 into a manifest: the ground truth a later drill compares with."""
    enabled = show_progress(fmt)
    # the trailing slash is the user's word for "a directory": read it before Path drops it
    target = series_path(Path(out), now_utc()) if wants_series(out) else Path(out)

    def run(progress: Callable[[int, int], None] | None) -> Any:
        return build_manifest(path, target, workers=workers, progress=progress)

    if enabled:
        with Progress(TextColumn("hashing {task.fields[files]} files"), BarColumn(),
                      DownloadColumn(), TransferSpeedColumn(), TimeElapsedColumn(),
                      console=stderr_console(), transient=True,
                      auto_refresh=False) as bar:  # no refresh thread: the build can fork
            task = bar.add_task("manifest", total=None, files=0)

            def advance(files: int, done: int) -> None:
                bar.update(task, completed=done, files=files, refresh=True)

            stats = guarded(lambda: run(advance))
    else:
        stats = guarded(lambda: run(None))
    summary = {"out": str(stats.out), "files": stats.files, "bytes": stats.bytes,
               "symlinks": stats.symlinks, "special": stats.special,
               "unreadable": [{"path": p, "reason": r} for p, r in stats.unreadable],
               "seconds": round(stats.seconds, 3), "method": stats.method}
    if fmt == "json":
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        console = stdout_console()
        console.print(f"wrote {visible(stats.out)}: {stats.files} files, {stats.bytes} bytes, "
                      f"{stats.symlinks} symlinks in {stats.seconds:.1f}s ({stats.method})",
                      markup=False)
        for rel, reason in stats.unreadable:
            console.print(f"unreadable: {visible(rel)}: {visible(reason)}", markup=False)
    # unreadable files are reported, not fatal to the manifest, but a check did fail
    raise typer.Exit(1 if stats.unreadable else 0)
