"""Issue 13: ``manifest build`` onto a full disk is one line "no space left" naming the file,
exit 2; never an internal error, and no partial manifest or temporary file is left behind.

The full disk is a real one: a 1 MiB tmpfs (mounting needs root, as in CI), filled up."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.drill_helpers import numbered_files
from tests.restic_helpers import make_tree


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        with open(mount / "filler", "wb") as filler:
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:
                pass  # full: what the test needs
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_manifest_build_onto_a_full_disk(tmp_path: Path, full_disk: Path, fmt: str) -> None:
    tree = make_tree(tmp_path / "tree", numbered_files(50, seed=61))
    out = full_disk / "manifests" / "latest.parquet"
    result = run_cli("manifest", "build", str(tree), "--out", str(out), "--format", fmt)
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no space left" in lines[0].lower() and str(out) in lines[0], lines[0]
    assert "internal error" not in lines[0], lines[0]
    assert result.stdout == ""
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir()] == [], "no temporary file is left"
