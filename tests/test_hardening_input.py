"""Hostile input: names from backups, fuzzed configuration, broken manifests, a lying restic.

Object keys and file names come from backups an attacker may control; configuration comes
from people who make typos; a manifest or a restic binary may be broken or replaced. None of
it may be interpreted (by a terminal, rich, an XML or HTML reader), crash the tool, or stop
the other targets: every output escapes it, every bad client file or plan is one line and
exit 2, and a broken manifest is its own target's ``restore.sample`` problem.
"""

from __future__ import annotations

import json
import math
import os
import re
import string
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xxhash
from botocore.retries.standard import ExponentialBackoff
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from backupcheck.manifest.build import build_manifest
from backupcheck.report.text import visible
from tests.conftest import S3Server, run_cli, statuses, target_of, write_client
from tests.faultproxy import FaultProxy, fake_restic
from tests.restic_helpers import init_local_repo, make_tree, target_toml

#: bytes a terminal acts on: ESC, BEL, CR, BS, the 8-bit CSI, bidi overrides
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

#: restic file names (a file system holds them all); ``/`` makes the last two directories
HOSTILE_FILES = {
    "nl\nline.txt": b"newline",
    "esc\x1b[31mred\x1b[0m.txt": b"csi",
    "title\x1b]0;pwned\x07.txt": b"osc",
    "cr\rback\x08space.txt": b"cr",
    "c1\x9b31mcsi.txt": b"c1",
    "bidi\u202etxt.exe": b"bidi",
    "[red]x[/].txt": b"markup",
    "[link=https:evil.example]click[/link].txt": b"link",
    "<script>alert(1)</script>.txt": b"html",
}
#: S3 keys moto can list (its ListObjectVersions breaks on C0 controls; real S3 does not,
#: and botocore asks for url-encoded listings, so any key round-trips there)
HOSTILE_KEYS = ["[red]x[/].bin", "[link=https://evil.example]click[/link].bin",
                "<script>alert(1)</script>.bin", "c1\x9b31mcsi.bin", "bidi\u202etxt.exe",
                "tab\there.bin", "amp&quot;\"'.bin"]


def assert_inert(output: str) -> None:
    """Nothing in ``output`` a terminal would act on."""
    found = RAW_CONTROLS.findall(output)
    assert not found, sorted({hex(ord(c)) for c in found})


def plan_file(directory: Path, files: int = 50) -> Path:
    """Every file sampled, all at once (each restic dump derives the key: ~0.3 s)."""
    path = directory / "plan.toml"
    path.write_text(f'name = "hostile"\nfiles = {files}\nmax_bytes = "1GiB"\n'
                    'read_data_subset = ""\njobs = 12\n', encoding="utf-8")
    return path


# ---------------------------------------------------------------- hostile restic file names


@pytest.fixture(scope="module")
def hostile_restic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository whose hostile files all differ from their manifest (so all are
    problems), with one honest file, and its targets directory. Their bytes change under the
    size and mtime the manifest recorded: a file that changed after the manifest would only
    be unproven, a silently altered one is a digest mismatch."""
    root = tmp_path_factory.mktemp("hostile-restic")
    source = make_tree(root / "data", {**HOSTILE_FILES, "honest.txt": b"honest\n"})
    build_manifest(source, root / "manifest.parquet", workers=1)
    for name, data in HOSTILE_FILES.items():
        before = (source / name).stat().st_mtime_ns
        (source / name).write_bytes(bytes(b ^ 0x20 for b in data))
        os.utime(source / name, ns=(before, before))
    repo = init_local_repo(root)
    repo.backup(source)
    write_client(root / "targets", "hostile", target_toml(
        "hostile", repo, extra=f'manifest = "{root / "manifest.parquet"}"\n'))
    return root


def test_restic_file_names_are_escaped_in_json_and_table(hostile_restic: Path) -> None:
    args = ["drill", "--targets", str(hostile_restic / "targets"), "--no-history",
            "--plan", str(plan_file(hostile_restic))]
    as_json = run_cli(*args, "--format", "json")
    assert as_json.exit_code == 1, as_json.stdout + as_json.stderr
    assert_inert(as_json.stdout)
    restore = target_of(json.loads(as_json.stdout), "hostile")["restore"]
    # the exact names round-trip through JSON, escapes and all
    assert {f["path"] for f in restore["files"]} == {*HOSTILE_FILES, "honest.txt"}
    assert {p["path"] for p in restore["problems"]} == set(HOSTILE_FILES)
    assert {p["reason"] for p in restore["problems"]} == {"digest"}

    table = run_cli(*args)
    assert table.exit_code == 1
    assert_inert(table.stdout)
    assert_inert(table.stderr)
    flat = re.sub(r"[\s│┃|]+", "", table.stdout)  # the table may fold long names
    for name in HOSTILE_FILES:
        assert re.sub(r"\s+", "", visible(name)) in flat, name
    assert "[red]x[/].txt" in table.stdout  # markup shown, not applied
    assert not any(line.lstrip("│┃ ").startswith("line.txt")
                   for line in table.stdout.splitlines())  # no raw newline split a row


# ---------------------------------------------------------------- hostile S3 keys


@pytest.fixture(scope="module")
def hostile_bucket(s3_server: S3Server) -> dict[str, Any]:
    s3 = s3_server.client()
    bucket = "hardening-hostile-keys"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    bodies = {}
    for index, key in enumerate(HOSTILE_KEYS):
        body = f"object {index}\n".encode()
        bodies[key] = body
        # a digest that does not match: every hostile key becomes a drill problem
        s3.put_object(Bucket=bucket, Key=f"in/{key}", Body=body,
                      Metadata={"xxh3-128": "0" * 32})
    s3.put_object(Bucket=bucket, Key="in/honest.bin", Body=b"honest",
                  Metadata={"xxh3-128": xxhash.xxh3_128(b"honest").hexdigest()})
    return {"bucket": bucket, "bodies": bodies}


def s3_client_file(targets: Path, endpoint: str, bucket: str, *, target: str = "keys",
                   client: str = "hostile") -> Path:
    return write_client(targets, client, f'''
client = "{client}"
rpo = "26h"
rto = "4h"
[policy]
object_lock_mode = "any"
[[targets]]
name = {json.dumps(target)}
kind = "s3"
bucket = "{bucket}"
prefix = "in/"
endpoint_url = "{endpoint}"
''')


def test_s3_keys_round_trip_in_json_and_show_escaped_in_the_table(
        tmp_path: Path, s3_server: S3Server, hostile_bucket: dict[str, Any]) -> None:
    targets = tmp_path / "targets"
    s3_client_file(targets, s3_server.url, hostile_bucket["bucket"])
    args = ["drill", "--targets", str(targets), "--no-history", "--plan",
            str(plan_file(tmp_path))]

    as_json = run_cli(*args, "--format", "json")
    assert as_json.exit_code == 1, as_json.stdout + as_json.stderr
    assert_inert(as_json.stdout)
    document = json.loads(as_json.stdout)
    restore = target_of(document, "keys")["restore"]
    assert {p["path"] for p in restore["problems"]} == set(HOSTILE_KEYS)
    unlocked = {c["id"]: c for c in target_of(document, "keys")["checks"]}["s3.objects.locked"]
    assert set(unlocked["evidence"]["unlocked_examples"]) <= {
        f"in/{k}" for k in [*HOSTILE_KEYS, "honest.bin"]}

    table = run_cli(*args)
    assert_inert(table.stdout)
    flat = re.sub(r"[\s│┃|]+", "", table.stdout)
    for key in HOSTILE_KEYS:
        assert re.sub(r"\s+", "", visible(key)) in flat, key

    out = tmp_path / "inventory.parquet"
    inventory = run_cli("inventory", "--targets", str(targets), "--format", "json",
                        "--out", str(out))
    assert inventory.exit_code == 0, inventory.stderr
    assert_inert(inventory.stdout)
    keys = set(pq.read_table(out).column("key").to_pylist())
    assert keys == {f"in/{k}" for k in [*HOSTILE_KEYS, "honest.bin"]}


def test_keys_in_check_messages_are_shown_literally(
        tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key inside a message (a HEAD that failed) goes through the rich table's markup
    path: ``[link=…]`` must come out as text, not as a hyperlink, ``[/]`` must not crash."""
    s3 = s3_server.client()
    bucket = "hardening-hostile-locked"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 30}}})
    for key in HOSTILE_KEYS:
        s3.put_object(Bucket=bucket, Key=f"in/{key}", Body=b"locked")
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    proxy = FaultProxy(s3_server.host, s3_server.port)
    try:
        # the retention of the keys with markup cannot be read: named in the message
        proxy.slow_down(lambda r: r.method == "HEAD" and "[" in r.key)
        targets = tmp_path / "targets"
        s3_client_file(targets, proxy.url, bucket)
        table = run_cli("verify", "--targets", str(targets), "--read-data-subset", "")
        as_json = run_cli("verify", "--targets", str(targets), "--format", "json")
    finally:
        proxy.close()
    first = "in/[link=https://evil.example]click[/link].bin"  # in key order, the first
    check = {c["id"]: c for c in target_of(as_json.json(), "keys")["checks"]}[
        "s3.objects.locked"]
    assert check["status"] == "error"
    assert f"could not read retention of 2 objects: {first}: 503" in check["message"]
    assert table.exit_code == 1, table.stdout + table.stderr  # unencrypted: a failure
    assert_inert(table.stdout)
    flat = re.sub(r"[\s│┃|]+", "", table.stdout)
    assert f"couldnotreadretentionof2objects:{first}:503" in flat


def test_audit_html_escapes_keys_and_names(
        tmp_path: Path, s3_server: S3Server, hostile_bucket: dict[str, Any]) -> None:
    targets, history = tmp_path / "targets", tmp_path / "history"
    s3_client_file(targets, s3_server.url, hostile_bucket["bucket"], target=HOSTILE_TARGET)
    drill = run_cli("drill", "--targets", str(targets), "--history", str(history),
                    "--plan", str(plan_file(tmp_path)))
    assert drill.exit_code == 1, drill.stdout + drill.stderr

    audit = run_cli("audit", "--client", "hostile", "--targets", str(targets), "--history",
                    str(history), "--out", str(tmp_path / "pack"))

    assert audit.exit_code in (0, 1), audit.stdout + audit.stderr
    assert_inert(audit.stdout)
    page = (tmp_path / "pack" / "report.html").read_text(encoding="utf-8")
    assert_inert(page)
    assert "<script>alert(1)" not in page  # no key or name became markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.bin" in page  # the key, shown as text
    assert "[red]x[/].bin" in page
    assert "evil\\x1b[31m&lt;script&gt;" in page  # the target name: visible, then escaped
    evidence = json.loads((tmp_path / "pack" / "report.json").read_text(encoding="utf-8"))
    assert evidence["clients"][0]["targets"][0]["target"] == HOSTILE_TARGET  # exact


# ---------------------------------------------------------------- hostile target names: trend

HOSTILE_TARGET = "evil\x1b[31m<script>alert(1)</script>[red]x[/]|*_`\n&amp;"


def test_target_names_are_escaped_in_trend_and_history(
        tmp_path: Path, s3_server: S3Server, hostile_bucket: dict[str, Any]) -> None:
    targets = tmp_path / "targets"
    s3_client_file(targets, s3_server.url, hostile_bucket["bucket"], target=HOSTILE_TARGET)
    history = tmp_path / "history"
    drill = run_cli("drill", "--targets", str(targets), "--history", str(history),
                    "--plan", str(plan_file(tmp_path, files=2)))
    assert drill.exit_code == 1, drill.stdout + drill.stderr
    assert_inert(drill.stdout)

    junit = run_cli("trend", "--history", str(history), "--format", "junit")
    assert_inert(junit.stdout)
    root = ET.fromstring(junit.stdout.encode())
    names = [case.get("name") for case in root.iter("testcase")]
    assert names == [visible(HOSTILE_TARGET)]
    assert not root.findall(".//script")  # the markup is text, not elements

    markdown = run_cli("trend", "--history", str(history), "--format", "markdown")
    assert_inert(markdown.stdout)
    assert "<script>" not in markdown.stdout
    rows = [line for line in markdown.stdout.splitlines() if line.startswith("| ")]
    header, data = rows[0], rows[-1]
    cells = re.split(r"(?<!\\)\|", data)
    assert len(cells) == len(re.split(r"(?<!\\)\|", header))  # no cell broke out

    as_json = run_cli("trend", "--history", str(history), "--format", "json")
    assert [t["target"] for t in json.loads(as_json.stdout)["trends"]] == [HOSTILE_TARGET]
    assert_inert(as_json.stdout)
    for command in (["trend"], ["history"], ["history", "--format", "json"]):
        result = run_cli(*command, "--history", str(history))
        assert result.exit_code in (0, 1), result.stderr
        assert_inert(result.stdout)
    history_json = run_cli("history", "--history", str(history), "--format", "json")
    assert [r["target"] for r in json.loads(history_json.stdout)["runs"]] == [HOSTILE_TARGET]


# ---------------------------------------------------------------- config fuzzing

#: per key: (values that pass validation, values that do not). Only safe values: a fuzzed
#: config must never reach a real network or run anything but restic on a missing local
#: repository (restic retries an unreachable REST or S3 server for minutes).
FIELDS: dict[str, tuple[list[Any], list[Any]]] = {
    "client": (["acme", "a.b-c_d"], ["x" * 129, "bad name", ""]),
    "rpo": (["26h", "1d", "30s", "2w"], ["0s", "-1h", "1e999h", "soon"]),
    "rto": (["4h", "90m", "7d"], ["", "never"]),
    "object_lock_mode": (["COMPLIANCE", "GOVERNANCE", "any"], ["compliance"]),
    "min_retention_days": ([0, 30, 365], [-1]),
    "encryption": (["any", "AES256", "aws:kms"], ["none"]),
    "kms_key_id": (["", "arn:aws:kms:us-east-1:111122223333:key/k"], []),
    "max_restic_keys": ([1, 2], [0]),
    "min_snapshots": ([0, 1, 5], [-3]),
    "name": (["t1", "t2", "t3", "t\x1b[31m<b>[red]"], ["", " "]),
    # invalid S3 bucket names pass the config (any provider's rules) and fail in botocore
    "bucket": (["hardening-fuzz", "Bad_Bucket!", "a" * 70], [""]),
    "prefix": (["", "backup/", "a b/"], []),
    "endpoint_url": (["http://127.0.0.1:1", "http://127.0.0.1:1/path"],
                     ["ftp://x", "127.0.0.1:1", ""]),
    "region": (["us-east-1", "eu-central-1"], ["not a region!", "", "x" * 70]),
    "profile": (["nope", "default"], []),
    "manifest": (["/nonexistent/m.parquet"], []),
    "repository": (["/nonexistent/restic-repo", "relative/repo"], [""]),
    "password_file": (["/nonexistent/pass", "/etc/hostname"], [""]),
    "password_command": (["false", "cat /nonexistent"], [""]),
    "password_env": (["BC_FUZZ_UNSET", "PATH"], [""]),
    "env": ([{}, {"AWS_PROFILE": "x"}, {"HOME": "/tmp", "LANG": "C"}],
            [{"A=B": "1"}, {"": "x"}, {"AWS_SECRET_ACCESS_KEY": "x"}, {"X": 1}]),
    "host": (["fs1"], []),
    "paths": ([["/srv"], []], [[1], "/srv"]),
    "tags": ([["daily"], []], [[True]]),
    "source": (["/nonexistent/src"], []),
    "files": ([1, 20], [0]),
    "max_bytes": (["2GiB", "500MB", "1e30GiB"], ["0", "-1", "2 Gremlins"]),
    "read_data_subset": (["2%", "", "1/5", "500M", "200%"], ["lots"]),
    "include_newest": ([True, False], []),
    "snapshot": (["latest", "random-within:30d"], ["random-within:", "newest"]),
    "prefer_unverified": ([True, False], []),
    "jobs": ([1, 4], [0]),
}
REQUIRED = {"client", "rpo", "rto", "name", "kind", "bucket", "repository"}
PASSWORDS = ("password_file", "password_command", "password_env")
SCALARS = st.one_of(st.text(max_size=12), st.integers(min_value=-2**70, max_value=2**70),
                    st.booleans(), st.floats(allow_nan=True, allow_infinity=True))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)
#: keys whose strings reach restic or S3: junk for them is typed junk, never free text
_UNSAFE_RAW = {"endpoint_url", "repository", "password_command", "env"}
SAFE_JUNK = st.one_of(st.integers(), st.booleans(), st.lists(st.text(max_size=3), max_size=2))


def _table(keys: list[str], clean: bool) -> st.SearchStrategy[dict[str, Any]]:
    """A table of ``keys``. Clean: valid values only, optional keys sometimes left out, so
    the document gets past validation into a run. Noisy: keys dropped, invalid or junk
    values, unknown keys: the document exercises validation."""
    @st.composite
    def build(draw: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        for key in keys:
            valid, invalid = FIELDS[key]
            if clean:
                if key in REQUIRED or draw(st.booleans()):
                    doc[key] = draw(st.sampled_from(valid))
                continue
            choice = draw(st.sampled_from(["valid", "valid", "valid", "invalid", "junk",
                                           "missing"]))
            if choice == "missing":
                continue
            if choice == "junk":
                doc[key] = draw(SAFE_JUNK if key in _UNSAFE_RAW else VALUES)
            else:
                doc[key] = draw(st.sampled_from(invalid or valid) if choice == "invalid"
                                else st.sampled_from(valid))
        if not clean and draw(st.integers(0, 3)) == 3:
            doc[draw(st.text(min_size=1, max_size=8))] = draw(VALUES)
        return doc
    return build()


S3_KEYS = ["name", "bucket", "prefix", "endpoint_url", "region", "profile", "manifest"]
RESTIC_KEYS = ["name", "repository", "env", "host", "paths", "tags", "manifest", "source"]
POLICY_KEYS = ["object_lock_mode", "min_retention_days", "encryption", "kms_key_id",
               "max_restic_keys", "min_snapshots"]
PLAN_KEYS = ["name", "files", "max_bytes", "read_data_subset", "include_newest", "snapshot",
             "prefer_unverified", "jobs"]


@st.composite
def client_documents(draw: Any) -> dict[str, Any]:
    clean: bool = draw(st.booleans())
    doc: dict[str, Any] = draw(_table(["client", "rpo", "rto"], clean))
    if draw(st.booleans()):
        doc["policy"] = draw(_table(POLICY_KEYS, clean))
    targets = []
    names = iter(["t1", "t2", "t3"])
    for _ in range(draw(st.integers(1 if clean else 0, 3))):
        kind = draw(st.sampled_from(["s3", "restic"]))
        target = {"kind": kind, **draw(_table(S3_KEYS if kind == "s3" else RESTIC_KEYS,
                                              clean))}
        if kind == "restic":
            chosen = draw(st.sampled_from(PASSWORDS))
            passwords = draw(_table([chosen] if clean else list(PASSWORDS), clean))
            target.update(passwords)
        if clean:
            target["name"] = next(names)  # unique, as the config requires
        elif draw(st.integers(0, 5)) == 5:
            target["kind"] = draw(st.sampled_from(["ftp", "", "S3", 3]))
        targets.append(target)
    if targets or draw(st.booleans()):
        doc["targets"] = targets
    return doc


@st.composite
def plan_documents(draw: Any) -> dict[str, Any]:
    return dict(draw(_table(PLAN_KEYS, draw(st.booleans()))))


def toml_value(value: Any) -> str:
    """A tiny TOML writer: enough for the values the strategies above make."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        # JSON escapes are TOML escapes (raw non-ASCII: TOML has no surrogate pairs); DEL
        # must be escaped in TOML, not in JSON
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_value(str(k))} = {toml_value(v)}"
                                for k, v in value.items()) + " }"
    raise TypeError(value)


def to_toml(doc: Mapping[str, Any]) -> str:
    lines = [f"{toml_value(k)} = {toml_value(v)}" for k, v in doc.items()
             if k not in ("policy", "targets") or not isinstance(v, (dict, list))]
    if isinstance(doc.get("policy"), dict):
        lines.append("[policy]")
        lines += [f"{toml_value(k)} = {toml_value(v)}" for k, v in doc["policy"].items()]
    if isinstance(doc.get("targets"), list):
        for target in doc["targets"]:
            lines.append("[[targets]]")
            lines += [f"{toml_value(k)} = {toml_value(v)}" for k, v in target.items()]
    return "\n".join(lines) + "\n"


TOMLISH = st.lists(st.one_of(
    st.sampled_from(["[policy]", "[[targets]]", "[targets]", "[[policy]]", "client = \"acme\"",
                     'rpo = "26h"', 'rto = "4h"', 'kind = "s3"', 'name = "t"', "bucket = 7",
                     'endpoint_url = "http://127.0.0.1:1"', "env = { A = 1 }", "x = [1, [2]]",
                     '"quoted key" = "v"', "a.b.c = 1", "= 1", "[", "'''", "#", ""]),
    st.builds(lambda k, v: f"{k} = {v}", st.sampled_from(["client", "rpo", "rto", "name",
                                                           "kind", "bucket", "policy"]),
              st.text(max_size=10)),
    st.text(max_size=30)), max_size=12).map("\n".join)


@pytest.fixture
def isolated_aws() -> Iterator[None]:
    """No way for a fuzzed config to reach a real endpoint or a real profile; fast retries."""
    with mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL": "http://127.0.0.1:1",
                                      "AWS_CONFIG_FILE": "/nonexistent/aws-config",
                                      "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-creds"}), \
            mock.patch.object(ExponentialBackoff, "delay_amount", lambda self, context: 0.0):
        yield


def check_run(client_text: str | bytes, plan_text: str | bytes | None = None) -> None:
    """``verify`` on one fuzzed client file (and plan): the SPEC's exit codes, one clean line
    for bad configuration, never a traceback or an internal error."""
    with tempfile.TemporaryDirectory() as tmp:
        targets = Path(tmp) / "targets"
        targets.mkdir()
        client = targets / "fuzz.toml"
        client.write_bytes(client_text if isinstance(client_text, bytes)
                           else client_text.encode("utf-8", "surrogatepass"))
        args = ["verify", "--targets", str(targets), "--format", "json"]
        plan = Path(tmp) / "plan.toml"
        if plan_text is not None:
            plan.write_bytes(plan_text if isinstance(plan_text, bytes)
                             else plan_text.encode("utf-8", "surrogatepass"))
            args += ["--plan", str(plan)]
        result = run_cli(*args)  # catch_exceptions=False: an uncaught exception fails here
    event(f"exit {result.exit_code}")  # --hypothesis-show-statistics: how deep inputs got
    if result.exit_code == 2:
        event(re.sub(r"^.*?\.toml(:\d+)?: ", "", result.stderr)[:40])
    assert result.exit_code in (0, 1, 2, 3), (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stdout + result.stderr, result.stderr
    assert_inert(result.stderr)
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("backupcheck: error: "), result.stderr
        assert str(client) in lines[0] or str(plan) in lines[0] or str(targets) in lines[0]
        if result.stdout:  # a bad client file: reported as its config finding, the run goes on
            (broken,) = json.loads(result.stdout)["clients"]
            assert [f["id"] for f in broken["findings"]] == ["config"], broken
    else:
        assert json.loads(result.stdout)["schema"] == "backupcheck.report/1"


#: BC_FUZZ_EXAMPLES=5000 for a long hunt; CI keeps the suite fast
FUZZ = settings(max_examples=int(os.environ.get("BC_FUZZ_EXAMPLES", "100")), deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@given(text=st.one_of(st.text(max_size=200), TOMLISH,
                      st.text(alphabet=string.printable, max_size=200)))
@example(text="a = " + "[" * 5000)  # nesting deep enough to exhaust a recursive parser
@example(text='client = "acme"\nrpo = "26h"\nrto = "4h"\n[[targets]]\nname = "x"\n'
              'kind = "restic"\nrepository = "/nonexistent"\npassword_command = "false"\n'
              'env = { "A=B" = "1" }\n')
@example(text='client = "acme"\nrpo = "26h"\nrto = "4h"\n[[targets]]\nname = "x"\n'
              'kind = "restic"\nrepository = "/nonexistent"\npassword_command = "x\\u0000y"\n')
@example(text='client = "acme"\nrpo = "26h"\nrto = "4h"\n[[targets]]\nname = "x"\n'
              'kind = "s3"\nbucket = "b-1"\nregion = "not a region!"\n')
def test_fuzzed_config_text(isolated_aws: None, text: str) -> None:
    check_run(text)


@FUZZ
@given(data=st.binary(max_size=200))
def test_fuzzed_config_bytes(isolated_aws: None, data: bytes) -> None:
    check_run(data)


@FUZZ
@given(doc=client_documents(), plan=st.none() | plan_documents())
def test_fuzzed_config_structure(isolated_aws: None, doc: dict[str, Any],
                                 plan: dict[str, Any] | None) -> None:
    check_run(to_toml(doc), None if plan is None else to_toml(plan))


# ---------------------------------------------------------------- malformed manifests


def _manifest_table(**columns: Any) -> pa.Table:
    base: dict[str, Any] = {
        "path": pa.array(["a.txt", "b.txt"]), "size": pa.array([1, 2], pa.int64()),
        "mtime_ns": pa.array([0, 0], pa.int64()),
        "xxh3_128": pa.array(["0" * 32, "f" * 32])}
    base.update(columns)
    return pa.table({k: v for k, v in base.items() if v is not None})


def _write(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path)


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _truncated(path: Path) -> None:
    _write(_manifest_table(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


MALFORMED: dict[str, tuple[Callable[[Path], None], str]] = {
    "wrong columns": (lambda p: _write(_manifest_table(xxh3_128=None), p),
                      "xxh3_128: missing column"),
    "wrong types": (lambda p: _write(_manifest_table(size=pa.array(["1", "2"])), p),
                    "size: has type string, expected int64"),
    "duplicate paths": (lambda p: _write(_manifest_table(path=pa.array(["a.txt", "a.txt"])), p),
                        "duplicate path 'a.txt'"),
    "non-hex digests": (lambda p: _write(_manifest_table(
        xxh3_128=pa.array(["0" * 32, "zz" * 16])), p), "is not 32 hexadecimal digits"),
    "truncated": (_truncated, "not a readable Parquet file"),
    "not parquet": (lambda p: _write_text(p, "path,size\na.txt,1\n"), "not a readable Parquet"),
}


@pytest.mark.parametrize("problem", sorted(MALFORMED))
def test_malformed_manifest_is_an_error_of_its_target_only(
        tmp_path: Path, s3_server: S3Server, hostile_bucket: dict[str, Any],
        problem: str) -> None:
    """A manifest is written by a backup hook, not by whoever keeps the client files: a broken
    one is that target's ``restore.sample`` problem, named with its file and column, and
    every other client is still checked (it used to stop the run with exit 2)."""
    make, expected = MALFORMED[problem]
    manifest = tmp_path / "targets" / "ground-truth.parquet"
    manifest.parent.mkdir()
    make(manifest)
    client = s3_client_file(tmp_path / "targets", s3_server.url, hostile_bucket["bucket"])
    client.write_text(client.read_text() + 'manifest = "ground-truth.parquet"\n')
    s3_client_file(tmp_path / "targets", s3_server.url, hostile_bucket["bucket"],
                   client="healthy", target="other")

    result = run_cli("drill", "--targets", str(tmp_path / "targets"), "--format", "json",
                     "--no-history", "--plan", str(plan_file(tmp_path)))

    # the bucket has no Object Lock and lying metadata: the run fails whatever the manifest
    assert result.exit_code == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    sample = {c["id"]: c for c in target_of(document, "keys")["checks"]}["restore.sample"]
    assert f"manifest unreadable: {manifest}" in sample["message"], sample["message"]
    assert expected in sample["message"], sample["message"]
    assert sample["evidence"]["manifest"]["problem"] == "unavailable"
    assert target_of(document, "other")["restore"]["sampled"] > 0


def test_malformed_manifest_on_s3_is_an_error_of_its_target(
        tmp_path: Path, s3_server: S3Server, hostile_bucket: dict[str, Any]) -> None:
    local = tmp_path / "m.parquet"
    _truncated(local)
    s3_server.client().put_object(Bucket=hostile_bucket["bucket"], Key="manifests/m.parquet",
                                  Body=local.read_bytes())
    url = f"s3://{hostile_bucket['bucket']}/manifests/m.parquet"
    client = s3_client_file(tmp_path / "targets", s3_server.url, hostile_bucket["bucket"])
    client.write_text(client.read_text() + f'manifest = "{url}"\n')

    result = run_cli("drill", "--targets", str(tmp_path / "targets"), "--no-history",
                     "--format", "json", "--plan", str(plan_file(tmp_path)))

    sample = {c["id"]: c for c in target_of(result.json(), "keys")["checks"]}["restore.sample"]
    assert f"manifest unreadable: {url}" in sample["message"]
    assert "not a readable Parquet file" in sample["message"]


# ---------------------------------------------------------------- a lying restic


def test_garbage_json_or_unknown_restic_is_an_error_for_that_target_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = make_tree(tmp_path / "data", {"a.txt": b"alpha\n", "b/c.bin": b"\x00" * 5000})
    repo = init_local_repo(tmp_path)
    repo.backup(source)
    monkeypatch.setenv("PATH", f"{fake_restic(tmp_path / 'bin')}:{os.environ['PATH']}")
    lies = {"garbled": "garbage-snapshots", "old": "old-version", "busybox": "busybox",
            "badls": "garbage-ls"}
    targets = tmp_path / "targets"
    write_client(targets, "good", target_toml("good", repo, extra=f'source = "{source}"\n'))
    for name, fake in lies.items():
        write_client(targets, name, target_toml(name, repo, env={"BC_FAKE": fake},
                                                extra='reader = "restic"\n'))
    args = ["drill", "--targets", str(targets), "--no-history", "--plan",
            str(plan_file(tmp_path))]

    result = run_cli(*args, "--format", "json")

    assert result.exit_code == 3, result.stdout + result.stderr
    assert_inert(result.stdout)
    document = json.loads(result.stdout)
    assert target_of(document, "good")["status"] == "warn"  # local storage: not immutable
    assert statuses(document, "good")["restore.sample"] == "pass"
    reasons = {
        "garbled": ("restic.freshness", "unexpected output from restic snapshots"),
        "old": ("restic.access", "restic 0.9.6 is too old"),
        "busybox": ("restic.access", "unexpected output from restic version"),
        "badls": ("restore.sample", "unexpected output from restic ls"),
    }
    for name, (check_id, reason) in reasons.items():
        target = target_of(document, name)
        assert target["status"] == "error", name
        messages = {c["id"]: c["message"] for c in target["checks"]}
        assert reason in messages[check_id], (name, messages)
    table = run_cli("verify", "--targets", str(targets), "--read-data-subset", "",
                    "--client", "garbled")
    assert table.exit_code == 3
    assert_inert(table.stdout)
    assert "unexpected output from restic snapshots" in re.sub(r"[\s│┃|]+", " ", table.stdout)
