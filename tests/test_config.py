"""Configuration edge cases: a bad file is one stderr line naming file, line and key; exit 2."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from backupcheck.config import load_client, load_clients, load_plan, parse_duration, parse_size
from backupcheck.errors import ConfigError
from backupcheck.model import Plan, ResticTarget, S3Target
from backupcheck.report.text import visible
from tests.conftest import CliResult, write_client

# endpoint on a closed loopback port: a config that is (wrongly) accepted fails fast, offline
GOOD = """\
client = "acme"
rpo = "26h"
rto = "4h"

[policy]
object_lock_mode = "GOVERNANCE"
min_retention_days = 7
encryption = "aws:kms"
kms_key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
max_restic_keys = 2
min_snapshots = 3
max_object_heads = 500

[[targets]]
name = "acme-veeam"
kind = "s3"
bucket = "acme-veeam-immutable"
prefix = "Veeam/"
endpoint_url = "http://127.0.0.1:1"
region = "eu-central-1"
profile = "acme"
manifest = "s3://acme-veeam-immutable/manifests/latest.parquet"

[[targets]]
name = "acme-fs1"
kind = "restic"
repository = "s3:http://127.0.0.1:1/acme-restic"
password_file = "/etc/backupcheck/acme.pass"
env = { AWS_PROFILE = "acme" }
host = "fs1"
paths = ["/srv/share"]
tags = ["daily"]
manifest = "manifests/acme-fs1.parquet"
source = "/srv/share"
"""

MINIMAL = """\
client = "{name}"
rpo = "26h"
rto = "4h"
"""

#: the smallest client file a run loads (a file without [[targets]] is a config error)
LOADABLE = MINIMAL + '[[targets]]\nname = "t"\nkind = "s3"\nbucket = "b"\n'


def config_error(cli: Any, directory: Path, *extra: str) -> str:
    """Run verify on ``directory``; assert a clean exit 2 and return the one stderr line.

    A bad client file does not stop the run (issue 13): the report then carries the same line
    as that client's one ``config`` finding; any other bad configuration prints nothing."""
    result: CliResult = cli("verify", "--targets", str(directory), "--format", "json", *extra)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    if result.stdout:
        configs = [f["message"] for c in result.json()["clients"] for f in c.get("findings", ())]
        assert configs and lines[0].endswith(visible(configs[0])), (configs, lines)
    return lines[0]


def expect(line: str, file: Path, line_number: int | None, key: str, *words: str) -> None:
    location = f"{file}:{line_number}: " if line_number is not None else f"{file}: "
    assert location in line, line
    assert f"{key}:" in line, line
    for word in words:
        assert word in line, line


def with_line(body: str, after: str, new: str) -> str:
    """``body`` with ``new`` inserted as a line right after the first line equal to ``after``."""
    lines = body.splitlines()
    index = lines.index(after)
    return "\n".join([*lines[: index + 1], new, *lines[index + 1:]]) + "\n"


def line_number(path: Path, text: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip() == text:
            return number
    raise AssertionError(f"{text!r} not in {path}")


# ---------------------------------------------------------------- a good file


def test_good_file_loads_every_key(tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme", GOOD)
    client = load_client(path)
    assert client.name == "acme"
    assert client.rpo_seconds == 26 * 3600
    assert client.rto_seconds == 4 * 3600
    assert client.policy.object_lock_mode == "GOVERNANCE"
    assert client.policy.min_retention_days == 7
    assert client.policy.encryption == "aws:kms"
    assert client.policy.kms_key_id == "1234abcd-12ab-34cd-56ef-1234567890ab"
    assert client.policy.max_restic_keys == 2
    assert client.policy.min_snapshots == 3
    assert client.policy.max_object_heads == 500
    s3, restic = client.targets
    assert isinstance(s3, S3Target)
    assert (s3.name, s3.bucket, s3.prefix, s3.region, s3.profile) == (
        "acme-veeam", "acme-veeam-immutable", "Veeam/", "eu-central-1", "acme")
    assert s3.endpoint_url == "http://127.0.0.1:1"
    assert s3.manifest == "s3://acme-veeam-immutable/manifests/latest.parquet"
    assert isinstance(restic, ResticTarget)
    assert restic.password_file == "/etc/backupcheck/acme.pass"
    assert restic.password_command is None and restic.password_env is None
    assert dict(restic.env) == {"AWS_PROFILE": "acme"}
    assert (restic.host, restic.paths, restic.tags) == ("fs1", ("/srv/share",), ("daily",))
    assert restic.source == "/srv/share"


def test_policy_defaults(tmp_path: Path) -> None:
    client = load_client(write_client(tmp_path, "acme", MINIMAL.format(name="acme")))
    policy = client.policy
    assert (policy.object_lock_mode, policy.min_retention_days, policy.encryption,
            policy.kms_key_id, policy.max_restic_keys, policy.min_snapshots,
            policy.max_object_heads) == ("COMPLIANCE", 30, "any", "", 1, 1, 100_000)
    assert client.targets == ()


@pytest.mark.parametrize("option", ["password_file = \"/p\"", "password_command = \"pass x\"",
                                    "password_env = \"ACME_PASS\""])
def test_each_password_option_alone_is_accepted(tmp_path: Path, option: str) -> None:
    body = MINIMAL.format(name="acme") + (
        '[[targets]]\nname = "r"\nkind = "restic"\nrepository = "/srv/repo"\n' + option + "\n")
    (target,) = load_client(write_client(tmp_path, "acme", body)).targets
    assert isinstance(target, ResticTarget)
    key, _, value = option.partition(" = ")
    assert getattr(target, key) == value.strip('"')


def test_client_filter_and_order(tmp_path: Path) -> None:
    for name in ("zeta", "alpha", "mid"):
        write_client(tmp_path, name, MINIMAL.format(name=name) + '[[targets]]\nname = "t"\n'
                     'kind = "s3"\nbucket = "b"\n')
    (tmp_path / "notes.toml.example").write_text("this is not loaded")
    assert [c.name for c in load_clients(tmp_path)] == ["alpha", "mid", "zeta"]
    assert [c.name for c in load_clients(tmp_path, ["zeta", "alpha"])] == ["alpha", "zeta"]


# ---------------------------------------------------------------- unknown keys


def test_unknown_top_level_key(cli: Any, tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme", with_line(GOOD, 'rto = "4h"', "colour = \"red\""))
    line = config_error(cli, tmp_path)
    expect(line, path, 4, "colour", "unknown key")


def test_unknown_policy_key(cli: Any, tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme",
                        with_line(GOOD, "min_snapshots = 3", "min_retention_dayz = 30"))
    line = config_error(cli, tmp_path)
    expect(line, path, line_number(path, "min_retention_dayz = 30"),
           "policy.min_retention_dayz", "unknown key")


def test_unknown_key_in_second_target_points_at_that_target(cli: Any, tmp_path: Path) -> None:
    # `prefix` is a valid key of the first (s3) target but unknown to the restic one: the line
    # must be the restic target's, not the first `prefix =` in the file
    path = write_client(tmp_path, "acme", with_line(GOOD, 'host = "fs1"', 'prefix = "x/"'))
    line = config_error(cli, tmp_path)
    expect(line, path, line_number(path, 'prefix = "x/"'), "targets[1].prefix", "unknown key")


# ---------------------------------------------------------------- wrong types and values


@pytest.mark.parametrize(("old", "new", "key", "words"), [
    ("min_retention_days = 7", 'min_retention_days = "30"', "policy.min_retention_days",
     ("expected an integer", "got a string")),
    ("min_retention_days = 7", "min_retention_days = true", "policy.min_retention_days",
     ("expected an integer", "got a boolean")),
    ('rpo = "26h"', "rpo = 26", "rpo", ("expected a string", "got an integer")),
    ('object_lock_mode = "GOVERNANCE"', 'object_lock_mode = "STRICT"',
     "policy.object_lock_mode", ("must be one of COMPLIANCE, GOVERNANCE, any",)),
    ('encryption = "aws:kms"', 'encryption = "sse-c"', "policy.encryption",
     ("must be one of any, AES256, aws:kms",)),
    ("max_restic_keys = 2", "max_restic_keys = 0", "policy.max_restic_keys",
     ("at least 1",)),
    ("max_object_heads = 500", "max_object_heads = 0", "policy.max_object_heads",
     ("at least 1",)),
    ("max_object_heads = 500", 'max_object_heads = "10k"', "policy.max_object_heads",
     ("expected an integer",)),
    ('paths = ["/srv/share"]', "paths = [1, 2]", "targets[1].paths",
     ("list of strings",)),
    ('bucket = "acme-veeam-immutable"', "bucket = 42", "targets[0].bucket",
     ("expected a string",)),
    ('endpoint_url = "http://127.0.0.1:1"', 'endpoint_url = "127.0.0.1:9000"',
     "targets[0].endpoint_url", ("http://",)),
    ('kind = "s3"', 'kind = "ftp"', "targets[0].kind", ("must be one of s3, restic",)),
    ('client = "acme"', 'client = "acme corp/1"', "client", ("letters, digits",)),
])
def test_wrong_type_or_value(cli: Any, tmp_path: Path, old: str, new: str, key: str,
                             words: tuple[str, ...]) -> None:
    assert old in GOOD
    path = write_client(tmp_path, "acme", GOOD.replace(old, new, 1))
    line = config_error(cli, tmp_path)
    expect(line, path, line_number(path, new), key, *words)


def test_policy_must_be_a_table(cli: Any, tmp_path: Path) -> None:
    body = MINIMAL.format(name="acme") + 'policy = "strict"\n'
    path = write_client(tmp_path, "acme", body)
    expect(config_error(cli, tmp_path), path, 4, "policy", "expected a table")


@pytest.mark.parametrize("missing", ['client = "acme"', 'rpo = "26h"', 'rto = "4h"'])
def test_missing_required_top_level_key(cli: Any, tmp_path: Path, missing: str) -> None:
    path = write_client(tmp_path, "acme", GOOD.replace(missing + "\n", "", 1))
    key = missing.split(" ")[0]
    line = config_error(cli, tmp_path)
    assert f"{path}: {key}: required key is missing" in line


def test_missing_target_key_points_at_its_table(cli: Any, tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme", GOOD.replace('bucket = "acme-veeam-immutable"\n', ""))
    line = config_error(cli, tmp_path)
    # the key is not written anywhere: the line is the header of the target that lacks it
    expect(line, path, line_number(path, "[[targets]]"), "targets[0].bucket",
           "required key is missing")


def test_missing_kind(cli: Any, tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme", GOOD.replace('kind = "s3"\n', "", 1))
    line = config_error(cli, tmp_path)
    expect(line, path, line_number(path, "[[targets]]"), "targets[0].kind",
           "required key is missing")


# ---------------------------------------------------------------- durations and sizes


def test_bad_duration(cli: Any, tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme", GOOD.replace('rpo = "26h"', 'rpo = "26 hours?"'))
    line = config_error(cli, tmp_path)
    expect(line, path, 2, "rpo", "26 hours?", "30s, 90m, 26h, 7d or 2w")


def test_zero_duration(cli: Any, tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme", GOOD.replace('rto = "4h"', 'rto = "0s"'))
    expect(config_error(cli, tmp_path), path, 3, "rto", "positive")


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("90m", 5400), ("26h", 93600), ("7d", 604800), ("2w", 1209600),
    (" 26h ", 93600), ("1.5h", 5400),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "   ", "26 hours?", "-5m", "0s", "soon", "26h 30m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|30s"):
        parse_duration(text)


@pytest.mark.parametrize(("text", "size"), [
    ("2GiB", 2 * 1024**3), ("500MB", 500_000_000), ("1KiB", 1024), ("1.5KiB", 1536),
    ("2GB", 2_000_000_000), ("1 TB", 10**12), ("4096", 4096),
])
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1MB", "0B", "2 GiB please"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"size"):
        parse_size(text)


# ---------------------------------------------------------------- plans


PLAN = """\
name = "weekly"
files = 5
max_bytes = "500MB"
read_data_subset = "1/5"
include_newest = false
snapshot = "random-within:30d"
prefer_unverified = false
jobs = 2
restore_file_cost = "10ms"
"""


def test_load_plan_every_key(tmp_path: Path) -> None:
    path = tmp_path / "weekly.toml"
    path.write_text(PLAN)
    plan = load_plan(path)
    assert plan == Plan(name="weekly", files=5, max_bytes=500_000_000, read_data_subset="1/5",
                        include_newest=False, snapshot="random-within:30d",
                        snapshot_window_seconds=30 * 86400, prefer_unverified=False, jobs=2,
                        restore_file_seconds=0.01,
                        file=str(path))  # the report names the plan file it ran


def test_load_plan_defaults(tmp_path: Path) -> None:
    path = tmp_path / "nightly.toml"
    path.write_text("")
    plan = load_plan(path)
    assert plan.name == "nightly"
    assert (plan.files, plan.max_bytes, plan.read_data_subset, plan.snapshot, plan.jobs) == (
        20, 2 * 1024**3, "2%", "latest", 4)
    assert plan.snapshot_window_seconds is None
    assert plan.restore_file_seconds == 0.003  # a restore creates every file (estimate.py)
    path.write_text('restore_file_cost = "0s"\n')
    assert load_plan(path).restore_file_seconds == 0


@pytest.mark.parametrize(("old", "new", "key", "word"), [
    ('max_bytes = "500MB"', 'max_bytes = "lots"', "max_bytes", "cannot parse size 'lots'"),
    ('snapshot = "random-within:30d"', 'snapshot = "random-within:a month"', "snapshot",
     "duration"),
    ('snapshot = "random-within:30d"', 'snapshot = "oldest"', "snapshot", "latest"),
    ('read_data_subset = "1/5"', 'read_data_subset = "most"', "read_data_subset", "2%"),
    ("files = 5", "files = 0", "files", "at least 1"),
    ("jobs = 2", "workers = 2", "workers", "unknown key"),
    ('restore_file_cost = "10ms"', 'restore_file_cost = "3"', "restore_file_cost", "no unit"),
])
def test_bad_plan(cli: Any, tmp_path: Path, old: str, new: str, key: str, word: str) -> None:
    write_client(tmp_path / "targets", "acme", LOADABLE.format(name="acme"))
    plan = tmp_path / "weekly.toml"
    plan.write_text(PLAN.replace(old, new))
    line = config_error(cli, tmp_path / "targets", "--plan", str(plan))
    expect(line, plan, line_number(plan, new), key, word)


def test_explicit_plan_must_exist(cli: Any, tmp_path: Path) -> None:
    write_client(tmp_path / "targets", "acme", LOADABLE.format(name="acme"))
    line = config_error(cli, tmp_path / "targets", "--plan", str(tmp_path / "nope.toml"))
    assert f"{tmp_path / 'nope.toml'}: restore plan not found" in line


# ---------------------------------------------------------------- duplicates


def test_duplicate_client_across_files(cli: Any, tmp_path: Path) -> None:
    first = write_client(tmp_path, "acme", LOADABLE.format(name="acme"))
    # files load in name order: the later file is the one reported
    second = write_client(tmp_path, "zz-acme", "# copied by hand\n" + LOADABLE.format(name="acme"))
    line = config_error(cli, tmp_path)
    expect(line, second, 2, "client", "duplicate client 'acme'", str(first))


def test_duplicate_target_name(cli: Any, tmp_path: Path) -> None:
    body = GOOD.replace('name = "acme-fs1"', 'name = "acme-veeam"')
    path = write_client(tmp_path, "acme", body)
    line = config_error(cli, tmp_path)
    # the line of the second `name = "acme-veeam"`, the duplicate one
    lines = [n for n, text in enumerate(body.splitlines(), start=1)
             if text == 'name = "acme-veeam"']
    assert len(lines) == 2
    expect(line, path, lines[1], "targets[1].name", "duplicate target name 'acme-veeam'")


def test_same_target_name_in_two_clients_is_fine(tmp_path: Path) -> None:
    target = '[[targets]]\nname = "nas"\nkind = "s3"\nbucket = "b"\n'
    write_client(tmp_path, "a", MINIMAL.format(name="a") + target)
    write_client(tmp_path, "b", MINIMAL.format(name="b") + target)
    assert [c.targets[0].name for c in load_clients(tmp_path)] == ["nas", "nas"]


# ---------------------------------------------------------------- files and directories


def test_toml_syntax_error_names_the_line(cli: Any, tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme", GOOD.replace('rto = "4h"', 'rto = "4h'))
    line = config_error(cli, tmp_path)
    assert f"{path}:3: TOML syntax error" in line
    assert "(at line" not in line  # the position is in the location, not repeated


def test_missing_targets_directory(cli: Any, tmp_path: Path) -> None:
    line = config_error(cli, tmp_path / "nope")
    assert f"{tmp_path / 'nope'}: targets directory does not exist" in line


def test_no_client_files(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "acme.toml.example").write_text(GOOD)
    line = config_error(cli, tmp_path)
    assert f"{tmp_path}: no client files (*.toml) found" in line


def test_unknown_client_option(cli: Any, tmp_path: Path) -> None:
    write_client(tmp_path, "acme", LOADABLE.format(name="acme"))
    line = config_error(cli, tmp_path, "--client", "acme", "--client", "globex")
    assert "--client" in line and "globex" in line
    assert "acme" not in line.split("no such client", 1)[1]


def test_bad_file_stops_even_with_client_filter(cli: Any, tmp_path: Path) -> None:
    # a file whose client name cannot be read might be any client: --client never skips it
    write_client(tmp_path, "acme", LOADABLE.format(name="acme"))
    path = write_client(tmp_path, "broken", MINIMAL.format(name="broken") + "oops = [\n")
    line = config_error(cli, tmp_path, "--client", "acme")
    expect(line, path, 4, "", "TOML syntax error")


# ---------------------------------------------------------------- restic passwords and secrets


RESTIC = """\
client = "acme"
rpo = "26h"
rto = "4h"

[[targets]]
name = "fs1"
kind = "restic"
repository = "/srv/restic/fs1"
"""


def test_restic_without_password_option(cli: Any, tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme", RESTIC)
    line = config_error(cli, tmp_path)
    expect(line, path, 5, "targets[0].password_file",
           "set exactly one of password_file, password_command, password_env")


def test_restic_with_two_password_options(cli: Any, tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme",
                        RESTIC + 'password_file = "/p"\npassword_env = "FS1_PASS"\n')
    line = config_error(cli, tmp_path)
    expect(line, path, 10, "targets[0].password_env", "set exactly one of")


@pytest.mark.parametrize("secret", ["RESTIC_PASSWORD", "AWS_SECRET_ACCESS_KEY",
                                    "AWS_SESSION_TOKEN", "AZURE_ACCOUNT_SAS",
                                    "RESTIC_REST_PASSWORD"])
def test_secret_in_env_table_is_refused_without_echoing_it(cli: Any, tmp_path: Path,
                                                           secret: str) -> None:
    path = write_client(tmp_path, "acme", RESTIC + 'password_file = "/p"\n'
                        f'env = {{ AWS_PROFILE = "acme", {secret} = "hunter2-s3cr3t" }}\n')
    line = config_error(cli, tmp_path)
    expect(line, path, 10, "targets[0].env", secret, "secret")
    assert "hunter2" not in line


def test_env_values_must_be_strings(cli: Any, tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme", RESTIC + 'password_file = "/p"\nenv = { DEBUG = 1 }\n')
    expect(config_error(cli, tmp_path), path, 10, "targets[0].env", "DEBUG", "string")


def test_config_error_is_a_single_line_even_for_hostile_keys(cli: Any, tmp_path: Path) -> None:
    hostile = '"evil\\nkey\\u001b[2J" = 1\n'
    path = write_client(tmp_path, "acme", MINIMAL.format(name="acme") + hostile)
    line = config_error(cli, tmp_path)
    assert str(path) in line and "unknown key" in line
    assert "\x1b" not in line
    assert re.search(r"evil\\x0akey\\x1b\[2J", line), line


def test_config_error_type_carries_file_line_and_key(tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme", GOOD.replace("min_snapshots = 3", "min_snapshots = -1"))
    with pytest.raises(ConfigError) as caught:
        load_client(path)
    error = caught.value
    assert (error.file, error.line, error.key, error.exit_code) == (
        str(path), line_number(path, "min_snapshots = -1"), "policy.min_snapshots", 2)
