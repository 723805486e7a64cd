"""``audit``: evidence packs of the demo estate, checked with sha256sum and a real Chromium.

The demo estate (``demo --keep`` once per module) has three clients with one planted problem
each: ``acme`` (bucket in GOVERNANCE mode, 7-day retention), ``globex`` (a file overwritten
after the backup: digest mismatch), ``initech`` (a slow link breaks the 15 s RTO), plus a
history of earlier weekly drills. ``acme``'s packs are built once: from the history (the
default) and with a fresh drill recorded into the history. Three more clients live on the
demo's S3 server in a targets directory of their own: ``clean`` (everything right; one
object key holds a ``<script>`` tag), ``evil`` (a target *name* with one) and ``gone`` (its
bucket does not exist).
"""

from __future__ import annotations

import html
import json
import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import boto3
import pytest

from backupcheck.audit.model import AuditOptions, AuditResult
from backupcheck.audit.pack import PACK_FILES
from backupcheck.commands.audit import build_audit_pack
from backupcheck.config import load_clients, load_plan
from backupcheck.demo import run_demo
from backupcheck.demo.process import stop_previous
from backupcheck.errors import UsageError
from backupcheck.history import HistoryStore
from backupcheck.manifest.build import build_manifest
from backupcheck.model import Client, Plan, Status
from backupcheck.units import format_duration
from tests.browser import (
    BrowserUnavailable,
    dump_dom,
    ensure_chromium,
    render,
    requests_in_netlog,
)
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
SCRIPT_KEY = "docs/<script>alert(1)</script>.txt"
#: markup and a right-to-left override (which would show "exe.pdf" as "fdp.exe")
SCRIPT_TARGET = "evil <script>alert(2)</script> \u202efdp.exe"
PAB = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
       "RestrictPublicBuckets": True}
#: for the extra clients: every file sampled
PLAN = Plan(name="weekly", files=40, max_bytes=1 << 30, read_data_subset="", jobs=4)


@dataclass
class Demo:
    directory: Path
    targets: Path
    history: Path
    plan: Plan
    plan_path: Path
    clients: dict[str, Client]
    s3_url: str

    def audit(self, name: str, out: Path, **kwargs: Any) -> AuditResult:
        options = AuditOptions(out=out, history_dir=self.history, plan=self.plan,
                               targets_dir=self.targets, plan_path=self.plan_path, **kwargs)
        return build_audit_pack(self.clients[name], options)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``backupcheck demo --keep DIR``, with a temporary HOME (the demo must not touch it)."""
    root = tmp_path_factory.mktemp("audit-demo")
    directory = root / "estate"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", str(root / "home"))
        env.delenv("AWS_SHARED_CREDENTIALS_FILE", raising=False)
        env.delenv("AWS_CONFIG_FILE", raising=False)
        try:
            _, info = run_demo(directory)
            # what the kept demo tells its user to export: its profile lives in the estate
            env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(directory / "aws" / "credentials"))
            env.setenv("AWS_CONFIG_FILE", str(directory / "aws" / "config"))
            targets = directory / "targets"
            plan_path = directory / "restore_tests" / "weekly.toml"
            yield Demo(directory, targets, directory / "history", load_plan(plan_path),
                       plan_path, {c.name: c for c in load_clients(targets)}, info.server_url)
        finally:
            stop_previous(directory)  # the kept estate's detached S3 server, by its pid file


@dataclass
class AcmePacks:
    default: AuditResult
    fresh: AuditResult


@pytest.fixture(scope="module")
def acme(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> AcmePacks:
    root = tmp_path_factory.mktemp("acme-packs")
    default = demo.audit("acme", root / "pack")
    fresh = demo.audit("acme", root / "pack-fresh", run_drill=True)
    return AcmePacks(default, fresh)


# ---------------------------------------------------------------- extra clients


def make_bucket(s3: Any, name: str, mode: str, days: int) -> None:
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": mode,
                                                                       "Days": days}}})
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=PAB)


def make_files(root: Path, seed: int) -> dict[str, bytes]:
    rng = random.Random(seed)
    files = {f"projects/report-{i:02d}.docx": rng.randbytes(rng.randint(2_000, 200_000))
             for i in range(10)}
    files[SCRIPT_KEY] = b"an attacker chose this file name\n"
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def client_toml(name: str, rto: str, targets: list[dict[str, str]]) -> str:
    body = f'client = "{name}"\nrpo = "26h"\nrto = "{rto}"\n'
    for target in targets:
        body += "\n[[targets]]\nkind = \"s3\"\n" + "".join(
            f"{key} = {json.dumps(value)}\n" for key, value in target.items())
    return body


def earlier_drills(client: Client, target: str, now: datetime, weeks: int) -> list[dict[str, Any]]:
    """Weekly runs rows before ``now``, written as a drill would have."""
    rows = []
    for week in range(weeks, 0, -1):
        started = now - timedelta(days=7 * week)
        rows.append({
            "run_id": f"{started:%Y%m%dT%H%M%SZ}-early{week:02d}", "started_at": started,
            "client": client.name, "target": target, "kind": "s3", "status": "pass",
            "plan": "weekly", "seed": 1000 + week, "snapshot": "current versions",
            "sampled": 11, "verified": 11, "mismatched": 0, "unreadable": 0, "unproven": 0,
            "retries": 0, "bytes": 1_000_000, "seconds": 0.5, "ttfb_seconds": 0.01,
            "throughput_bytes_per_s": 2_000_000.0, "total_bytes": 1_000_000,
            "total_files": 11, "estimated_full_restore_seconds": 0.6 + 0.01 * week,
            "rto_seconds": client.rto_seconds, "coverage": 1.0})
    return rows


@dataclass
class Extra:
    targets: Path
    history: Path
    clients: dict[str, Client]

    def audit(self, name: str, out: Path, **kwargs: Any) -> AuditResult:
        options = AuditOptions(out=out, history_dir=self.history, plan=PLAN,
                               targets_dir=self.targets, **kwargs)
        return build_audit_pack(self.clients[name], options)


@pytest.fixture(scope="module")
def extra(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Extra:
    root = tmp_path_factory.mktemp("audit-extra")
    s3 = boto3.client("s3", endpoint_url=demo.s3_url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    make_bucket(s3, "audit-clean", "COMPLIANCE", 90)
    files = make_files(root / "source", seed=7)
    for rel, data in files.items():
        s3.put_object(Bucket="audit-clean", Key="nas/" + rel, Body=data)
    targets = root / "targets"
    targets.mkdir()
    build_manifest(root / "source", targets / "clean.parquet")
    clean = {"bucket": "audit-clean", "prefix": "nas/", "endpoint_url": demo.s3_url}
    (targets / "clean.toml").write_text(client_toml("clean", "4h", [
        {"name": "clean-nas", **clean, "manifest": str(targets / "clean.parquet")}]))
    (targets / "evil.toml").write_text(client_toml("evil", "4h", [
        {"name": SCRIPT_TARGET, **clean}]))
    (targets / "gone.toml").write_text(client_toml("gone", "4h", [
        {"name": "gone-s3", "bucket": "gone-bucket-does-not-exist",
         "endpoint_url": demo.s3_url}]))
    clients = {c.name: c for c in load_clients(targets)}
    history = root / "history"
    HistoryStore(history).append_rows(
        earlier_drills(clients["gone"], "gone-s3", datetime.now(UTC), weeks=2))
    return Extra(targets, history, clients)


def read_json(result: AuditResult) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((result.out / "report.json").read_text("utf-8"))
    return document


def page_of(result: AuditResult) -> str:
    return (result.out / "report.html").read_text("utf-8")


# ---------------------------------------------------------------- the pack


@pytest.mark.parametrize("which", ["default", "fresh"])
def test_pack_is_complete_and_checksums_verify(acme: AcmePacks, which: str,
                                               tmp_path: Path) -> None:
    result: AuditResult = getattr(acme, which)
    assert sorted(p.name for p in result.out.iterdir()) == sorted(PACK_FILES)
    assert [p.name for p in result.files] == list(PACK_FILES)
    sums = (result.out / "SHA256SUMS").read_text("ascii")
    assert re.fullmatch(r"([0-9a-f]{64}  report\.(html|json)\n){2}", sums), sums
    done = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=result.out,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "report.html: OK" in done.stdout and "report.json: OK" in done.stdout
    # one edited byte in either file is caught
    for name in ("report.html", "report.json"):
        copy = tmp_path / name
        shutil.copytree(result.out, copy)
        data = bytearray((copy / name).read_bytes())
        data[len(data) // 2] ^= 0x01
        (copy / name).write_bytes(bytes(data))
        done = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=copy,
                              capture_output=True, text=True, check=False)
        assert done.returncode != 0
        assert f"{name}: FAILED" in done.stdout


def test_planted_problem_gives_the_verdict_and_exit_code(acme: AcmePacks) -> None:
    for result in (acme.default, acme.fresh):
        assert result.verdict.status is Status.FAIL
        assert result.exit_code == 1
        assert result.verdict.headline == "ATTENTION: 3 problems"
        assert {(i.target, i.check_id) for i in result.verdict.problems} == {
            ("acme-nas", "s3.object_lock.mode"), ("acme-nas", "s3.object_lock.retention"),
            ("acme-nas", "s3.objects.locked")}
        pillars = {p.key: p.answer for p in result.verdict.pillars}
        assert pillars == {"fresh": "YES", "immutable": "NO", "encrypted": "YES",
                           "restorable": "YES", "rto": "YES"}
    assert acme.fresh.mode == "fresh" and acme.fresh.drill_age_seconds == 0
    assert acme.default.mode == "history"
    assert acme.default.drill_age_seconds is not None
    assert 0 < acme.default.drill_age_seconds < 3600


def test_report_json_matches_the_schema(acme: AcmePacks) -> None:
    default, fresh = read_json(acme.default), read_json(acme.fresh)
    for doc, source in ((default, "history"), (fresh, "fresh")):
        assert doc["schema"] == "backupcheck.report/1"
        assert {"schema", "command", "started_at", "finished_at", "status", "clients",
                "history", "audit"} <= set(doc)
        assert doc["status"] == "fail"
        (client,) = doc["clients"]
        assert client["client"] == "acme" and client["status"] == "fail"
        by_name = {t["target"]: t for t in client["targets"]}
        assert set(by_name) == {"acme-nas", "acme-fs1"}
        assert by_name["acme-nas"]["kind"] == "s3" and by_name["acme-fs1"]["kind"] == "restic"
        for target in by_name.values():
            assert {"target", "kind", "status", "checks", "restore", "inventory"} <= set(target)
            for check in target["checks"]:
                assert set(check) == {"id", "status", "message", "evidence"}
                assert check["status"] in ("pass", "warn", "fail", "error")
            assert {"seed", "sampled", "verified", "mismatched", "unreadable", "bytes",
                    "seconds", "ttfb_seconds", "throughput_bytes_per_s",
                    "estimated_full_restore_seconds", "rto_seconds", "snapshot", "coverage",
                    "problems"} <= set(target["restore"])
            assert target["restore"]["sampled"] > 0
        inventory = by_name["acme-nas"]["inventory"]
        assert (inventory["lock_mode"], inventory["retention_days"]) == ("GOVERNANCE", 7)
        meta = doc["audit"]
        assert meta["restore"]["source"] == source
        assert meta["tool_version"] and meta["generated_at"].endswith("Z")
        assert meta["restic_version"] is None or meta["restic_version"].startswith("restic ")
        assert meta["host"] and meta["verdict"]["exit_code"] == 1
        assert meta["period"]["first_drill"] < meta["period"]["last_drill"]
        assert {"run_id", "started_at", "client", "target", "status", "sampled", "verified",
                "mismatched", "estimated_full_restore_seconds", "rto_seconds"} <= \
            set(doc["history"][0])
        assert {row["client"] for row in doc["history"]} == {"acme"}
    # the fresh drill was recorded: one run more in its history than in the default pack's
    assert fresh["audit"]["period"]["drills"] == default["audit"]["period"]["drills"] + 1
    assert len(fresh["history"]) == len(default["history"]) + 2


def test_from_history_findings_say_which_drill(acme: AcmePacks) -> None:
    doc = read_json(acme.default)
    origins = doc["audit"]["restore"]["targets"]
    history_runs = {row["run_id"] for row in doc["history"]}
    for target in doc["clients"][0]["targets"]:
        origin = origins[target["target"]]
        assert origin["source"] == "history" and origin["run_id"] in history_runs
        restore_checks = [c for c in target["checks"] if c["id"].startswith("restore.")]
        assert {c["id"] for c in restore_checks} == {"restore.sample", "restore.rto"}
        for check in restore_checks:
            assert "drill of " in check["message"]
            assert check["evidence"]["recorded_drill"]["run_id"] == origin["run_id"]
    page = page_of(acme.default)
    assert "newest drill in the history" in page
    assert f"run {origins['acme-nas']['run_id']}" in page
    assert "backupcheck verify --targets" in page  # how the policy figures were obtained
    assert "backupcheck audit --client acme --out" in page
    assert read_json(acme.fresh)["audit"]["command_line"].endswith("--run-drill")


def test_digest_mismatch_shows_expected_and_actual(demo: Demo, tmp_path: Path) -> None:
    result = demo.audit("globex", tmp_path / "pack", run_drill=True, record_history=False)
    assert result.exit_code == 1
    doc = read_json(result)
    files = {t["target"]: t for t in doc["clients"][0]["targets"]}["globex-files"]
    (problem,) = files["restore"]["problems"]
    assert problem["reason"] == "digest" and problem["expected"] != problem["actual"]
    page = page_of(result)
    row = re.search(r'<tr class="bad">\s*<td class="wrap mono">([^<]*)</td>.*?</tr>', page,
                    re.S)
    assert row is not None and html.unescape(row.group(1)) == problem["path"]
    assert problem["expected"] in row.group(0) and problem["actual"] in row.group(0)
    assert "✖ digest" in row.group(0)


def test_rto_breach(demo: Demo, tmp_path: Path) -> None:
    result = demo.audit("initech", tmp_path / "pack")
    assert result.exit_code == 1
    assert {(i.target, i.check_id) for i in result.verdict.problems} == {
        ("initech-offsite", "restore.rto")}
    assert [i.check_id for i in result.verdict.warnings] == ["restic.storage.immutable",
                                                             "restic.objects.locked"]
    assert {p.key: p.answer for p in result.verdict.pillars}["rto"] == "NO"


# ---------------------------------------------------------------- untrusted text


def test_script_in_an_object_key_is_escaped(extra: Extra, tmp_path: Path) -> None:
    result = extra.audit("clean", tmp_path / "pack", run_drill=True)
    page = page_of(result)
    assert SCRIPT_KEY in {f["path"] for t in read_json(result)["clients"][0]["targets"]
                          for f in t["restore"]["files"]}
    assert "<script" not in page.lower()
    assert html.escape(SCRIPT_KEY, quote=False) in page


def test_script_in_a_target_name_is_escaped(extra: Extra, tmp_path: Path) -> None:
    result = extra.audit("evil", tmp_path / "pack", run_drill=True, record_history=False)
    page = page_of(result)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "\u202e" not in page and "\\u202efdp.exe" in page  # made visible, not obeyed
    assert read_json(result)["clients"][0]["targets"][0]["target"] == SCRIPT_TARGET
    assert HistoryStore(extra.history).read_runs(["evil"]).num_rows == 0  # not recorded


class _Links(HTMLParser):
    """Every URL-bearing attribute, tag and inline style of a page."""

    URL_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data",
                 "background", "xlink:href", "ping", "manifest", "cite", "longdesc"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in self.URL_ATTRS and value is not None:
                self.urls.append(value)
            if name == "style" and value:
                self.styles.append(value)
            if name == "http-equiv" and value and value.lower() == "refresh":
                self.urls.append("meta-refresh")

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def external_references(page: str) -> list[str]:
    """What in ``page`` could make a browser fetch something that is not in the page."""
    parser = _Links()
    parser.feed(page)
    bad = [u for u in parser.urls if not u.startswith(("data:", "#"))]
    bad += [f"<{t}>" for t in parser.tags & {"script", "link", "iframe", "object", "embed",
                                            "base", "frame", "audio", "video", "source"}]
    for css in parser.styles:
        bad += [u for u in re.findall(r"url\(\s*['\"]?([^'\")]*)", css)
                if not u.startswith(("data:", "#"))]
        bad += ["@import"] if "@import" in css else []
    return bad


def test_page_references_nothing_outside_itself(acme: AcmePacks) -> None:
    for result in (acme.default, acme.fresh):
        page = page_of(result)
        assert external_references(page) == []
        assert "data:image/png;base64," in page
        assert "default-src 'none'" in page  # and a CSP forbids anything else
    # the checker itself notices what it must
    assert external_references('<img src="https://cdn.example/x.png">') == \
        ["https://cdn.example/x.png"]
    assert external_references("<style>@font-face{src:url(//fonts.example/f.woff)}</style>")
    assert external_references('<link rel="stylesheet" href="s.css">')


# ---------------------------------------------------------------- other outcomes and usage


def test_a_client_with_everything_right_passes(extra: Extra, tmp_path: Path) -> None:
    result = extra.audit("clean", tmp_path / "pack", run_drill=True)
    assert result.exit_code == 0, result.verdict.problems
    assert result.verdict.status is Status.PASS
    assert result.verdict.headline == \
        "Backups verified: immutable, encrypted, restorable within RTO"
    assert all(p.answer == "YES" for p in result.verdict.pillars)
    assert "v-pass" in page_of(result)
    # and from the history it just recorded, without a new drill
    again = extra.audit("clean", tmp_path / "again")
    assert again.exit_code == 0 and again.mode == "history"


def test_a_target_that_cannot_be_checked_exits_3(extra: Extra, tmp_path: Path) -> None:
    result = extra.audit("gone", tmp_path / "pack")
    assert result.verdict.status is Status.ERROR
    assert result.exit_code == 3
    assert result.verdict.headline.startswith("INCOMPLETE")
    (issue,) = result.verdict.problems  # ten checks not made: one problem, not ten
    assert issue.target == "gone-s3" and issue.check_id == ""
    assert "could not be checked" in page_of(result)


def test_no_history_and_no_drill_is_a_usage_error(extra: Extra, tmp_path: Path) -> None:
    options = AuditOptions(out=tmp_path / "pack", history_dir=tmp_path / "empty", plan=PLAN)
    with pytest.raises(UsageError) as caught:
        build_audit_pack(extra.clients["clean"], options)
    assert caught.value.exit_code == 2
    assert "--run-drill" in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "pack").exists()


def test_out_must_be_a_directory(extra: Extra, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UsageError, match="not a directory") as caught:
        extra.audit("gone", blocker)
    assert caught.value.exit_code == 2


def _audit_command_wired() -> bool:
    from backupcheck.cli import app

    return any((c.name or getattr(c.callback, "__name__", "")) == "audit"
               for c in app.registered_commands) or any(
        g.name == "audit" for g in app.registered_groups)  # audit and audit verify


@pytest.mark.skipif(not _audit_command_wired(), reason="`backupcheck audit` not in cli.py yet")
def test_cli_audit(demo: Demo, tmp_path: Path) -> None:
    common = ["--targets", str(demo.targets), "--history", str(demo.history)]
    result = run_cli("audit", "--client", "acme", "--out", str(tmp_path / "a"), *common,
                     "--format", "json")
    assert result.exit_code == 1, result.stderr
    assert json.loads(result.stdout)["status"] == "fail"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(PACK_FILES)
    result = run_cli("audit", "--client", "nobody", "--out", str(tmp_path / "b"), *common)
    assert result.exit_code == 2 and "nobody" in result.stderr
    result = run_cli("audit", "--client", "acme", "--out", str(tmp_path / "c"),
                     "--targets", str(demo.targets), "--history", str(tmp_path / "none"))
    assert result.exit_code == 2 and "--run-drill" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_cli("audit", "--client", "acme", "--out", str(tmp_path / "d"), *common,
                     "--run-drill", "--from-history")
    assert result.exit_code == 2


def test_muted_findings_show_in_the_pack_and_count_as_pass(demo: Demo, tmp_path: Path) -> None:
    """Accepted risks (``[mute]`` in the settings) show as muted, with reason and expiry."""
    settings = tmp_path / "backupcheck.toml"
    settings.write_text('''[mute."acme/acme-nas/s3.object_lock.mode"]
reason = "GOVERNANCE agreed <b>with</b> acme"
until = 2099-12-31

[mute]
"acme/acme-nas/s3.object_lock.retention" = { reason = "7 days agreed", until = 2099-12-31 }
"acme/acme-nas/s3.objects.locked" = { reason = "7 days agreed", until = 2099-12-31 }
''', encoding="utf-8")
    out = tmp_path / "pack"
    result = run_cli("audit", "--client", "acme", "--out", str(out), "--targets",
                     str(demo.targets), "--history", str(demo.history), "--settings",
                     str(settings), "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads((out / "report.json").read_text())
    assert document["status"] == "pass"
    nas = next(t for t in document["clients"][0]["targets"] if t["target"] == "acme-nas")
    muted = {c["id"]: c["muted"] for c in nas["checks"] if c["status"] == "muted"}
    assert muted == {
        "s3.object_lock.mode": {"reason": "GOVERNANCE agreed <b>with</b> acme",
                                "until": "2099-12-31", "status": "fail"},
        "s3.object_lock.retention": {"reason": "7 days agreed", "until": "2099-12-31",
                                     "status": "fail"},
        "s3.objects.locked": {"reason": "7 days agreed", "until": "2099-12-31",
                              "status": "fail"}}
    verdict = document["audit"]["verdict"]
    assert verdict["status"] == "pass" and verdict["problems"] == []
    assert verdict["pillars"]["immutable"]["answer"] == "YES"
    assert "3 accepted risks (muted)" in verdict["pillars"]["immutable"]["detail"]
    page = (out / "report.html").read_text()
    # once per muted check; the findings history shows them again, as still there
    checks_part = re.sub(r'<table class="findings".*?</table>', "", page, flags=re.S)
    assert checks_part.count('class="badge s-muted"') == 3
    findings = {(f["target"], f["check"]): f for f in document["audit"]["findings"]}
    assert findings[("acme-nas", "s3.object_lock.mode")]["status"] == "muted"
    assert "Accepted risk until 2099-12-31: GOVERNANCE agreed &lt;b&gt;with&lt;/b&gt; acme " \
           "(the check found: FAIL)" in page
    assert subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True,
                          check=False).returncode == 0


# ---------------------------------------------------------------- a real browser


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        return ensure_chromium()
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))


def test_netlog_sees_an_external_request(chromium: str, tmp_path: Path) -> None:
    """The control: the method used below must notice a page that does reach out."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><p>x</p><img src="https://example.invalid/pixel.png">')
    dom, requests = dump_dom(chromium, page, tmp_path / "out")
    assert "<p>x</p>" in dom
    assert any("example.invalid" in u for u in requests.page)


def test_report_renders_in_chromium_without_external_requests(
        demo: Demo, acme: AcmePacks, chromium: str, tmp_path: Path) -> None:
    result = acme.default
    rendered = render(chromium, result.out / "report.html", tmp_path / "browser")
    assert rendered.requests.page == [], rendered.requests.page
    dom = rendered.dom
    assert 'id="client">acme</h1>' in dom
    assert 'id="headline">ATTENTION: 3 problems</div>' in dom
    assert f'id="rto">{format_duration(demo.clients["acme"].rto_seconds, "prose")}</b>' in dom
    assert "acme-nas" in dom and "GOVERNANCE" in dom and "7 days" in dom
    assert "<script" not in dom.lower()
    png = rendered.screenshot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1280, 2400)
    pdf = rendered.pdf.read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 20_000
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 2  # A4 pages, not one long strip
    assert re.search(rb"/MediaBox \[0 0 594\.9\d* 841\.9\d*\]", pdf)  # A4
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(rendered.screenshot, ARTIFACTS / "audit-report.png")
    shutil.copy(rendered.pdf, ARTIFACTS / "audit-report.pdf")
    shutil.copy(result.out / "report.html", ARTIFACTS / "audit-report.html")


def test_netlog_parser_tolerates_a_truncated_log(tmp_path: Path) -> None:
    log = tmp_path / "cut.json"
    log.write_text('{"constants": {"logEventTypes": {"URL_REQUEST_START_JOB": 2}}, "events": ['
                   '{"type": 2, "params": {"url": "https://x.invalid/", "network_isolation_key":'
                   ' "file:// file://", "initiator": "null"}},\n')
    assert requests_in_netlog(log).page == ["https://x.invalid/"]
