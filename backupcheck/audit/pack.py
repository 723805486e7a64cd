"""The evidence pack on disk: ``report.html``, ``report.json`` and their ``SHA256SUMS``.

Every file is written whole or not at all (``atomic.write_atomic``); the directory is made
only when there is something to write, so a command that fails early leaves nothing behind.
A reader checks the pack with ``sha256sum -c SHA256SUMS`` in it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from backupcheck.atomic import write_atomic
from backupcheck.errors import UsageError

HTML_NAME = "report.html"
JSON_NAME = "report.json"
SUMS_NAME = "SHA256SUMS"
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


def write_pack(out: Path, html: str, document: str) -> tuple[Path, ...]:
    """Write the page, the JSON document and their sums into ``out`` (made when missing)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out: cannot create {out}: {exc.strerror or exc}") from None
    contents = [(HTML_NAME, html.encode("utf-8")), (JSON_NAME, document.encode("utf-8"))]
    written = [_write(out, name, data) for name, data in contents]
    written.append(_write(out, SUMS_NAME, sha256sums(contents).encode("ascii")))
    return tuple(written)
