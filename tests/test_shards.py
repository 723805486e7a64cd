"""``--shard I/N``: every client in exactly one shard, balanced by the history, recorded.

The split is tested as a property over random targets directories and shard counts, then
through the CLI against a real moto server: ``inventory``/``verify``/``drill`` of each shard,
and N shard drills running at once as separate processes into one directory history.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backupcheck.config import load_clients
from backupcheck.errors import UsageError
from backupcheck.history import HistoryStore
from backupcheck.shards import (
    assign,
    balance_cutoff,
    drill_seconds,
    parse_shard,
    select,
)
from tests.conftest import S3Server, run_cli, write_client
from tests.test_drill_s3 import make_bucket

NAMES = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)


def client_body(name: str, bucket: str = "unused", url: str = "http://127.0.0.1:9") -> str:
    return (f'client = "{name}"\nrpo = "26h"\nrto = "4h"\n[[targets]]\nname = "{name}-s3"\n'
            f'kind = "s3"\nbucket = "{bucket}"\nprefix = "{name}/"\nendpoint_url = "{url}"\n')


# ---------------------------------------------------------------- the split as a property

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(NAMES, min_size=1, max_size=40, unique=True),
       count=st.integers(min_value=1, max_value=12),
       timed=st.data())
def test_union_of_shards_is_every_client_exactly_once(names: list[str], count: int,
                                                      timed: st.DataObject) -> None:
    """Random targets directories (files on disk, loaded as the CLI does), random N, a
    random history of earlier drills for some clients: each client is in one shard."""
    with tempfile.TemporaryDirectory() as scratch:
        targets = Path(scratch) / "targets"
        for index, name in enumerate(names):  # file names unrelated to client names
            write_client(targets, f"f{(index * 7919) % 1000:03d}-{index}", client_body(name))
        loaded = [c.name for c in load_clients(targets)]
        drilled = timed.draw(st.lists(st.sampled_from(loaded), unique=True))
        seconds = timed.draw(st.lists(st.floats(0, 1e5), min_size=len(drilled),
                                      max_size=len(drilled)))
        weights = dict(zip(drilled, seconds, strict=True))
        shards = [select(loaded, parse_shard(f"{i}/{count}"), weights) for i in range(count)]
    union = [name for shard in shards for name in shard]
    assert sorted(union) == sorted(names)
    assert len(union) == len(set(union))
    # deterministic: the same inputs in another order give the same split
    assert assign(list(reversed(loaded)), count, weights) == assign(loaded, count, weights)


def test_no_history_splits_by_stable_hash_evenly() -> None:
    names = [f"client{i:03d}" for i in range(100)]
    shards = assign(names, 8)
    sizes = sorted(list(shards.values()).count(i) for i in range(8))
    assert sizes[-1] - sizes[0] <= 1
    # independent of the order the files were found in, and of the process (xxh3, not hash())
    assert assign(sorted(names, reverse=True), 8) == shards
    code = ("from backupcheck.shards import assign;"
            f"print(sorted(assign({names!r}, 8).items()))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": "12345"}, check=True)
    assert other.stdout.strip() == str(sorted(shards.items()))


def test_longest_client_first_to_the_least_loaded_shard() -> None:
    weights = {"big": 1000.0, "mid": 600.0, "a": 300.0, "b": 300.0, "c": 10.0}
    shards = assign(list(weights), 2, weights)
    assert shards["big"] != shards["mid"]
    loads = [sum(w for n, w in weights.items() if shards[n] == i) for i in range(2)]
    assert sorted(loads) == [1000.0, 1210.0] or sorted(loads) == [1010.0, 1200.0]
    # a client without a recorded time weighs the mean of the known ones
    mixed = assign(["big", "new1", "new2"], 2, {"big": 900.0})
    assert mixed["new1"] == mixed["new2"] != mixed["big"]


def test_only_drills_before_the_current_utc_day_weigh(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history")
    now = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)
    yesterday = now - timedelta(days=1)

    def row(run: str, client: str, target: str, started: datetime, seconds: float
            ) -> dict[str, Any]:
        return {"run_id": run, "started_at": started, "client": client, "target": target,
                "seconds": seconds}

    store.append_rows([
        row("r1", "acme", "t1", yesterday - timedelta(days=7), 50.0),
        row("r2", "acme", "t1", yesterday, 20.0), row("r2", "acme", "t2", yesterday, 5.0),
        row("r3", "acme", "t1", now - timedelta(hours=1), 999.0),  # another shard, today
        row("r4", "beta", "t1", now - timedelta(hours=2), 7.0),
    ])
    weights = drill_seconds(store.read_runs(), balance_cutoff(now))
    assert weights == {"acme": 25.0}


@pytest.mark.parametrize(("text", "env", "expected"), [
    ("2/8", {}, (2, 8)),
    (" 0 / 1 ", {}, (0, 1)),
    ("auto/4", {"JOB_COMPLETION_INDEX": "3"}, (3, 4)),
    ("auto/4", {"AWS_BATCH_JOB_ARRAY_INDEX": "1"}, (1, 4)),
])
def test_parse_shard(text: str, env: dict[str, str], expected: tuple[int, int]) -> None:
    shard = parse_shard(text, env)
    assert (shard.index, shard.count) == expected
    assert str(shard) == f"{expected[0]}/{expected[1]}"


@pytest.mark.parametrize(("text", "env", "words"), [
    ("auto/4", {}, "JOB_COMPLETION_INDEX nor AWS_BATCH_JOB_ARRAY_INDEX"),
    ("4/4", {}, "below N=4"),
    ("auto/4", {"JOB_COMPLETION_INDEX": "9"}, "JOB_COMPLETION_INDEX=9"),
    ("auto/4", {"AWS_BATCH_JOB_ARRAY_INDEX": "x"}, "not a whole number"),
    ("1/0", {}, "at least 1"),
    ("one/two", {}, "I/N"),
])
def test_bad_shard_is_usage_error(text: str, env: dict[str, str], words: str) -> None:
    with pytest.raises(UsageError, match=words.replace("=", "=")):
        parse_shard(text, env)


def test_auto_without_an_index_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    for name in ("JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"):
        monkeypatch.delenv(name, raising=False)
    write_client(tmp_path / "targets", "a", client_body("a"))
    for command in ("inventory", "verify", "drill"):
        result = run_cli(command, "--targets", str(tmp_path / "targets"), "--shard", "auto/3",
                         "--format", "json", "--history", str(tmp_path / "h"))
        assert result.exit_code == 2, (command, result.stdout, result.stderr)
        assert "JOB_COMPLETION_INDEX" in result.stderr
        assert result.stdout == ""


# ---------------------------------------------------------------- through the CLI

@pytest.fixture
def fleet(s3_server: S3Server, tmp_path: Path) -> dict[str, Any]:
    """Seven clients sharing one object-locked bucket, each under its own prefix."""
    s3 = s3_server.client()
    bucket = "shard-fleet"
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        make_bucket(s3, bucket)
        for i in range(7):
            for j in range(3):
                s3.put_object(Bucket=bucket, Key=f"c{i}/file{j}.bin", Body=os.urandom(2048))
    targets = tmp_path / "targets"
    names = [f"c{i}" for i in range(7)]
    for name in names:
        write_client(targets, name, client_body(name, bucket, s3_server.url))
    plan = tmp_path / "plan.toml"
    plan.write_text('name = "t"\nfiles = 2\nmax_bytes = "1MiB"\nread_data_subset = ""\n')
    return {"targets": targets, "names": names, "plan": plan, "dir": tmp_path}


def clients_of(document: dict[str, Any]) -> list[str]:
    return [c["client"] for c in document["clients"]]


@pytest.mark.parametrize("command", ["inventory", "verify"])
def test_cli_shards_cover_every_client_once(fleet: dict[str, Any], command: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # a client file that does not load is reported by one shard only, like any client
    (fleet["targets"] / "broken.toml").write_text('client = "zz-broken"\nrpo = 3\n')
    seen: list[str] = []
    for index in range(3):
        monkeypatch.setenv("AWS_BATCH_JOB_ARRAY_INDEX", str(index))
        result = run_cli(command, "--targets", str(fleet["targets"]), "--shard", "auto/3",
                         "--format", "json", "--history", str(fleet["dir"] / "none"))
        assert result.exit_code in (0, 1, 2), result.stderr
        document = result.json()
        assert document["shard"] == f"{index}/3"
        seen += clients_of(document)
    assert sorted(seen) == [*fleet["names"], "zz-broken"]


def test_report_without_shard_has_no_shard_key(fleet: dict[str, Any]) -> None:
    result = run_cli("inventory", "--targets", str(fleet["targets"]), "--format", "json",
                     "--client", "c0")
    assert "shard" not in result.json()


def test_concurrent_shard_drills_lose_no_row(fleet: dict[str, Any], s3_server: S3Server
                                             ) -> None:
    """Four shard processes at once, one directory history: every client's row, once,
    carrying its shard; the JSON of each names its shard."""
    history = fleet["dir"] / "history"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    env.pop("JOB_COMPLETION_INDEX", None)
    shards = 4
    processes = []
    for index in range(shards):
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "backupcheck", "drill", "--targets", str(fleet["targets"]),
             "--plan", str(fleet["plan"]), "--history", str(history), "--format", "json",
             "--shard", "auto/4", "--seed", "1"],
            env={**env, "JOB_COMPLETION_INDEX": str(index)}, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    import json
    drilled: dict[str, str] = {}
    for index, process in enumerate(processes):
        out, err = process.communicate(timeout=240)
        assert process.returncode in (0, 1), err
        document = json.loads(out)
        assert document["shard"] == f"{index}/4"
        for name in clients_of(document):
            assert name not in drilled
            drilled[name] = document["shard"]
    assert sorted(drilled) == fleet["names"]
    runs = HistoryStore(history).read_runs().to_pylist()
    assert sorted((r["client"], r["target"]) for r in runs) == \
        sorted((n, f"{n}-s3") for n in fleet["names"])
    assert {r["client"]: r["shard"] for r in runs} == drilled
