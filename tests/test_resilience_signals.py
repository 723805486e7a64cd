"""Issue 13: SIGTERM (timeout, CI runners, systemd) and SIGINT stop a drill while its
``restic check`` runs: one ``interrupted`` line, exit 143 / 130, no restic child left behind,
the history exactly as it was."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from backupcheck.manifest.build import build_manifest
from tests.conftest import write_client
from tests.fault_helpers import (
    ROOT,
    marked,
    plan_file,
    reaping,
    subprocess_env,
    tree_digest,
    wait_for_pid,
)
from tests.faultproxy import fake_restic
from tests.restic_helpers import init_local_repo, make_tree, target_toml


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_drill_and_its_restic_children(
        tmp_path: Path, sig: signal.Signals, code: int) -> None:
    source = make_tree(tmp_path / "data", {"a.txt": b"alpha\n", "b.bin": bytes(range(256))})
    repo = init_local_repo(tmp_path / "repos")
    repo.backup(source)
    build_manifest(source, tmp_path / "m.parquet", workers=1)
    estate = {"bin": fake_restic(tmp_path / "bin")}
    targets = tmp_path / "targets"
    plan = tmp_path / "plan"
    plan.mkdir()
    plan = plan_file(plan)
    plan.write_text(plan.read_text().replace('read_data_subset = ""', 'read_data_subset = "5%"'))
    for name in ("one", "two"):
        write_client(targets, name, target_toml(
            name, repo, extra=f'manifest = "{tmp_path / "m.parquet"}"\n',
            env={"BC_FAKE": "check-hangs"}))
    history = tmp_path / "history"
    marker = uuid.uuid4().hex
    hang_pids = tmp_path / "hang.pids"
    env = subprocess_env(estate, marker, BC_HANG_PIDS=str(hang_pids))
    # an earlier drill's history, which the interrupted one must leave exactly as it is
    earlier = subprocess.run(
        [sys.executable, "-m", "backupcheck", "drill", "--targets", str(targets), "--plan",
         str(plan_file(tmp_path)), "--format", "json", "--history", str(history),
         "--client", "one"], env={**env, "BC_HANG_PIDS": ""}, cwd=ROOT, capture_output=True,
        text=True, timeout=300, check=False)
    assert earlier.returncode in (0, 1), earlier.stderr
    before = tree_digest(history)
    assert any(p.startswith("runs/") for p in before), before

    process = subprocess.Popen(
        [sys.executable, "-m", "backupcheck", "drill", "--targets", str(targets), "--plan",
         str(plan), "--format", "json", "--history", str(history)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with reaping(process, marker) as leftovers:
        hung = wait_for_pid(hang_pids, process)
        assert psutil.pid_exists(hung) and marked(marker)  # restic check is running now
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == code, (process.returncode, stderr)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == ["backupcheck: interrupted"], stderr
    assert stdout == ""
    assert not leftovers, [(p.pid, p.name()) for p in leftovers]
    assert not psutil.pid_exists(hung) or psutil.Process(hung).status() == psutil.STATUS_ZOMBIE
    assert tree_digest(history) == before
