"""Evidence an auditor can trust (issue 18): stale drills are not evidence, the history keeps
what a mismatch needs, and the pack from the history shows it.

Built on the demo estate of ``tests.test_audit`` (its module fixture ``demo``): ``globex``'s
planted problem is a digest mismatch found by the restore drill and nothing else, so with its
drills moved into the past every remaining problem is the drill's age.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from backupcheck.audit.model import AuditOptions, AuditResult
from backupcheck.commands.audit import build_audit_pack
from backupcheck.history import HistoryStore
from backupcheck.units import parse_duration
from tests.conftest import run_cli
from tests.test_audit import Demo, demo, page_of, read_json

__all__ = ["demo"]  # the module fixture, shared with tests.test_audit


def moved_history(demo: Demo, client: str, root: Path, days: float) -> Path:
    """A copy of ``client``'s history under ``root`` with every drill ``days`` earlier."""
    store = HistoryStore(demo.history)
    runs = store.read_runs([client]).to_pylist()
    files = store.read_files([client]).to_pylist()
    for row in (*runs, *files):
        row["started_at"] -= timedelta(days=days)
        row["run_id"] = f"moved-{row['run_id']}"
    HistoryStore(root).append_rows(runs, files)
    return root


def audit_with(demo: Demo, client: str, history: Path, out: Path,
               **kwargs: Any) -> AuditResult:
    options = AuditOptions(out=out, history_dir=history, plan=demo.plan,
                           targets_dir=demo.targets, plan_path=demo.plan_path, **kwargs)
    return build_audit_pack(demo.clients[client], options)


def checks_of(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(t["target"], c["id"]): c for t in document["clients"][0]["targets"]
            for c in t["checks"]}


# ---------------------------------------------------------------- staleness


def test_a_stale_history_is_no_evidence_and_exits_3(demo: Demo, tmp_path: Path) -> None:
    history = moved_history(demo, "globex", tmp_path / "history", days=400)
    result = audit_with(demo, "globex", history, tmp_path / "pack")
    assert result.exit_code == 3
    assert "no drill within 8 days" in result.verdict.headline
    assert "verified" not in result.verdict.headline.lower()
    restore_checks = {key: c for key, c in checks_of(read_json(result)).items()
                      if key[1].startswith("restore.")}
    assert restore_checks and all(c["status"] == "error" for c in restore_checks.values())
    for check in restore_checks.values():
        assert "no drill within 8 days" in check["message"]
        assert check["evidence"]["max_drill_age_seconds"] == 8 * 86400
        assert check["evidence"]["recorded_drill"]["age_seconds"] >= 400 * 86400
    assert {p.key: p.answer for p in result.verdict.pillars}["restorable"] == "UNKNOWN"
    banner = re.search(r'id="headline">([^<]*)<', page_of(result))
    assert banner is not None and "no drill within 8 days" in html.unescape(banner.group(1))
    # the stale figures are not shown as this report's restore evidence
    assert "sampled files restored and proven" not in result.verdict.summary


def test_max_drill_age_sets_the_limit(demo: Demo, tmp_path: Path) -> None:
    history = moved_history(demo, "globex", tmp_path / "history", days=10)
    stale = audit_with(demo, "globex", history, tmp_path / "stale")
    assert stale.exit_code == 3
    allowed = audit_with(demo, "globex", history, tmp_path / "allowed",
                         max_drill_age_seconds=14 * 86400)
    assert allowed.exit_code == 1  # the planted mismatch is evidence again
    assert any(i.check_id == "restore.sample" for i in allowed.verdict.problems)
    assert "no drill within" not in allowed.verdict.headline


def test_cli_max_drill_age(demo: Demo, tmp_path: Path) -> None:
    history = moved_history(demo, "globex", tmp_path / "history", days=20)
    common = ["audit", "--client", "globex", "--targets", str(demo.targets),
              "--history", str(history), "--plan", str(demo.plan_path)]
    stale = run_cli(*common, "--out", str(tmp_path / "a"))
    assert stale.exit_code == 3, stale.stdout + stale.stderr
    assert "no drill within 8 days" in stale.stdout
    longer = run_cli(*common, "--out", str(tmp_path / "b"), "--max-drill-age", "3w")
    assert longer.exit_code == 1, longer.stdout + longer.stderr
    bad = run_cli(*common, "--out", str(tmp_path / "c"), "--max-drill-age", "8")
    assert bad.exit_code == 2 and "--max-drill-age" in bad.stderr


def test_a_bare_number_is_no_duration() -> None:
    for text in ("8", "8.5", " 30 "):
        with pytest.raises(ValueError, match="no unit"):
            parse_duration(text)
    assert parse_duration("8d") == 8 * 86400
