"""``audit --all``: a pack per client of the demo estate and the fleet overview ``index.html``,
rendered in a real headless Chromium (tests/browser.py) and checked against each client's own
``report.json``."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backupcheck.audit.fleet import pack_dir_name
from backupcheck.audit.model import AuditOptions
from backupcheck.audit.pack import PACK_FILES
from backupcheck.commands.fleet import build_fleet
from backupcheck.config import load_estate
from backupcheck.model import Plan, Status
from backupcheck.restore.standing import Standing, rto_standing
from backupcheck.units import format_duration
from tests.browser import render
from tests.conftest import CliResult, run_cli
from tests.test_audit import ARTIFACTS, Demo, chromium, demo  # noqa: F401  (fixtures)
from tests.test_hints_say_what_to_do import runs

SEVERITY = {"pass": 0, "warn": 1, "error": 2, "fail": 3}


def expected_row(document: dict[str, Any]) -> dict[str, Any]:
    """The overview's figures for one client, worked out from its pack's report.json."""
    client = document["clients"][0]
    judged, coverages = [], []
    for target in client["targets"]:
        restore = target.get("restore")
        if not restore:
            continue
        coverages.append(restore["coverage"])
        point, rto = restore["estimated_full_restore_seconds"], restore["rto_seconds"]
        low, high = restore["estimate_low_seconds"], restore["estimate_high_seconds"]
        # as restore.rto judges: the worst standing, then the least left above the high end
        standing = rto_standing(point, low, high, rto)
        judged.append(((standing.rank, max(high, point) - rto), standing, low, high, rto))
    _, standing, low, high, rto = max(judged)
    headroom = {Standing.OVER: f"over by {format_duration(low - rto, 'prose')}",
                Standing.AT_RISK: f"at risk: up to {format_duration(high - rto, 'prose')} over",
                Standing.WITHIN: format_duration(rto - high, "prose")}[standing]
    ages = [t["age_seconds"] for t in document["audit"]["restore"]["targets"].values()
            if t["age_seconds"] is not None]
    return {
        "status": document["audit"]["verdict"]["status"],
        "headroom": headroom,
        "coverage": f"{min(coverages):.1%}",
        "age": format_duration(max(ages), "words"),
        "findings": sum(1 for f in document["audit"]["findings"]
                        if f["open"] and f["status"] != "muted"),
    }


def cell(row: str, name: str) -> str:
    found = re.search(rf'<td class="num {name}[^"]*">(.*?)<', row, re.S)
    assert found, (name, row)
    return found.group(1)


@dataclass
class Fleet:
    out: Path
    result: CliResult


@pytest.fixture(scope="module")
def fleet(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Fleet:  # noqa: F811
    """``audit --all`` over the demo estate, once for the module."""
    out = tmp_path_factory.mktemp("fleet") / "fleet"
    return Fleet(out, run_cli("audit", "--all", "--out", str(out), "--targets",
                              str(demo.targets), "--history", str(demo.history),
                              "--format", "json"))


def test_fleet_overview_renders_every_demo_client(
        demo: Demo, fleet: Fleet, chromium: str, tmp_path: Path) -> None:  # noqa: F811
    out, result = fleet.out, fleet.result
    # every demo client has one planted problem: the worst over the clients is a failure
    assert result.exit_code == 1, result.stderr
    summary = json.loads(result.stdout)
    assert summary["exit_code"] == 1
    names = sorted(demo.clients)
    assert sorted(r["client"] for r in summary["clients"]) == names
    for client in summary["clients"]:  # breached exactly when the low end is past the RTO
        assert (client["headroom_seconds"] < 0) == (client["rto_standing"] == "over"), client
        assert (client["high_headroom_seconds"] < 0) == (client["rto_standing"] != "within")
    expected = {}
    for name in names:
        pack = out / name
        assert sorted(p.name for p in pack.iterdir()) == sorted(PACK_FILES)
        assert subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=pack,
                              capture_output=True, check=False).returncode == 0
        expected[name] = expected_row(json.loads((pack / "report.json").read_text("utf-8")))
    page = (out / "index.html").read_text("utf-8")
    assert "default-src 'none'" in page and "<script" not in page.lower()

    rendered = render(chromium, out / "index.html", tmp_path / "browser", height=900)
    assert rendered.requests.page == [], rendered.requests.page
    dom = rendered.dom
    rows = re.findall(r'<tr class="r-(\w+)" data-client="([^"]+)">(.*?)</tr>', dom, re.S)
    assert [r[1] for r in rows] and sorted(r[1] for r in rows) == names
    for status, name, row in rows:
        want = expected[name]
        assert status == want["status"], name
        assert f'<a href="{name}/report.html">{name}</a>' in row
        assert cell(row, "headroom") == want["headroom"], name
        assert cell(row, "coverage") == want["coverage"], name
        assert cell(row, "age") == want["age"], name
        assert cell(row, "findings") == str(want["findings"]), name
    # worst first: status, then the least RTO headroom
    assert [SEVERITY[r[0]] for r in rows] == sorted((SEVERITY[r[0]] for r in rows),
                                                     reverse=True)
    # initech's slow link breaks its RTO: the overview says by how much
    initech = next(r for _, n, r in rows if n == "initech")
    assert cell(initech, "headroom over").startswith("over by ")
    assert f'id="count-fail"><b>{sum(1 for r in rows if r[0] == "fail")}</b>' in dom
    png = rendered.screenshot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert int.from_bytes(png[16:20], "big") == 1280
    # globex's mismatch in its pack: what to do is not the problem said again
    globex = (out / "globex" / "report.html").read_text("utf-8")
    pairs = re.findall(r'<span class="found">(.*?)</span><span class="todo">What to do: '
                       r'(.*?)</span>', globex, re.S)
    assert any("digest" in found for found, _ in pairs), pairs
    for found, todo in pairs:
        assert not runs(found) & runs(todo), (found, todo)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(rendered.screenshot, ARTIFACTS / "fleet-overview.png")
    shutil.copy(out / "index.html", ARTIFACTS / "fleet-overview.html")


def test_simulated_earlier_drills_are_labelled_in_the_page(fleet: Fleet) -> None:
    """The demo's earlier drills are simulated: report.json says so, and so does the page."""
    for client in ("acme", "globex", "initech"):
        pack = fleet.out / client
        history = json.loads((pack / "report.json").read_text("utf-8"))["history"]
        simulated = sum(1 for row in history if row["snapshot"] == "(simulated)")
        assert 0 < simulated < len(history)  # today's drill is real
        page = (pack / "report.html").read_text("utf-8")
        table = re.search(r'<table class="history">(.*?)</table>', page, re.S)
        assert table
        rows = re.findall(r"<tr[ >].*?</tr>", table.group(1), re.S)[1:]  # past the header
        assert len(rows) == len(history)
        assert sum("(simulated)" in row for row in rows) == simulated, client


def test_a_script_in_a_client_file_is_escaped_and_still_gets_a_row(tmp_path: Path) -> None:
    """A client file that does not load (its name and message are attacker-chosen) and a
    client with no drill yet: neither pack can be made, both rows are there, escaped."""
    targets = tmp_path / "targets"
    targets.mkdir()
    evil = "<script>alert(1)"  # a file name: no "/"
    (targets / f"{evil}.toml").write_text(f'client = "{evil}"\nrto = "4h"\n', "utf-8")
    (targets / "fresh.toml").write_text(
        'client = "fresh"\nrpo = "26h"\nrto = "4h"\n\n[[targets]]\nkind = "s3"\n'
        'name = "fresh-s3"\nbucket = "fresh-bucket"\nendpoint_url = "http://127.0.0.1:9"\n',
        "utf-8")
    clients, broken = load_estate(targets)
    out = tmp_path / "fleet"
    result = build_fleet(clients, broken, AuditOptions(out=out, history_dir=tmp_path / "h",
                                                        plan=Plan()))
    assert result.exit_code == 2  # a client file that did not load: configuration error
    assert {r.client for r in result.rows} == {"fresh", f"{evil}.toml"}
    assert all(r.status is Status.ERROR and r.link == "" for r in result.rows)
    page = (out / "index.html").read_text("utf-8")
    assert "<script" not in page.lower()
    assert html.escape(evil, quote=False) in page
    assert "no drills of client" in page  # the reason fresh has no pack
    assert not (out / "fresh").exists()


def test_pack_directory_names_cannot_escape_the_overview() -> None:
    assert pack_dir_name("acme") == "acme"
    for name in ("../etc", "a/b", ".hidden", "<b>x</b>"):
        safe = pack_dir_name(name)
        assert "/" not in safe and not safe.startswith(".") and "<" not in safe
