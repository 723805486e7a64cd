"""What the command line loads to start: a run that signs nothing never loads the audit pack's
signing (``audit.sshsig``, and through it ``cryptography``'s SSH keys and ``bcrypt``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: loaded only to sign or check an evidence pack (``audit --sign-key``, ``audit verify``)
SIGNING = ("backupcheck.audit.sshsig", "backupcheck.audit.verify_pack", "bcrypt",
           "cryptography.hazmat.primitives.serialization.ssh")


def modules_loaded(*argv: str) -> set[str]:
    """Every module ``python -m backupcheck ARGV`` imports, as ``-X importtime`` lists them."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "backupcheck", *argv],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("argv", [("--help",), ("verify", "--help")])
def test_help_does_not_load_the_audit_signing(argv: tuple[str, ...]) -> None:
    loaded = modules_loaded(*argv)
    assert "backupcheck.cli.run_commands" in loaded  # the listing is read (the CLI did load)
    assert sorted(m for m in SIGNING if m in loaded) == []
    assert not any(m == "cryptography" or m.startswith("cryptography.") for m in loaded)
