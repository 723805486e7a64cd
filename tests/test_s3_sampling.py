"""More current versions than ``max_object_heads``: a sample that rotates from run to run.

Against the real S3 server (moto, loopback) through :class:`FaultProxy`, which only records
the requests, so the test sees which objects each run HEADed. 60 objects, one of them
unlocked, ``max_object_heads = 20``: every run HEADs 20, runs with other seeds HEAD other
objects, a run whose sample misses the unlocked object says ``warn`` (never ``pass``) and one
whose sample holds it says ``fail``. Without ``--seed`` the seed comes from the run's time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import S3Server, write_client
from tests.faultproxy import FaultProxy
from tests.test_s3_verify import _add_default_retention_later, _block_public, _encrypt, _put

BUCKET = "sampling-sixty"
UNLOCKED = "Veeam/000-before-the-rule.vbk"


@pytest.fixture(scope="module")
def sampled(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[Path, FaultProxy]]:
    s3 = s3_server.client()
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    _encrypt(s3, BUCKET)
    _block_public(s3, BUCKET)
    _put(s3, BUCKET, UNLOCKED)  # written before the lock rule: no retention
    _add_default_retention_later(BUCKET, "COMPLIANCE", 30)
    _put(s3, BUCKET, *(f"Veeam/{i:03d}.vib" for i in range(1, 60)))
    proxy = FaultProxy(s3_server.host, s3_server.port)
    targets = tmp_path_factory.mktemp("sampling") / "targets"
    write_client(targets, "sixty", f'''client = "sixty"
rpo = "26h"
rto = "4h"

[policy]
max_object_heads = 20

[[targets]]
name = "sixty"
kind = "s3"
bucket = "{BUCKET}"
endpoint_url = "{proxy.url}"
region = "us-east-1"
''')
    yield targets, proxy
    proxy.close()


def run(cli: Any, targets: Path, proxy: FaultProxy, *seed: str) -> tuple[dict[str, Any], set[str]]:
    """One verify: the s3.objects.locked finding and the keys HEADed."""
    proxy.clear()
    result = cli("verify", "--targets", str(targets), "--format", "json", *seed)
    assert "Traceback" not in result.stderr
    checks = {c["id"]: c for c in result.json()["clients"][0]["targets"][0]["checks"]}
    headed = {r.key for r in proxy.requests if r.method == "HEAD" and r.key}
    return checks["s3.objects.locked"], headed


def test_each_seed_examines_its_own_sample_and_none_passes(cli: Any, sampled: Any) -> None:
    targets, proxy = sampled
    union: set[str] = set()
    statuses = set()
    for seed in range(8):
        locked, headed = run(cli, targets, proxy, "--seed", str(seed))
        assert len(headed) == 20
        assert locked["evidence"]["checked"] == 20
        assert locked["evidence"]["current_versions"] == 60
        assert locked["evidence"]["seed"] == seed
        assert locked["evidence"]["sampled"] is True
        expected = "fail" if UNLOCKED in headed else "warn"
        assert locked["status"] == expected, (seed, locked["message"])
        if expected == "warn":
            assert "examined 20 of 60" in locked["message"]
        statuses.add(locked["status"])
        union |= headed
    assert statuses == {"warn", "fail"}  # eight samples: some hold the unlocked object
    assert len(union) > 40  # the samples rotate: together they cover most of the set
    # the same seed examines the same sample again (the evidence's seed reproduces a run)
    _, first = run(cli, targets, proxy, "--seed", "3")
    _, again = run(cli, targets, proxy, "--seed", "3")
    assert first == again


def test_without_a_seed_each_run_draws_a_new_sample(cli: Any, sampled: Any) -> None:
    targets, proxy = sampled
    seeds, samples = set(), []
    for _ in range(3):
        locked, headed = run(cli, targets, proxy)
        seeds.add(locked["evidence"]["seed"])
        samples.append(frozenset(headed))
    assert len(seeds) == 3  # derived from the run's time, recorded in the evidence
    assert len(set(samples)) > 1
