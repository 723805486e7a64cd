"""Issue 13: a drill's progress bar moves with the files and bytes restored, not only with
whole targets (SPEC: "On a drill the bar advances with bytes and files restored")."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from backupcheck.cli.output import Bar, progress_bar
from backupcheck.commands.drill import DrillOptions, drill
from backupcheck.config import load_clients, load_plan
from tests.drill_helpers import (
    drill as drill_cli,
)
from tests.drill_helpers import (
    numbered_files,
    plan_file,
    restic_client,
    restic_estate,
)


class Recorder:
    """A progress object as the CLI's bar is one: called per finished target, told of the
    files and bytes restored; it keeps every update in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def __call__(self, client: str, target: str) -> None:
        self.events.append(("target", client, target))

    def restored(self, client: str, target: str, files: int, nbytes: int) -> None:
        self.events.append(("restored", client, target, str(files), str(nbytes)))


def test_drill_reports_files_and_bytes_before_the_target_finishes(tmp_path: Path) -> None:
    files = numbered_files(6, seed=13)
    repo, source = restic_estate(tmp_path / "estate", files)
    repo.backup(source)
    targets = tmp_path / "targets"
    restic_client(targets, "acme", repo)
    plan = load_plan(plan_file(tmp_path / "plan", files=50))
    recorder = Recorder()
    options = DrillOptions(plan=plan, seed=7, jobs=2, restored=recorder.restored)

    report = drill(load_clients(targets), options, progress=recorder)

    restore = report.clients[0].targets[0].restore
    assert restore is not None and restore.sampled == len(files)
    finished = recorder.events.index(("target", "acme", "acme"))
    assert finished == len(recorder.events) - 1  # the target's step comes last
    updates = [e for e in recorder.events[:finished] if e[0] == "restored"]
    assert all(e[1:3] == ("acme", "acme") for e in updates)
    # one step per file restored, and bytes as they stream: together the whole sample
    assert sum(int(e[3]) for e in updates) == restore.sampled
    assert sum(int(e[4]) for e in updates) == restore.bytes == sum(map(len, files.values()))
    assert any(int(e[4]) > 0 for e in updates)


def test_the_rich_bar_counts_restored_files_and_bytes() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with Progress(console=console, auto_refresh=False) as progress:
        bar = Bar(progress, "drill", 2)
        bar.restored("acme", "fs1", 0, 1500)
        bar.restored("acme", "fs1", 1, 0)
        bar.restored("acme", "fs1", 1, 2500)
        restored = [t for t in progress.tasks if t.description.startswith("restored")]
        assert restored and restored[0].completed == 2
        assert restored[0].description.startswith("restored 2 files, 4.0 kB")
        bar("acme", "fs1")
        assert progress.tasks[0].completed == 1


def test_no_bar_without_a_terminal_or_with_json(tmp_path: Path) -> None:
    with progress_bar("drill", 3, enabled=False) as bar:
        assert bar is None
    files = numbered_files(3, seed=14)
    repo, source = restic_estate(tmp_path / "estate", files)
    repo.backup(source)
    targets = tmp_path / "targets"
    restic_client(targets, "acme", repo)
    result = drill_cli(targets, plan_file(tmp_path / "plan", files=50), None)
    assert "restored" not in result.stderr and "drill" not in result.stderr
