"""Issue 13: a target that cannot be opened is one table row with its cause and fitting advice.

A wrong restic password and a missing S3 bucket each make every check of the target
``error`` (the first with the cause, the rest "not checked: <cause>"). The JSON report still
lists each check as ``error``; the table shows one row per such target: the cause once, and
advice for that cause instead of each check's own remediation ("run restic check
--read-data and repair", "enable bucket versioning").
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import S3Server, run_cli
from tests.drill_helpers import (
    numbered_files,
    plan_file,
    restic_client,
    restic_estate,
    s3_client,
)
from tests.restic_helpers import write_password

WRONG = "wrong password for restic repository"
MISSING = "bucket 'no-such-bucket' does not exist"


def _estate(root: Path, s3_server: S3Server) -> Path:
    repo, source = restic_estate(root / "fs1", numbered_files(2))
    repo.backup(source)
    repo.password_file = write_password(root / "wrong.pass", "wrong-password")
    restic_client(root / "targets", "fs1", repo)
    s3_client(root / "targets", "nas", "no-such-bucket", s3_server)
    return root / "targets"


def _drill(targets: Path, plan: Path, fmt: str) -> tuple[str, int]:
    result = run_cli("drill", "--targets", str(targets), "--no-history", "--plan", str(plan),
                     "--format", fmt)
    return result.stdout, result.exit_code


def test_an_unopened_target_is_one_row_with_its_cause_and_advice(
        tmp_path: Path, s3_server: S3Server) -> None:
    targets = _estate(tmp_path, s3_server)
    plan = plan_file(tmp_path)

    doc = json.loads(_drill(targets, plan, "json")[0])
    per_target = {t["target"]: t["checks"] for c in doc["clients"] for t in c["targets"]}
    assert len(per_target["fs1"]) >= 6 and len(per_target["nas"]) >= 6
    assert all(c["status"] == "error" for checks in per_target.values() for c in checks)

    table, code = _drill(targets, plan, "table")
    assert code == 3
    assert table.count(WRONG) == 1, table
    assert table.count(MISSING) == 1, table
    assert "not checked" not in table
    # each check's own remediation does not fit a target that could not be opened
    assert "restic check --read-data" not in table
    assert "enable bucket versioning" not in table
    assert "Object Lock can only be enabled" not in table
    flat = _messages(table)
    assert flat.count("cannot be opened") == 2, flat
    assert "does not open this repository" in flat  # password advice
    assert "endpoint_url" in flat  # the bucket's name, endpoint and region to check


def _messages(table: str) -> str:
    """The message column of every row, joined with single spaces (rows may wrap)."""
    cells = [line.split("│")[4] for line in table.splitlines()
             if line.startswith("│") and line.count("│") >= 5]
    return " ".join(" ".join(cells).split())
