"""Evidence an auditor can trust (issue 18): stale drills are not evidence, the history keeps
what a mismatch needs, and the pack from the history shows it.

Built on the demo estate of ``tests.test_audit`` (its module fixture ``demo``): ``globex``'s
planted problem is a digest mismatch found by the restore drill and nothing else, so with its
drills moved into the past every remaining problem is the drill's age.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from backupcheck.audit.model import AuditOptions, AuditResult
from backupcheck.commands.audit import build_audit_pack
from backupcheck.history import HistoryStore
from backupcheck.units import format_duration, parse_duration
from tests.conftest import run_cli
from tests.test_audit import Demo, demo, page_of, read_json

__all__ = ["demo"]  # the module fixture, shared with tests.test_audit


def moved_history(demo: Demo, client: str, root: Path, days: float) -> Path:
    """A copy of ``client``'s history under ``root`` with every drill ``days`` earlier."""
    store = HistoryStore(demo.history)
    runs = store.read_runs([client]).to_pylist()
    files = store.read_files([client]).to_pylist()
    findings = store.read_findings([client]).to_pylist()
    for row in (*runs, *files, *findings):
        row["started_at"] -= timedelta(days=days)
        row["run_id"] = f"moved-{row['run_id']}"
    HistoryStore(root).append_rows(runs, files, findings)
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


# ---------------------------------------------------------------- signed packs


@dataclass
class Keys:
    key: Path
    public: str
    allowed: Path
    other_allowed: Path


def keygen(path: Path, passphrase: str = "", kind: str = "ed25519") -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", "test", "-f",
                    str(path)], check=True, capture_output=True)
    return path.with_suffix(".pub").read_text().strip() if path.suffix else \
        Path(f"{path}.pub").read_text().strip()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    root = tmp_path_factory.mktemp("keys")
    public = keygen(root / "msp")
    other = keygen(root / "other")
    (root / "allowed_signers").write_text(f"audits@msp.example {public}\n")
    (root / "other_signers").write_text(f"audits@msp.example {other}\n")
    return Keys(root / "msp", public, root / "allowed_signers", root / "other_signers")


def ssh_verify(pack: Path, allowed: Path, signer: str = "audits@msp.example"
               ) -> subprocess.CompletedProcess[str]:
    """The stock OpenSSH check, exactly as the pack's instructions say."""
    with (pack / "SHA256SUMS").open("rb") as sums:
        return subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", signer,
                               "-n", "backupcheck", "-s", str(pack / "SHA256SUMS.sig")],
                              stdin=sums, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def signed_pack(demo: Demo, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("signed") / "pack"
    done = run_cli("audit", "--client", "globex", "--targets", str(demo.targets),
                   "--history", str(demo.history), "--plan", str(demo.plan_path),
                   "--out", str(out), "--sign-key", str(keys.key))
    assert done.exit_code == 1, done.stdout + done.stderr  # the planted mismatch
    assert "ssh-keygen -Y verify" in done.stdout
    return out


def test_stock_ssh_keygen_accepts_a_signed_pack(signed_pack: Path, keys: Keys) -> None:
    assert sorted(p.name for p in signed_pack.iterdir()) == [
        "SHA256SUMS", "SHA256SUMS.sig", "report.html", "report.json"]
    done = ssh_verify(signed_pack, keys.allowed)
    assert done.returncode == 0, done.stderr
    assert 'Good "backupcheck" signature for audits@msp.example' in done.stdout + done.stderr
    assert subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=signed_pack,
                          capture_output=True, check=False).returncode == 0
    signature = json.loads((signed_pack / "report.json").read_text())["audit"]["signature"]
    fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", f"{keys.key}.pub"],
                                 capture_output=True, text=True, check=True).stdout.split()[1]
    assert signature["key"] == fingerprint and signature["namespace"] == "backupcheck"
    assert fingerprint in (signed_pack / "report.html").read_text()


def test_stock_ssh_keygen_rejects_a_changed_byte(signed_pack: Path, keys: Keys,
                                                 tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(signed_pack, pack)
    page = bytearray((pack / "report.html").read_bytes())
    page[page.index(b"globex")] ^= 0x20  # one byte: "globex" -> "Globex"
    (pack / "report.html").write_bytes(bytes(page))
    # what a forger would do next: make the sums match the changed page again
    subprocess.run("sha256sum report.html report.json > SHA256SUMS", shell=True, cwd=pack,
                   check=True)
    assert subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=pack,
                          capture_output=True, check=False).returncode == 0
    done = ssh_verify(pack, keys.allowed)
    assert done.returncode != 0 and "Good" not in done.stdout
    ours = run_cli("audit", "verify", str(pack), "--allowed-signers", str(keys.allowed))
    assert ours.exit_code == 1 and "signature does not match" in ours.stdout


def test_audit_verify_names_the_changed_file(signed_pack: Path, keys: Keys,
                                             tmp_path: Path) -> None:
    good = run_cli("audit", "verify", str(signed_pack), "--allowed-signers", str(keys.allowed))
    assert good.exit_code == 0, good.stdout
    assert "good signature by audits@msp.example" in good.stdout
    assert "pack verified" in good.stdout
    pack = tmp_path / "pack"
    shutil.copytree(signed_pack, pack)
    document = (pack / "report.json").read_bytes()
    (pack / "report.json").write_bytes(document.replace(b'"fail"', b'"pass"', 1))
    bad = run_cli("audit", "verify", str(pack), "--allowed-signers", str(keys.allowed))
    assert bad.exit_code == 1
    assert "✖ report.json" in bad.stdout and "✔ report.html" in bad.stdout
    assert "pack NOT verified" in bad.stdout


def test_audit_verify_refuses_another_signer_and_an_unsigned_pack(
        signed_pack: Path, keys: Keys, tmp_path: Path) -> None:
    other = run_cli("audit", "verify", str(signed_pack), "--allowed-signers",
                    str(keys.other_allowed))
    assert other.exit_code == 1 and "not in" in other.stdout
    assert ssh_verify(signed_pack, keys.other_allowed).returncode != 0
    pack = tmp_path / "pack"
    shutil.copytree(signed_pack, pack)
    (pack / "SHA256SUMS.sig").unlink()
    unsigned = run_cli("audit", "verify", str(pack), "--allowed-signers", str(keys.allowed))
    assert unsigned.exit_code == 1 and "not signed" in unsigned.stdout
    assert run_cli("audit", "verify", str(pack)).exit_code == 0  # digests alone hold


def test_we_accept_what_ssh_keygen_signs(signed_pack: Path, keys: Keys, tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    shutil.copytree(signed_pack, pack)
    (pack / "SHA256SUMS.sig").unlink()
    subprocess.run(["ssh-keygen", "-Y", "sign", "-q", "-f", str(keys.key), "-n", "backupcheck",
                    str(pack / "SHA256SUMS")], check=True, capture_output=True)
    done = run_cli("audit", "verify", str(pack), "--allowed-signers", str(keys.allowed))
    assert done.exit_code == 0, done.stdout


def test_passphrase_protected_and_wrong_kind_of_key(demo: Demo, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    public = keygen(tmp_path / "locked", passphrase="correct horse")
    keygen(tmp_path / "rsa", kind="rsa")
    (tmp_path / "allowed").write_text(f"locked@msp.example {public}\n")
    common = ["audit", "--client", "globex", "--targets", str(demo.targets),
              "--history", str(demo.history), "--plan", str(demo.plan_path)]
    no_phrase = run_cli(*common, "--out", str(tmp_path / "a"), "--sign-key",
                        str(tmp_path / "locked"))
    assert no_phrase.exit_code == 2 and "BACKUPCHECK_SIGN_KEY_PASSPHRASE" in no_phrase.stderr
    assert not (tmp_path / "a").exists()  # refused before any work
    rsa = run_cli(*common, "--out", str(tmp_path / "b"), "--sign-key", str(tmp_path / "rsa"))
    assert rsa.exit_code == 2 and "not an Ed25519 key" in rsa.stderr
    monkeypatch.setenv("BACKUPCHECK_SIGN_KEY_PASSPHRASE", "correct horse")
    signed = run_cli(*common, "--out", str(tmp_path / "c"), "--sign-key",
                     str(tmp_path / "locked"))
    assert signed.exit_code == 1, signed.stderr
    assert "correct horse" not in signed.stdout + (tmp_path / "c" / "report.json").read_text()
    assert ssh_verify(tmp_path / "c", tmp_path / "allowed", "locked@msp.example").returncode == 0
    # the same directory again, unsigned: the old signature must not stay behind
    again = run_cli(*common, "--out", str(tmp_path / "c"))
    assert again.exit_code == 1 and not (tmp_path / "c" / "SHA256SUMS.sig").exists()


# ---------------------------------------------------------------- what the history keeps


def test_a_pack_from_history_shows_the_expected_digest_of_a_mismatch(
        demo: Demo, tmp_path: Path) -> None:
    fresh = audit_with(demo, "globex", demo.history, tmp_path / "fresh", run_drill=True,
                       record_history=False)
    result = audit_with(demo, "globex", demo.history, tmp_path / "pack")  # from the history
    assert result.mode == "history" and result.exit_code == 1

    def problem_of(pack: AuditResult) -> dict[str, Any]:
        targets = {t["target"]: t for t in read_json(pack)["clients"][0]["targets"]}
        (problem,) = targets["globex-files"]["restore"]["problems"]
        return dict(problem)

    recorded, measured = problem_of(result), problem_of(fresh)
    assert recorded["reason"] == "digest"
    assert re.fullmatch(r"[0-9a-f]{32}", recorded["expected"])
    assert recorded == measured  # the same path, expected and actual as a drill run now
    page = page_of(result)
    row = re.search(r'<tr class="bad">\s*<td class="wrap mono">([^<]*)</td>.*?</tr>', page,
                    re.S)
    assert row is not None and html.unescape(row.group(1)) == recorded["path"]
    assert recorded["expected"] in row.group(0) and recorded["actual"] in row.group(0)
    assert "not kept in the history" not in page
    # the ground truth it was judged against is kept too
    files = HistoryStore(demo.history).read_files(["globex"]).to_pylist()
    (kept,) = [f for f in files if f["path"] == recorded["path"] and f["result"] == "digest"]
    assert kept["expected_xxh3_128"] == recorded["expected"] and kept["truth"] == "manifest"
    assert "manifest" in row.group(0)


def test_report_generated_is_not_before_the_checks_it_reports(demo: Demo,
                                                               tmp_path: Path) -> None:
    result = audit_with(demo, "globex", demo.history, tmp_path / "pack")
    audit = read_json(result)["audit"]
    assert audit["generated_at"] >= audit["checks"]["at"]  # both ISO UTC, same format
    page = page_of(result)
    generated = re.search(r"<dt>Report generated</dt><dd>([^<]*)</dd>", page)
    assert generated is not None
    assert generated.group(1) >= audit["checks"]["at"][:16].replace("T", " ")


# ---------------------------------------------------------------- findings history


def test_a_drill_records_one_findings_row_per_check_per_target(demo: Demo) -> None:
    store = HistoryStore(demo.history)
    (run_id,) = {r["run_id"] for r in store.latest_run("acme")}
    rows = [r for r in store.read_findings(["acme"]).to_pylist() if r["run_id"] == run_id]
    keys = [(r["target"], r["check"]) for r in rows]
    assert len(keys) == len(set(keys)) > 10
    by_key = {(r["target"], r["check"]): r for r in rows}
    mode = by_key[("acme-nas", "s3.object_lock.mode")]
    assert mode["status"] == "fail" and "GOVERNANCE" in mode["message"]
    assert {"restore.sample", "restore.rto"} <= {c for _, c in keys}
    assert set(rows[0]) >= {"run_id", "started_at", "client", "target", "check", "status",
                            "message"}


def test_the_pack_shows_first_seen_last_seen_resolved_and_age(demo: Demo,
                                                              tmp_path: Path) -> None:
    history = moved_history(demo, "acme", tmp_path / "history", days=14)
    store = HistoryStore(history)
    (moved,) = store.latest_run("acme")[:1]
    # three weeks ago versioning was off on acme-nas; the drill two weeks ago found it on
    earlier = moved["started_at"] - timedelta(days=7)
    store.append_rows([], [], [{
        "run_id": "earlier-run", "started_at": earlier, "client": "acme", "target": "acme-nas",
        "kind": "s3", "check": "s3.versioning", "status": "fail",
        "message": "bucket versioning is Suspended"}])
    result = audit_with(demo, "acme", history, tmp_path / "pack", run_drill=True)
    assert result.exit_code == 1
    document = read_json(result)
    findings = {(f["target"], f["check"]): f for f in document["audit"]["findings"]}
    lock = findings[("acme-nas", "s3.object_lock.mode")]
    assert lock["open"] and lock["resolved_at"] is None
    assert lock["first_seen"] == moved["started_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert lock["last_seen"] == document["audit"]["checks"]["at"]  # the drill just run
    assert lock["age_seconds"] >= 14 * 86400 and lock["seen"] == 2
    versioning = findings[("acme-nas", "s3.versioning")]
    assert not versioning["open"] and versioning["status"] == "fail"
    assert versioning["first_seen"] == versioning["last_seen"] == \
        earlier.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert versioning["resolved_at"] == lock["first_seen"]  # the next drill found it on
    # the fresh drill is recorded, with its findings
    assert len(store.read_findings(["acme"]).to_pylist()) > len(findings)
    page = page_of(result)
    table = re.search(r'<table class="findings" id="findings">.*?</table>', page, re.S)
    assert table is not None
    rows = re.findall(r"<tr class=\"(open|resolved)\">(.*?)</tr>", table.group(0), re.S)
    opened = [body for kind, body in rows if kind == "open"]
    resolved = [body for kind, body in rows if kind == "resolved"]
    age = format_duration(lock["age_seconds"], "words")
    assert any("s3.object_lock.mode" in body and f"open for {age}" in body for body in opened)
    assert any("s3.versioning" in body and f"✔ {moved['started_at']:%Y-%m-%d %H:%M}" in body
               for body in resolved)
    assert rows.index(next(r for r in rows if r[0] == "resolved")) > 0  # open ones first


# ---------------------------------------------------------------- compliance controls


def test_every_check_names_known_controls_and_every_control_is_evidenced() -> None:
    from backupcheck.checks.controls import BY_ID as CONTROLS
    from backupcheck.checks.registry import CHECKS

    for check in CHECKS:
        assert set(check.controls) <= set(CONTROLS), check.id
        assert check.controls or check.id == "config", check.id
    evidenced = {c for check in CHECKS for c in check.controls}
    assert evidenced == set(CONTROLS)
    assert {"ISO27001:A.8.13", "ISO27001:A.5.30", "NIS2:Art.21(2)(c)", "SOC2:A1.2", "SOC2:A1.3",
            "HIPAA:164.308(a)(7)(ii)(A)", "HIPAA:164.308(a)(7)(ii)(B)",
            "HIPAA:164.308(a)(7)(ii)(D)", "CIS:11.1", "CIS:11.2", "CIS:11.3", "CIS:11.4",
            "CIS:11.5"} == set(CONTROLS)
    assert all(c.words and c.source for c in CONTROLS.values())
    listed = run_cli("list-checks", "--format", "json")
    assert listed.exit_code == 0
    by_id = {c["id"]: c for c in listed.json()["checks"]}
    assert "SOC2:A1.3" in by_id["restore.sample"]["controls"]
    assert "CIS:11.4" in by_id["s3.object_lock"]["controls"]


def test_the_pack_shows_per_control_its_checks_and_status(demo: Demo, tmp_path: Path) -> None:
    result = audit_with(demo, "globex", demo.history, tmp_path / "pack")
    controls = {c["id"]: c for c in read_json(result)["audit"]["controls"]}
    tested = controls["SOC2:A1.3"]
    assert tested["status"] == "fail"  # the planted mismatch
    assert {"id": "restore.sample", "status": "fail"} in tested["checks"]
    assert "ISO/IEC 27001" in controls["ISO27001:A.8.13"]["source"]
    backups = controls["CIS:11.2"]
    assert backups["status"] == "pass" and backups["checks"]
    assert all(not c["id"].startswith("restore.") for c in backups["checks"])
    table = re.search(r'<table class="controls" id="controls">.*?</table>', page_of(result),
                      re.S)
    assert table is not None
    row = re.search(r"<tr>\s*<td class=\"mono\">SOC2:A1.3</td>.*?</tr>", table.group(0), re.S)
    assert row is not None and "restore.sample" in row.group(0) and "FAIL" in row.group(0)
