"""Issue 13: a typo of a required key (``rp0`` for ``rpo``) names the unknown key as well as
the missing one, in the one-line error, at the line of the typo."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli, write_client

TARGET = '[[targets]]\nname = "t"\nkind = "restic"\nrepository = "/nowhere"\npassword_env = "X"\n'


def _one_line(targets: Path) -> str:
    result = run_cli("verify", "--targets", str(targets), "--format", "json")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(("body", "missing", "typo", "line"), [
    ('client = "acme"\nrp0 = "26h"\nrto = "4h"\n' + TARGET, "rpo", "rp0", 2),
    ('client = "acme"\nrpo = "26h"\nRTO = "4h"\n' + TARGET, "rto", "RTO", 3),
    ('clinet = "acme"\nrpo = "26h"\nrto = "4h"\n' + TARGET, "client", "clinet", 1),
    ('client = "acme"\nrpo = "26h"\nrto = "4h"\n'
     + TARGET.replace("repository =", "repo ="), "targets[0].repository", "repo", 7),
])
def test_a_typo_of_a_required_key_names_both_keys(
        tmp_path: Path, body: str, missing: str, typo: str, line: int) -> None:
    path = write_client(tmp_path, "acme", body)
    message = _one_line(tmp_path)
    assert f"{path}:{line}: {missing}: required key is missing" in message, message
    assert f"unknown key '{typo}'" in message, message


def test_a_missing_key_without_a_typo_names_no_unknown_key(tmp_path: Path) -> None:
    path = write_client(tmp_path, "acme", 'client = "acme"\nrto = "4h"\n' + TARGET)
    message = _one_line(tmp_path)
    assert f"{path}: rpo: required key is missing" in message, message
    assert "unknown" not in message, message


def test_the_known_target_keys_are_every_key_a_target_reads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key added to the loader but not to ``_TARGET_KEYS`` would be called "unknown"."""
    from backupcheck import config
    from backupcheck.config_reader import TableReader

    read: set[str] = set()
    original = TableReader.reject_unknown

    def recording(self: TableReader) -> None:
        if self.prefix.startswith("targets["):
            read.update(self.used)
        original(self)

    monkeypatch.setattr(TableReader, "reject_unknown", recording)
    body = ('client = "acme"\nrpo = "26h"\nrto = "4h"\n' + TARGET
            + '[[targets]]\nname = "s"\nkind = "s3"\nbucket = "b"\n')
    config.load_client(write_client(tmp_path, "acme", body))
    assert {"bucket", "repository", "password_file"} <= read
    assert read <= set(config._TARGET_KEYS)
    assert set(config._TOP_KEYS) == {"client", "rpo", "rto", "policy", "targets"}
