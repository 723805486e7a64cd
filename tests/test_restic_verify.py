"""``verify`` and ``inventory`` of restic targets end to end: real restic, real S3 server.

One estate of repositories (local disk and the moto server), one client file per scenario.
Every command runs once, in the module fixture, with a wrapper standing in for restic on
PATH that logs each child's argv; the tests then judge statuses, exit codes, the inventory
Parquet, and that no password reached an argv, a report, stderr or the Parquet file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.conftest import CliResult, S3Server, run_cli, statuses, write_client
from tests.restic_helpers import (
    PASSWORD,
    RESTIC,
    Repo,
    corrupt_biggest_pack,
    init_local_repo,
    init_s3_repo,
    make_tree,
    target_toml,
    write_password,
)

WRONG_PASSWORD = "wrong-password-8d2f41"
PASSWORD_ENV = "BACKUPCHECK_TEST_RESTIC_PW"
IDS = ("restic.access", "restic.keys", "restic.storage.immutable", "restic.objects.locked",
       "restic.freshness", "restic.snapshots", "restic.integrity")
#: on local disk neither the storage nor its objects can be shown to be immutable
HEALTHY = dict.fromkeys(IDS, "pass") | {"restic.storage.immutable": "warn",
                                        "restic.objects.locked": "warn"}
UNAVAILABLE = dict.fromkeys(IDS, "error")


@dataclass
class Runs:
    targets: Path
    argv_log: Path
    parquet: Path
    results: dict[str, CliResult] = field(default_factory=dict)
    snapshot_ids: dict[str, list[str]] = field(default_factory=dict)

    def checks(self, run: str, target: str) -> dict[str, str]:
        return statuses(self.results[run].json(), target)

    def check(self, run: str, target: str, check_id: str) -> dict[str, Any]:
        for client in self.results[run].json()["clients"]:
            for t in client["targets"]:
                if t["target"] == target:
                    found: dict[str, Any] = next(c for c in t["checks"]
                                                 if c["id"] == check_id)
                    return found
        raise KeyError(target)


def _estate(root: Path, s3_server: S3Server) -> tuple[Path, Path, dict[str, list[str]]]:
    targets = root / "targets"
    source = make_tree(root / "src" / "data", {"a.txt": b"alpha\n", "b/c.bin": os.urandom(40_000)})
    cwd = source.parent

    healthy = init_local_repo(root, "healthy")
    healthy.backup("data", cwd=cwd, host="old-host", time="2025-01-01 00:00:00")
    healthy.backup("data", cwd=cwd)
    write_client(targets, "rl-healthy", target_toml("rl-healthy", healthy))
    write_client(targets, "rl-pw-env", target_toml("rl-pw-env", healthy, password="env",
                                                   password_env=PASSWORD_ENV))
    write_client(targets, "rl-pw-command", target_toml("rl-pw-command", healthy,
                                                       password="command"))
    # only the 2025 snapshot matches this host filter
    write_client(targets, "rl-stale", target_toml("rl-stale", healthy,
                                                  extra='host = "old-host"\n'))
    write_client(targets, "rl-min-snapshots", target_toml("rl-min-snapshots", healthy,
                                                          policy="min_snapshots = 3"))
    wrong = Repo(healthy.repository, write_password(root / "wrong.pass", WRONG_PASSWORD),
                 WRONG_PASSWORD)
    write_client(targets, "rl-wrong-pw", target_toml("rl-wrong-pw", wrong))
    missing = Repo(str(root / "no-repository-here"), healthy.password_file, PASSWORD)
    write_client(targets, "rl-missing", target_toml("rl-missing", missing))

    two_keys = init_local_repo(root, "two-keys")
    two_keys.backup("data", cwd=cwd)
    two_keys.add_key("second-key-password-55aa", root)
    write_client(targets, "rl-two-keys", target_toml("rl-two-keys", two_keys))

    corrupt = init_local_repo(root, "corrupt")
    corrupt.backup("data", cwd=cwd)
    corrupt_biggest_pack(corrupt)
    # apart: a random data subset of the other runs might or might not hit the damaged pack
    damaged = root / "damaged-targets"
    write_client(damaged, "rl-corrupt", target_toml("rl-corrupt", corrupt))

    locked = init_s3_repo(s3_server, "rv-locked", root / "s3", prefix="fs1/restic")
    locked.backup("data", cwd=cwd)
    write_client(targets, "rl-s3-locked", target_toml("rl-s3-locked", locked))
    unlocked = init_s3_repo(s3_server, "rv-unlocked", root / "s3", lock_mode=None)
    unlocked.backup("data", cwd=cwd)
    write_client(targets, "rl-s3-unlocked", target_toml("rl-s3-unlocked", unlocked))
    ids = {"rl-healthy": [s["id"] for s in healthy.snapshots()],
           "rl-s3-locked": [s["id"] for s in locked.snapshots()]}
    return targets, damaged, ids


@pytest.fixture(scope="module")
def runs(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    root = tmp_path_factory.mktemp("restic-verify")
    targets, damaged, ids = _estate(root, s3_server)
    bin_dir, argv_log = root / "bin", root / "argv.log"
    bin_dir.mkdir()
    wrapper = bin_dir / "restic"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{argv_log}"\n'
                       f'exec "{RESTIC}" "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    structure_only = root / "structure-only.toml"
    structure_only.write_text('name = "structure"\nread_data_subset = ""\n', encoding="utf-8")
    weekly = root / "weekly.toml"
    weekly.write_text('name = "weekly"\nread_data_subset = "2%"\n', encoding="utf-8")
    result = Runs(targets, argv_log, root / "inventory.parquet", snapshot_ids=ids)
    t = str(targets)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        mp.setenv(PASSWORD_ENV, PASSWORD)
        result.results = {
            "all": run_cli("verify", "--targets", t, "--format", "json",
                           "--plan", str(weekly)),
            "wrong-pw": run_cli("verify", "--targets", t, "--client", "rl-wrong-pw",
                                "--format", "json"),
            "missing": run_cli("verify", "--targets", t, "--client", "rl-missing",
                               "--format", "json"),
            "two-keys": run_cli("verify", "--targets", t, "--client", "rl-two-keys",
                                "--format", "json", "--plan", str(structure_only)),
            "corrupt-structure": run_cli("verify", "--targets", str(damaged), "--format",
                                         "json", "--plan", str(structure_only)),
            "corrupt-100": run_cli("verify", "--targets", str(damaged), "--format", "json",
                                   "--plan", str(structure_only), "--read-data-subset", "100%"),
            "inventory": run_cli("inventory", "--targets", t, "--client", "rl-healthy",
                                 "--client", "rl-s3-locked", "--client", "rl-pw-env",
                                 "--format", "json", "--out", str(result.parquet)),
            "table": run_cli("verify", "--targets", t, "--client", "rl-pw-command",
                             "--plan", str(structure_only)),
        }
    yield result


@pytest.mark.parametrize(("target", "expected"), [
    ("rl-healthy", HEALTHY),
    ("rl-pw-env", HEALTHY),
    ("rl-pw-command", HEALTHY),
    ("rl-s3-locked", dict.fromkeys(IDS, "pass")),
    ("rl-s3-unlocked", HEALTHY | {"restic.storage.immutable": "fail",
                                  "restic.objects.locked": "fail"}),
    ("rl-wrong-pw", UNAVAILABLE),
    ("rl-missing", UNAVAILABLE),
    ("rl-two-keys", HEALTHY | {"restic.keys": "fail"}),
    ("rl-stale", HEALTHY | {"restic.freshness": "fail"}),
    ("rl-min-snapshots", HEALTHY | {"restic.snapshots": "fail"}),
])
def test_statuses_per_scenario(runs: Runs, target: str, expected: dict[str, str]) -> None:
    assert runs.checks("all", target) == expected


def test_exit_codes(runs: Runs) -> None:
    assert runs.results["all"].exit_code == 1
    assert runs.results["table"].exit_code == 0  # one healthy target: warnings allowed
    assert runs.results["wrong-pw"].exit_code == 3
    assert runs.results["missing"].exit_code == 3
    assert runs.results["two-keys"].exit_code == 1
    assert runs.results["corrupt-structure"].exit_code == 0
    assert runs.results["corrupt-100"].exit_code == 1


def test_plan_data_subset_reaches_restic_check(runs: Runs) -> None:
    integrity = runs.check("all", "rl-healthy", "restic.integrity")
    assert integrity["evidence"]["read_data_subset"] == "2%"
    assert "2% of the data" in integrity["message"]
    assert runs.check("two-keys", "rl-two-keys", "restic.integrity")["evidence"][
        "read_data_subset"] == ""


def test_corrupted_pack_fails_integrity_with_restic_errors(runs: Runs) -> None:
    # structure only: restic check does not read the damaged pack and finds nothing
    assert runs.checks("corrupt-structure", "rl-corrupt") == HEALTHY
    assert runs.checks("corrupt-100", "rl-corrupt") == HEALTHY | {"restic.integrity": "fail"}
    integrity = runs.check("corrupt-100", "rl-corrupt", "restic.integrity")
    assert integrity["evidence"]["read_data_subset"] == "100%"
    assert any("Pack ID does not match" in e for e in integrity["evidence"]["errors"])
    assert "Pack ID does not match" in integrity["message"]


def test_wrong_password_and_missing_repository_say_why(runs: Runs) -> None:
    access = runs.check("wrong-pw", "rl-wrong-pw", "restic.access")
    assert "wrong password" in access["message"]
    assert "password_file" in access["message"]
    assert runs.check("wrong-pw", "rl-wrong-pw", "restic.keys")["message"].startswith(
        "not checked")
    assert "no restic repository at" in runs.check("missing", "rl-missing",
                                                   "restic.access")["message"]


def test_two_keys_evidence_lists_them(runs: Runs) -> None:
    keys = runs.check("two-keys", "rl-two-keys", "restic.keys")
    assert keys["evidence"]["keys"] == 2
    assert len(keys["evidence"]["key_list"]) == 2
    assert all(k["created"] for k in keys["evidence"]["key_list"])


def test_storage_evidence_names_the_bucket_checks(runs: Runs) -> None:
    locked = runs.check("all", "rl-s3-locked", "restic.storage.immutable")
    assert locked["evidence"]["bucket"] == "rv-locked"
    assert locked["evidence"]["prefix"] == "fs1/restic"
    unlocked = runs.check("all", "rl-s3-unlocked", "restic.storage.immutable")
    failing = {c["id"] for c in unlocked["evidence"]["bucket_checks"] if c["status"] == "fail"}
    assert "s3.object_lock" in failing


def test_inventory_summary(runs: Runs) -> None:
    result = runs.results["inventory"]
    assert result.exit_code == 0, result.stderr
    by_target = {t["target"]: t["inventory"] for c in result.json()["clients"]
                 for t in c["targets"]}
    healthy = by_target["rl-healthy"]
    assert healthy["snapshots"] == 2
    assert healthy["size_bytes"] == 6 + 40_000
    assert healthy["raw_data_bytes"] > 0
    assert healthy["keys"] == 1
    assert healthy["repository_version"] == 2 and healthy["compression"] is True
    assert healthy["oldest"].startswith("2025-01-01")
    assert healthy["newest"] > healthy["oldest"]
    assert healthy["lock_mode"] == "none"
    locked = by_target["rl-s3-locked"]
    assert (locked["lock_mode"], locked["retention_days"], locked["versioning"]) == \
        ("COMPLIANCE", 30, "Enabled")
    assert locked["encryption"].startswith("restic")


def test_inventory_parquet_has_one_row_per_snapshot(runs: Runs) -> None:
    rows = pq.read_table(runs.parquet).to_pylist()
    healthy = [r for r in rows if r["target"] == "rl-healthy"]
    assert sorted(r["key"] for r in healthy) == sorted(runs.snapshot_ids["rl-healthy"])
    assert [r["key"] for r in rows if r["target"] == "rl-s3-locked"] == \
        runs.snapshot_ids["rl-s3-locked"]
    assert sum(r["is_latest"] for r in healthy) == 1
    assert {r["hostname"] for r in healthy} >= {"old-host"}
    assert all(r["kind"] == "restic" and r["paths"] for r in rows)


def test_no_password_leaves(runs: Runs) -> None:
    logged = runs.argv_log.read_text(encoding="utf-8")
    assert "check" in logged  # the wrapper ran (snapshots are read natively, reader = auto)
    assert "rl-pw-command" in runs.results["table"].stdout  # the table view was rendered
    outputs = [logged, pq.read_table(runs.parquet).to_pylist().__repr__()]
    outputs += [r.stdout + r.stderr for r in runs.results.values()]
    for secret in (PASSWORD, WRONG_PASSWORD, "second-key-password-55aa"):
        for text in outputs:
            assert secret not in text
    assert PASSWORD not in runs.parquet.read_bytes().decode("latin-1")
