"""A client file that does not load is reported by exactly one shard, like a client.

Without this, every shard of an Indexed Job would report the same broken file (N ``config``
errors for one file), or — worse — none would.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli, write_client


def test_a_broken_client_file_lands_in_exactly_one_shard(tmp_path: Path) -> None:
    targets = tmp_path / "targets"
    for index in range(6):
        write_client(targets, f"c{index}", f'client = "c{index}"\nrpo = "26h"\nrto = "4h"\n'
                     '[[targets]]\nname = "t"\nkind = "s3"\nbucket = "b"\n'
                     'endpoint_url = "http://127.0.0.1:9"\n')
    write_client(targets, "broken", 'client = "broken"\nrpo = "26h"\nrto = "4h"\nrp0 = "1h"\n')
    reported = []
    for index in range(3):
        result = run_cli("inventory", "--targets", str(targets), "--format", "json",
                         "--shard", f"{index}/3")
        assert "Traceback" not in result.stderr, result.stderr
        document = result.json()
        assert document["shard"] == f"{index}/3"
        for client in document["clients"]:
            if client["client"] == "broken":
                assert client["status"] == "error"
                reported.append(index)
    assert len(reported) == 1
