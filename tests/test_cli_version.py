"""`backupcheck --version` and `-h`: SPEC promises both; docs/ci/ pipelines call --version."""

from __future__ import annotations

import subprocess
import sys

from backupcheck import __version__


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "backupcheck", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_version_exits_zero_and_prints_the_version() -> None:
    done = run("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"backupcheck {__version__}"


def test_short_help_option_is_known() -> None:
    done = run("-h")
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout and "drill" in done.stdout
