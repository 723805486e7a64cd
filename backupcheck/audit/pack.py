"""The evidence pack on disk: ``report.html``, ``report.json`` and their ``SHA256SUMS``.

Every file is written whole or not at all (``atomic.write_atomic``); the directory is made
only when there is something to write, so a command that fails early leaves nothing behind.
A reader checks the pack with ``sha256sum -c SHA256SUMS`` in it; a signed pack also holds
``SHA256SUMS.sig``, the SSH signature of ``SHA256SUMS`` (``audit.sshsig``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from backupcheck.atomic import write_atomic
from backupcheck.errors import UsageError

if TYPE_CHECKING:  # signing (cryptography, bcrypt) loads only when a pack is signed
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HTML_NAME = "report.html"
JSON_NAME = "report.json"
SUMS_NAME = "SHA256SUMS"
SIG_NAME = "SHA256SUMS.sig"
PACK_FILES = (HTML_NAME, JSON_NAME, SUMS_NAME)


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that cannot become the pack's directory, before any work."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} exists and is not a directory")


def sha256sums(files: Sequence[tuple[str, bytes]]) -> str:
    """``sha256sum`` format: ``<hex>  <name>`` per line (text mode, two spaces)."""
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in files)


def _write(out: Path, name: str, data: bytes) -> Path:
    final = out / name
    try:
        write_atomic(final, data)
    except OSError as exc:
        raise UsageError(f"--out: cannot write {final}: {exc.strerror or exc}") from None
    return final


def verify_command(out: Path | str = ".", signer: str = "SIGNER") -> str:
    """How anyone checks a signed pack's sums with the stock OpenSSH tool."""
    return (f"ssh-keygen -Y verify -f allowed_signers -I {signer} -n backupcheck "
            f"-s {SIG_NAME} < {SUMS_NAME}")


def write_pack(out: Path, html: str, document: str,
               signing_key: Ed25519PrivateKey | None = None) -> tuple[Path, ...]:
    """Write the page, the JSON document and their sums into ``out`` (made when missing),
    and with ``signing_key`` the sums' SSH signature; an earlier pack's signature there is
    removed when this one is not signed (it would not match)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out: cannot create {out}: {exc.strerror or exc}") from None
    contents = [(HTML_NAME, html.encode("utf-8")), (JSON_NAME, document.encode("utf-8"))]
    written = [_write(out, name, data) for name, data in contents]
    sums = sha256sums(contents).encode("ascii")
    written.append(_write(out, SUMS_NAME, sums))
    if signing_key is not None:
        from backupcheck.audit.sshsig import sign  # the signing loads here

        written.append(_write(out, SIG_NAME, sign(sums, signing_key).encode("ascii")))
    else:
        try:
            (out / SIG_NAME).unlink(missing_ok=True)
        except OSError as exc:
            raise UsageError(f"--out: cannot remove the old {out / SIG_NAME}: "
                             f"{exc.strerror or exc}") from None
    return tuple(written)
