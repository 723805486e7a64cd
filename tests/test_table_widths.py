"""Tables fit 80 and 120 columns (issue 13): each command runs under a real pseudo-terminal with
the window size set, and every line fits while names, lock modes and dates stay whole."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import S3Server
from tests.drill_helpers import manifest_of, numbered_files, plan_file, s3_client, s3_estate

NAMES = ("globex-accounting-archive", "globex-accounting-mailstore")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def on_pty(width: int, *args: str, cwd: Path) -> tuple[int, str]:
    """``backupcheck ARGS`` with its stdout a pseudo-terminal ``width`` columns wide."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, width, 0, 0))
    env = {**os.environ, "COLUMNS": str(width), "LINES": "50", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "backupcheck", *args], stdout=slave,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env,
                            cwd=cwd)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    code = proc.wait()
    text = ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r\n", "\n")
    return code, text


@pytest.fixture(scope="module")
def estate(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("widths")
    targets = root / "targets"
    files = numbered_files(6, prefix="departments/finance/quarterly-reports/statement-")
    for index, name in enumerate(NAMES):
        # the second bucket misses two files: the drill lists them as problems
        upload = dict(list(files.items())[:4]) if index else files
        s3, source = s3_estate(s3_server, f"widths-{index}", root / name, files, upload=False)
        for rel, data in upload.items():
            s3.put_object(Bucket=f"widths-{index}", Key=f"backup/{rel}", Body=data)
        manifest = manifest_of(source, root / f"{name}.manifest")
        s3_client(targets, name, f"widths-{index}", s3_server, manifest=str(manifest))
    plan = plan_file(root / "plan", files=50)
    history = root / "history"
    code, _ = on_pty(120, "drill", "--targets", str(targets), "--plan", str(plan),
                     "--history", str(history), cwd=root)
    assert code in (0, 1), code
    return {"root": root, "targets": targets, "plan": plan, "history": history}


def assert_fits(text: str, width: int) -> None:
    long = [line for line in text.splitlines() if len(line) > width]
    assert not long, "\n".join(long)
    assert "…" not in text, text  # rich's ellipsis: a cell was cut to fit


@pytest.mark.parametrize("width", [80, 120])
def test_inventory_fits_with_whole_names_and_lock_modes(estate: dict[str, Any],
                                                       width: int) -> None:
    code, text = on_pty(width, "inventory", "--targets", str(estate["targets"]),
                        cwd=estate["root"])
    assert code in (0, 1), text
    assert_fits(text, width)
    for name in NAMES:
        assert name in text
    assert re.search(r"\bCOMPLIANCE 30d\b", text), text  # the lock column, whole


@pytest.mark.parametrize("width", [80, 120])
def test_history_fits_with_whole_iso_dates(estate: dict[str, Any], width: int) -> None:
    code, text = on_pty(width, "history", "--history", str(estate["history"]),
                        cwd=estate["root"])
    assert code == 0, text
    assert_fits(text, width)
    for name in NAMES:
        assert name in text
    assert re.search(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", text), text


@pytest.mark.parametrize("width", [80, 120])
def test_drill_fits_with_whole_names_and_problem_paths(estate: dict[str, Any],
                                                      width: int) -> None:
    code, text = on_pty(width, "drill", "--targets", str(estate["targets"]), "--plan",
                        str(estate["plan"]), "--no-history", cwd=estate["root"])
    assert code == 1, text
    assert_fits(text, width)
    for name in NAMES:
        assert name in text
    # the missing files' paths appear whole on one line
    assert "departments/finance/quarterly-reports/statement-05.bin" in text, text
