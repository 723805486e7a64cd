"""The pieces of alerts and metrics as pure functions: the settings loader, mutes, the metrics
textfile merge, the chat message, healthcheck URLs. No storage, no network."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backupcheck.alerts.healthcheck import Healthcheck, ping_url
from backupcheck.alerts.metrics import merge, parse_textfile, write_textfile
from backupcheck.errors import ConfigError
from backupcheck.model import (
    ClientResult,
    Finding,
    RestoreResult,
    RunReport,
    Status,
    TargetResult,
    worst,
)
from backupcheck.mutes import Mute, apply_mutes, expired
from backupcheck.report.notification import MAX_BODY, run_message
from backupcheck.report.prometheus import families, render_text, report_samples
from backupcheck.settings import DEFAULT_ON, load_settings, settings_path
from tests.loopback_http import start_receiver

TOKEN = "xoxb-units-secret-token"


def restore(rto: float = 3600.0) -> RestoreResult:
    return RestoreResult(
        seed=1, snapshot="abc", sampled=4, verified=4, mismatched=0, unreadable=0, unproven=0,
        bytes=4000, seconds=0.5, ttfb_seconds=0.01, throughput_bytes_per_s=8000.0,
        total_bytes=10_000, total_files=10, estimated_full_restore_seconds=12.0,
        rto_seconds=rto, coverage=0.4, retries=0, problems=(), files=(),
        estimate_method={"method": "fit"})


def report(command: str = "drill", status: Status = Status.FAIL, clients: tuple[str, ...] = (
        "acme",), with_restore: bool = True, finished: str = "2026-11-22T03:04:00Z") -> RunReport:
    results = []
    for name in clients:
        checks = (Finding("s3.versioning", Status.PASS, "versioning is Enabled"),
                  Finding("s3.object_lock", status, "Object Lock is not enabled"))
        results.append(ClientResult(name, (TargetResult(
            f"{name}-s3", "s3", checks, restore=restore() if with_restore else None),)))
    return RunReport(command, "2026-11-22T03:00:00Z", finished, tuple(results))


# ---------------------------------------------------------------- status and mutes


def test_muted_counts_as_pass_everywhere() -> None:
    assert worst([Status.MUTED]) is Status.PASS
    assert worst([Status.MUTED, Status.WARN]) is Status.WARN
    mute = Mute("acme", "acme-s3", "s3.object_lock", "accepted", date(2027, 3, 31))
    muted = apply_mutes(report(), [mute], date(2027, 3, 31))  # the last day still holds
    (finding,) = [f for f in muted.clients[0].targets[0].checks if f.id == "s3.object_lock"]
    assert finding.status is Status.MUTED and finding.muted is not None
    assert finding.muted.status is Status.FAIL
    assert muted.status is Status.PASS and muted.exit_code == 0
    assert finding.to_json()["muted"] == {"reason": "accepted", "until": "2027-03-31",
                                          "status": "fail"}
    # the day after `until` it is itself again, and the entry has expired
    again = apply_mutes(report(), [mute], date(2027, 4, 1))
    assert again.status is Status.FAIL
    assert expired([mute], date(2027, 4, 1)) == [mute]
    # a pass is never shown as muted: the risk is gone
    passing = apply_mutes(report(status=Status.PASS), [mute], date(2027, 1, 1))
    assert {f.status for f in passing.clients[0].targets[0].checks} == {Status.PASS}


# ---------------------------------------------------------------- settings


def write(tmp_path: Path, body: str, urls: str | None = None) -> Path:
    if urls is not None:
        (tmp_path / "notify.urls").write_text(urls, encoding="utf-8")
    path = tmp_path / "backupcheck.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_settings_defaults_and_discovery(tmp_path: Path) -> None:
    targets = tmp_path / "targets"
    targets.mkdir()
    assert settings_path(targets, None) is None
    assert load_settings(None).notify.on == DEFAULT_ON
    beside = write(tmp_path, "")
    assert settings_path(targets, None) == beside
    with pytest.raises(ConfigError, match="settings file not found"):
        settings_path(targets, tmp_path / "nope.toml")


def test_settings_relative_paths_and_urls(tmp_path: Path) -> None:
    path = write(tmp_path, '[notify]\nurls_file = "notify.urls"\non = ["fail"]\n'
                 '[metrics]\ntextfile = "bc.prom"\npushgateway = "http://127.0.0.1:9091"\n',
                 urls=f"\n# ops\njson://127.0.0.1:1/{TOKEN}\n\nntfy://127.0.0.1/topic\n")
    settings = load_settings(path)
    assert [line for line, _ in settings.notify.urls] == [3, 5]
    assert settings.notify.on == {Status.FAIL}
    assert settings.metrics.textfile == tmp_path / "bc.prom"
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize(("body", "urls", "message"), [
    ("[notify]\nurls = ['json://x']\n", None, "notify.urls: notification URLs carry tokens"),
    ('[notify]\nurls_file = "notify.urls"\n', f"json://ok/{TOKEN}\nnot a url {TOKEN}\n",
     "notify.urls:2: not a notification URL Apprise understands"),
    ('[notify]\nurls_file = "notify.urls"\n', "# nothing yet\n", "holds no notification URL"),
    ('[notify]\nurls_file = "missing.urls"\n', None, "cannot read notification URLs"),
    ('[notify]\non = ["fail", "muted"]\n', None, "notify.on: must list run statuses"),
    (f'[notify]\nhealthcheck_url = "ftp://hc/{TOKEN}"\n', None,
     "notify.healthcheck_url: expected an http:// or https:// URL"),
    ('[notify]\nhealth_url = "x"\n', None, "notify.health_url: unknown key"),
    ('[metrics]\ntextfile = "bc.txt"\n', None, "only files ending in .prom"),
    ('[metrics]\ntextfile = "no/such/dir/bc.prom"\n', None, "does not exist"),
    ('[metrics]\npushgateway = "localhost:9091"\n', None, "expected an http:// or https://"),
    ('[history]\nbucket = "b"\n', None, "history.bucket: unknown key"),
    ('[history]\nurl = "s3:///p"\n', None, "history.url: expected s3://bucket/prefix"),
    ('[alerts]\n', None, "alerts: unknown key"),
    ('[notify\n', None, "TOML syntax error"),
])
def test_settings_errors_name_file_line_and_key(tmp_path: Path, body: str, urls: str | None,
                                                message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, body, urls))
    assert message in str(error.value)
    assert error.value.exit_code == 2
    assert TOKEN not in str(error.value)


# ---------------------------------------------------------------- metrics


def test_metric_text_parses_and_has_one_hot_status() -> None:
    text = render_text(families(report_samples(report()))).decode()
    found = {f.name: f for f in text_string_to_metric_families(text)}
    status = {s.labels["status"]: s.value for s in found["backupcheck_check_status"].samples
              if s.labels["check"] == "s3.object_lock"}
    assert status == {"pass": 0, "warn": 0, "error": 0, "fail": 1, "muted": 0}
    assert found["backupcheck_last_run_timestamp_seconds"].samples[0].value == 1795316640
    assert found["backupcheck_estimated_full_restore_seconds"].type == "gauge"


def test_verify_keeps_the_last_drill_and_other_clients(tmp_path: Path) -> None:
    path = tmp_path / "bc.prom"
    assert write_textfile(path, report("drill", clients=("acme", "globex"))) == []
    later = report("verify", Status.PASS, clients=("acme",), with_restore=False,
                   finished="2026-11-23T03:00:00Z")
    assert write_textfile(path, later) == []
    samples = parse_textfile(path.read_text())
    assert set(samples) == {"acme", "globex"}
    acme = samples["acme"]
    assert acme["backupcheck_estimated_full_restore_seconds"] == [(("acme", "acme-s3"), 12.0)]
    assert acme["backupcheck_last_run_timestamp_seconds"][0][1] == 1795402800  # the verify
    assert acme["backupcheck_last_drill_timestamp_seconds"][0][1] == 1795316640  # the drill
    lock = [s for s in acme["backupcheck_check_status"] if s[0][2] == "s3.object_lock"]
    assert {labels[3] for labels, value in lock if value == 1} == {"pass"}
    assert merge({}, {}) == {}


def test_a_damaged_textfile_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "bc.prom"
    path.write_text("backupcheck_check_status{client=\"x\" garbage\n")
    assert write_textfile(path, report()) == []
    assert set(parse_textfile(path.read_text())) == {"acme"}


def test_unwritable_textfile_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "bc.prom").mkdir()  # a directory where the file should be
    (problem,) = write_textfile(tmp_path / "bc.prom", report())
    assert "metrics textfile" in problem and "not written" in problem


# ---------------------------------------------------------------- the message


def test_message_is_short_and_worst_first() -> None:
    many = tuple(Finding(f"s3.check{i}", Status.FAIL, "x" * 400) for i in range(40))
    clients = (ClientResult("b-warns", (TargetResult("t", "s3", (
        Finding("s3.public_access", Status.WARN, "public access block off"),)),)),
               ClientResult("c-errors", (TargetResult("t", "restic", (
                   Finding("restic.access", Status.ERROR, "wrong password"),)),)),
               ClientResult("a-fails", (TargetResult("t", "s3", many),)))
    run = RunReport("drill", "2026-11-22T03:00:00Z", "2026-11-22T03:04:00Z", clients)
    message = run_message(run, DEFAULT_ON, report_path="/var/log/bc/drill.json",
                          notes=["mute a/b/c expired on 2026-01-01"])
    assert message is not None
    assert len(message.body) <= MAX_BODY
    lines = message.body.splitlines()
    assert lines[0] == "FAIL a-fails"
    assert lines[-1] == "full report: /var/log/bc/drill.json"
    assert lines[-2] == "note: mute a/b/c expired on 2026-01-01"
    assert "b-warns" not in message.body
    assert message.title == "backupcheck drill FAIL: 2 of 3 clients need attention (3 targets)"
    assert run_message(report(status=Status.PASS), DEFAULT_ON) is None
    everything = run_message(report(status=Status.PASS), {Status.PASS})
    assert everything is not None and "passed" in everything.body


# ---------------------------------------------------------------- healthcheck


def test_ping_urls() -> None:
    assert ping_url("https://hc-ping.com/uuid/", "start", "r1") == \
        "https://hc-ping.com/uuid/start?rid=r1"
    assert ping_url("https://hc-ping.com/key/slug?create=1", "fail", "r1") == \
        "https://hc-ping.com/key/slug/fail?create=1&rid=r1"
    assert ping_url("http://127.0.0.1:8000/ping/uuid", "success", "r1") == \
        "http://127.0.0.1:8000/ping/uuid?rid=r1"


def test_ping_retries_a_server_error_then_warns_without_the_url() -> None:
    for receiver in start_receiver():
        receiver.answers["/p"] = 502
        check = Healthcheck(f"{receiver.url}/p/{TOKEN}", pause=0.01)
        problem = check.finish(False, "body")
        assert problem == "healthcheck ping fail not delivered: HTTP 502"
        assert len(receiver.to("/p")) == 3
        receiver.answers["/p"] = 404
        receiver.clear()
        assert check.start() == "healthcheck ping start not delivered: HTTP 404"
        assert len(receiver.to("/p")) == 1  # a refusal is not retried
    closed = Healthcheck(f"http://127.0.0.1:9/{TOKEN}", pause=0.01)
    problem = closed.start()
    assert problem is not None and TOKEN not in problem and "refused" in problem.lower()


def test_shipped_alerting_rules_name_only_metrics_we_write() -> None:
    import re

    import yaml

    from backupcheck.report.prometheus import BY_NAME

    root = Path(__file__).resolve().parent.parent
    rules = yaml.safe_load((root / "docs/alerting/backupcheck.rules.yml").read_text())
    (group,) = rules["groups"]
    assert group["rules"]
    for rule in group["rules"]:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        names = set(re.findall(r"backupcheck_\w+", rule["expr"]))
        assert names and names <= set(BY_NAME), rule["alert"]
        statuses = set(re.findall(r'status="(\w+)"', rule["expr"]))
        assert statuses <= {"pass", "warn", "error", "fail", "muted"}
    documented = (root / "docs/alerts-and-metrics.md").read_text() + \
        (root / "docs/reference.md").read_text()
    for name in BY_NAME:
        assert name.removeprefix("backupcheck_restore") in documented, name
