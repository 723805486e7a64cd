"""Issue 13: compound durations such as ``4h30m`` are accepted where a duration is written
(the SPEC's form); a bare number and anything that is not a sum of units stay refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from backupcheck.config import load_client
from backupcheck.units import parse_duration
from tests.conftest import write_client


@pytest.mark.parametrize(("text", "seconds"), [
    ("4h30m", 4.5 * 3600), ("1h30m", 5400), ("2d12h", 2.5 * 86400), ("1w2d", 9 * 86400),
    ("1m30s", 90), (" 4h30m ", 4.5 * 3600), ("1h0m", 3600),
])
def test_a_compound_duration_is_the_sum_of_its_parts(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["4h30", "30m4", "h30m", "4h-30m", "4hh", "4h30x", "240",
                                  "4h30m?", "0h0m"])
def test_a_malformed_compound_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration"):
        parse_duration(text)


def test_a_client_file_with_a_compound_rto_loads(tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme", 'client = "acme"\nrpo = "1d2h"\nrto = "4h30m"\n'
                        '[[targets]]\nname = "r"\nkind = "restic"\nrepository = "/r"\n'
                        'password_env = "X"\n')
    client = load_client(path)
    assert (client.rpo_seconds, client.rto_seconds) == (26 * 3600, 4.5 * 3600)
