"""Alerts and metrics where MSPs already look: the node_exporter textfile, a Pushgateway,
Apprise notifications and healthchecks-style pings, all to a receiver on 127.0.0.1.

The estate: client ``acme`` with an object-locked S3 bucket (everything right, digests in
the object metadata) and a plain bucket (no versioning, no lock: failing), client ``globex``
with a restic repository on local disk (a warning: local storage is not immutable). One drill
with every alert configured runs once for the module; the other tests run ``verify``.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xxhash
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import S3Server, run_cli, statuses, write_client
from tests.loopback_http import Receiver, start_receiver
from tests.restic_helpers import init_local_repo, make_tree, target_toml
from tests.test_drill_s3 import make_bucket

ROOT = Path(__file__).resolve().parent.parent
HC = "/hc/0b7e3c1e-5f3a-4d61-9c4e-6f1d2a9b8c7d"
TOKEN = "T0KEN-alerts-do-not-show"
TARGETS = {("acme", "acme-locked"), ("acme", "acme-open"), ("globex", "globex")}
SPEC_METRICS = ("backupcheck_restore_throughput_bytes_per_second",
                "backupcheck_estimated_full_restore_seconds", "backupcheck_rto_seconds",
                "backupcheck_coverage_ratio", "backupcheck_last_run_timestamp_seconds")
STATUS_VALUES = {"pass", "warn", "error", "fail", "muted"}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    yield from start_receiver()


@pytest.fixture(scope="module")
def estate(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("alerts")
    s3 = s3_server.client()
    rng = random.Random(19)
    make_bucket(s3, "alerts-locked")
    s3.create_bucket(Bucket="alerts-open")
    for i in range(6):
        data = rng.randbytes(rng.randint(1, 20_000))
        s3.put_object(Bucket="alerts-locked", Key=f"b/f{i}.bin", Body=data,
                      Metadata={"xxh3-128": xxhash.xxh3_128(data).hexdigest()},
                      ChecksumAlgorithm="SHA256")
        s3.put_object(Bucket="alerts-open", Key=f"b/f{i}.bin", Body=data)
    repo = init_local_repo(root / "restic")
    repo.backup(make_tree(root / "data", {"a.txt": b"alpha\n", "b/c.bin": rng.randbytes(9000)}))
    targets = root / "targets"
    write_client(targets, "acme", f'''client = "acme"
rpo = "26h"
rto = "4h"
[[targets]]
name = "acme-locked"
kind = "s3"
bucket = "alerts-locked"
prefix = "b/"
endpoint_url = "{s3_server.url}"
[[targets]]
name = "acme-open"
kind = "s3"
bucket = "alerts-open"
prefix = "b/"
endpoint_url = "{s3_server.url}"
''')
    write_client(targets, "globex", target_toml("globex", repo))
    plan = root / "plan.toml"
    plan.write_text('name = "alerts"\nfiles = 4\nmax_bytes = "1GiB"\nread_data_subset = ""\n'
                    'jobs = 2\n', encoding="utf-8")
    return {"root": root, "targets": targets, "plan": plan}


def settings_file(directory: Path, body: str, urls: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if urls:
        (directory / "notify.urls").write_text(urls, encoding="utf-8")
    path = directory / "backupcheck.toml"
    path.write_text(body, encoding="utf-8")
    return path


def notify_url(receiver: Receiver, route: str = "/notify") -> str:
    return f"json://{receiver.url.removeprefix('http://')}{route}/{TOKEN}"


def verify(estate: dict[str, Any], settings: Path | None, *extra: str) -> Any:
    args = ["verify", "--targets", str(estate["targets"]), "--plan", str(estate["plan"])]
    return run_cli(*args, *(["--settings", str(settings)] if settings else []), *extra)


def metric_samples(path: Path) -> dict[str, list[Any]]:
    text = path.read_text(encoding="utf-8")
    return {family.name: list(family.samples)
            for family in text_string_to_metric_families(text)}


# ---------------------------------------------------------------- one drill, every alert


@pytest.fixture(scope="module")
def drilled(estate: dict[str, Any], receiver: Receiver) -> dict[str, Any]:
    """A drill with the textfile, the Pushgateway, a notification and a healthcheck."""
    directory = estate["root"] / "drill-settings"
    settings = settings_file(directory, f'''
[notify]
urls_file = "notify.urls"
healthcheck_url = "{receiver.url}{HC}"

[metrics]
textfile = "out/backupcheck.prom"
pushgateway = "{receiver.url}"
''', urls=f"# the team's channel\n{notify_url(receiver)}\n")
    (directory / "out").mkdir()
    receiver.clear()
    result = run_cli("drill", "--targets", str(estate["targets"]), "--plan",
                     str(estate["plan"]), "--history", str(estate["root"] / "history"),
                     "--settings", str(settings), "--format", "json")
    requests = list(receiver.requests)
    receiver.clear()
    return {"result": result, "requests": requests,
            "textfile": directory / "out" / "backupcheck.prom"}


def test_drill_result_is_unchanged_by_its_alerts(drilled: dict[str, Any]) -> None:
    result = drilled["result"]
    assert result.exit_code == 1, result.stderr
    assert "warning" not in result.stderr
    document = result.json()
    assert document["status"] == "fail"
    assert statuses(document, "acme-open")["s3.object_lock"] == "fail"
    assert statuses(document, "acme-locked")["restore.sample"] == "pass"


def test_textfile_carries_every_spec_metric_for_every_target(drilled: dict[str, Any]) -> None:
    samples = metric_samples(drilled["textfile"])
    for name in SPEC_METRICS:
        assert {(s.labels["client"], s.labels["target"]) for s in samples[name]} == TARGETS, name
    status = samples["backupcheck_check_status"]
    by_check: dict[tuple[str, str, str], dict[str, float]] = {}
    for s in status:
        key = (s.labels["client"], s.labels["target"], s.labels["check"])
        by_check.setdefault(key, {})[s.labels["status"]] = s.value
    assert {(c, t) for c, t, _ in by_check} == TARGETS
    for key, values in by_check.items():
        assert set(values) == STATUS_VALUES, key
        assert sorted(values.values()) == [0, 0, 0, 0, 1], key
    assert by_check[("acme", "acme-open", "s3.object_lock")]["fail"] == 1
    assert by_check[("globex", "globex", "restic.storage.immutable")]["warn"] == 1
    rto = {s.labels["target"]: s.value for s in samples["backupcheck_rto_seconds"]}
    assert rto["globex"] == 4 * 3600
    assert all(0 <= s.value <= 1 for s in samples["backupcheck_coverage_ratio"])
    # no temporary file or lock left where the collector reads *.prom
    assert [p.name for p in drilled["textfile"].parent.glob("*.prom")] == ["backupcheck.prom"]


def test_pushgateway_gets_one_push_per_client(drilled: dict[str, Any]) -> None:
    pushes = [r for r in drilled["requests"] if r.route.startswith("/metrics/")]
    assert sorted(r.route for r in pushes) == ["/metrics/job/backupcheck/client/acme",
                                               "/metrics/job/backupcheck/client/globex"]
    assert {r.method for r in pushes} == {"POST"}  # replaces only the families it pushes
    for push in pushes:
        client = push.route.rsplit("/", 1)[1]
        families = {f.name: f for f in text_string_to_metric_families(push.body.decode())}
        assert {s.labels["client"] for s in families["backupcheck_check_status"].samples} == {
            client}
        assert "backupcheck_estimated_full_restore_seconds" in families


def test_one_notification_worst_client_first(drilled: dict[str, Any]) -> None:
    notes = [r for r in drilled["requests"] if r.route.startswith("/notify")]
    assert len(notes) == 1
    payload = notes[0].json()
    assert payload["type"] == "failure"
    assert payload["title"].startswith("backupcheck drill FAIL: 1 of 2 clients need attention")
    lines = payload["message"].splitlines()
    assert lines[0] == "FAIL acme"
    assert any(line.startswith("- FAIL acme-open s3.object_lock: ") for line in lines)
    assert "globex" not in payload["message"]  # a warning is not what `on` asks for
    assert len(payload["title"]) + len(payload["message"]) < 2000


def test_healthcheck_start_then_fail(drilled: dict[str, Any]) -> None:
    pings = [r for r in drilled["requests"] if r.route.startswith(HC)]
    assert [r.route for r in pings] == [f"{HC}/start", f"{HC}/fail"]
    assert pings[0].query == pings[1].query and pings[0].query.startswith("rid=")
    assert b"acme-open s3.object_lock" in pings[1].body
    order = [r.route.split("/")[1] for r in drilled["requests"]]
    assert order[0] == "hc" and order[-1] == "hc"  # start first, the end after everything


# ---------------------------------------------------------------- outcomes and failures


def test_success_pings_the_url_itself_and_does_not_notify(estate: dict[str, Any],
                                                          receiver: Receiver) -> None:
    settings = settings_file(estate["root"] / "ok", f'''
[notify]
urls_file = "notify.urls"
healthcheck_url = "{receiver.url}{HC}/"
''', urls=notify_url(receiver) + "\n")
    receiver.clear()
    result = verify(estate, settings, "--client", "globex")
    assert result.exit_code == 0, result.stderr  # a warning only
    assert [r.route for r in receiver.requests] == [f"{HC}/start", HC]


def test_warn_notifies_when_on_asks_for_it(estate: dict[str, Any], receiver: Receiver) -> None:
    settings = settings_file(estate["root"] / "on-warn", '[notify]\nurls_file = "notify.urls"\n'
                             'on = ["warn"]\n', urls=notify_url(receiver) + "\n")
    receiver.clear()
    result = verify(estate, settings, "--client", "globex")
    assert result.exit_code == 0
    (note,) = receiver.to("/notify")
    assert note.json()["type"] == "warning"
    assert "- WARN globex restic.storage.immutable: " in note.json()["message"]


def test_undeliverable_alerts_are_warnings_never_an_exit_code(
        estate: dict[str, Any], receiver: Receiver) -> None:
    receiver.answers.update({"/broken": 500, HC: 503})
    dead = "json://127.0.0.1:9/nobody-listens/" + TOKEN
    try:
        settings = settings_file(estate["root"] / "broken", f'''
[notify]
urls_file = "notify.urls"
healthcheck_url = "{receiver.url}{HC}"
[metrics]
pushgateway = "{receiver.url}/broken"
''', urls=f"{notify_url(receiver, '/broken')}\n{dead}\n")
        result = verify(estate, settings, "--client", "acme", "--format", "json")
    finally:
        receiver.answers.clear()
    assert result.exit_code == 1  # the run's own verdict
    assert result.json()["status"] == "fail"
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert "backupcheck: warning: healthcheck ping start not delivered: HTTP 503" in warnings
    assert any("notification not delivered: urls_file line 1 (JSON)" in w for w in warnings)
    assert any("notification not delivered: urls_file line 2 (JSON)" in w for w in warnings)
    assert any("metrics of client acme not pushed to the Pushgateway" in w for w in warnings)
    assert any("healthcheck ping fail not delivered" in w for w in warnings)
    assert TOKEN not in result.stderr and HC not in result.stderr


def test_full_report_path_is_in_the_notification(estate: dict[str, Any], receiver: Receiver,
                                                 tmp_path: Path) -> None:
    """A cron job's ``verify > FILE``: the message says where the whole report is."""
    settings = settings_file(tmp_path, '[notify]\nurls_file = "notify.urls"\n',
                             urls=notify_url(receiver) + "\n")
    report = tmp_path / "verify.json"
    receiver.clear()
    with report.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "backupcheck", "verify", "--targets", str(estate["targets"]),
             "--client", "acme", "--settings", str(settings), "--format", "json"],
            stdout=out, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    (note,) = receiver.to("/notify")
    assert note.json()["message"].splitlines()[-1] == f"full report: {report}"


# ---------------------------------------------------------------- mutes


def test_muted_check_shows_muted_in_json_table_and_metrics(estate: dict[str, Any],
                                                           tmp_path: Path) -> None:
    settings = settings_file(tmp_path, '''
[metrics]
textfile = "muted.prom"
[mute]
"acme/acme-open/s3.object_lock" = { reason = "legacy bucket, replaced in Q3", until = 2099-12-31 }
''')
    result = verify(estate, settings, "--client", "acme", "--checks", "s3.object_lock",
                    "--format", "json")
    assert result.exit_code == 0, result.stderr  # muted counts as pass
    document = result.json()
    assert document["status"] == "pass"
    check = next(c for t in document["clients"][0]["targets"] if t["target"] == "acme-open"
                 for c in t["checks"])
    assert check["status"] == "muted"
    assert check["muted"] == {"reason": "legacy bucket, replaced in Q3", "until": "2099-12-31",
                              "status": "fail"}
    samples = metric_samples(tmp_path / "muted.prom")["backupcheck_check_status"]
    current = {(s.labels["target"], s.labels["status"]) for s in samples if s.value == 1}
    assert current == {("acme-locked", "pass"), ("acme-open", "muted")}

    table = verify(estate, settings, "--client", "acme", "--checks", "s3.object_lock")
    assert table.exit_code == 0
    assert "MUTED" in table.stdout
    assert "muted until 2099-12-31: legacy bucket, replaced in Q3" in table.stdout
    assert "overall: PASS" in table.stdout


def test_expired_mute_is_a_config_error_and_the_finding_is_itself(estate: dict[str, Any],
                                                                  tmp_path: Path) -> None:
    settings = settings_file(tmp_path, '''[mute]
"acme/acme-open/s3.object_lock" = { reason = "was accepted", until = "2020-01-31" }
"globex/globex/restic.keys" = { reason = "nothing to hide", until = 2020-02-01 }
''')
    result = verify(estate, settings, "--checks", "s3.object_lock,restic.keys",
                    "--format", "json")
    assert result.exit_code == 1  # the failure comes back, and 1 < 2 wins
    assert statuses(result.json(), "acme-open") == {"s3.object_lock": "fail"}
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert f'{settings}:2: mute."acme/acme-open/s3.object_lock": expired on 2020-01-31' in \
        " ".join(errors)
    assert f'{settings}:3: mute."globex/globex/restic.keys": expired on 2020-02-01' in \
        " ".join(errors)

    # nothing failing: the expired entry alone makes it exit 2
    only = verify(estate, settings, "--client", "globex", "--checks", "restic.keys")
    assert only.exit_code == 2
    assert "expired on 2020-02-01" in only.stderr


@pytest.mark.parametrize(("entry", "message"), [
    ('"acme/acme-open" = { reason = "x", until = 2099-01-01 }', "named client/target/check"),
    ('"acme/acme-open/s3.nope" = { reason = "x", until = 2099-01-01 }', "no such check"),
    ('"nobody/acme-open/s3.versioning" = { reason = "x", until = 2099-01-01 }',
     "no such client 'nobody'"),
    ('"acme/gone/s3.versioning" = { reason = "x", until = 2099-01-01 }', "has no target 'gone'"),
    ('"globex/globex/s3.versioning" = { reason = "x", until = 2099-01-01 }',
     "not a check of restic target"),
    ('"acme/acme-open/s3.versioning" = { until = 2099-01-01 }', "reason: required key"),
    ('"acme/acme-open/s3.versioning" = { reason = "  ", until = 2099-01-01 }', "say why"),
    ('"acme/acme-open/s3.versioning" = { reason = "x" }', "until: required key"),
    ('"acme/acme-open/s3.versioning" = { reason = "x", until = "next week" }', "a date like"),
    ('"acme/acme-open/s3.versioning" = { reason = "x", until = 2099-01-01, by = "me" }',
     "by: unknown key"),
    ('"acme/acme-open/s3.versioning" = "accepted"', "expected a table"),
    ('"acme/acme-open/config" = { reason = "x", until = 2099-01-01 }', "cannot be muted"),
])
def test_malformed_mute_stops_with_exit_2_naming_it(estate: dict[str, Any], tmp_path: Path,
                                                    entry: str, message: str) -> None:
    settings = settings_file(tmp_path, f"# accepted risks\n[mute]\n{entry}\n")
    # even a run of another client checks every entry
    result = verify(estate, settings, "--client", "globex")
    assert result.exit_code == 2, result.stderr
    assert f"{settings}:3: mute." in result.stderr
    assert message in result.stderr


def test_inventory_checks_the_settings_too(estate: dict[str, Any], tmp_path: Path) -> None:
    settings = settings_file(tmp_path, '[metrics]\ntextfile = "x.txt"\n')
    result = run_cli("inventory", "--targets", str(estate["targets"]), "--settings",
                     str(settings))
    assert result.exit_code == 2
    assert f"{settings}:2: metrics.textfile: " in result.stderr
    missing = run_cli("verify", "--targets", str(estate["targets"]), "--settings",
                      str(tmp_path / "nope.toml"))
    assert missing.exit_code == 2 and "settings file not found" in missing.stderr


# ---------------------------------------------------------------- choosing checks


def test_checks_glob_selects_and_skips_targets_without_one(estate: dict[str, Any]) -> None:
    result = verify(estate, None, "--checks", "s3.object_lock*", "--format", "json")
    assert result.exit_code == 1
    document = result.json()
    assert [c["client"] for c in document["clients"]] == ["acme"]  # no restic opened
    assert set(statuses(document, "acme-open")) == {"s3.object_lock", "s3.object_lock.mode",
                                                    "s3.object_lock.retention"}


def test_exclude_checks(estate: dict[str, Any]) -> None:
    result = verify(estate, None, "--client", "globex", "--exclude-checks",
                    "restic.storage.*,restic.integrity", "--format", "json")
    assert result.exit_code == 0
    ids = set(statuses(result.json(), "globex"))
    assert "restic.storage.immutable" not in ids and "restic.integrity" not in ids
    assert "restic.keys" in ids


@pytest.mark.parametrize("args", [
    ("--checks", "s3.versionin"),
    ("--checks", "s4.*"),
    ("--exclude-checks", "restic.nope"),
    ("--checks", "s3.versioning,"),
    ("--checks", "restore.*"),  # verify restores nothing
    ("--checks", "s3.versioning", "--exclude-checks", "s3.*"),
])
def test_unknown_or_empty_selection_is_exit_2(estate: dict[str, Any],
                                              args: tuple[str, ...]) -> None:
    result = verify(estate, None, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("backupcheck: error: --")


def test_drill_checks_restore_only(estate: dict[str, Any], tmp_path: Path) -> None:
    result = run_cli("drill", "--targets", str(estate["targets"]), "--client", "acme",
                     "--plan", str(estate["plan"]), "--no-history", "--format", "json",
                     "--checks", "restore.sample")
    assert result.exit_code == 0, result.stderr
    document = result.json()
    assert statuses(document, "acme-locked") == {"restore.sample": "pass"}
    assert statuses(document, "acme-open") == {"restore.sample": "warn"}  # no digests there
    assert "restore" in document["clients"][0]["targets"][0]


def test_list_checks_names_every_registered_check() -> None:
    from backupcheck.checks.registry import CHECKS

    listed = run_cli("list-checks", "--format", "json")
    assert listed.exit_code == 0
    document = listed.json()
    assert document["schema"] == "backupcheck.checks/1"
    assert [c["id"] for c in document["checks"]] == [c.id for c in CHECKS]
    assert all(set(c) >= {"id", "severity", "fails_on", "controls"} for c in document["checks"])
    table = run_cli("list-checks")
    assert table.exit_code == 0
    for spec in CHECKS:
        assert spec.id in table.stdout
