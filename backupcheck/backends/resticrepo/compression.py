"""Decompression of restic repository format 2 (zstd), through the ``zstandard`` binding.

Blobs marked compressed in the index are one zstd frame; "unpacked" files (config, index,
snapshots) carry an encoding byte: ``{`` or ``[`` means plain JSON (format 1, and format 2
with compression off), ``2`` means a zstd frame follows (restic ``doc/design.rst``,
"Unpacked Data Format").
"""

from __future__ import annotations

import zstandard

#: the largest plaintext we accept for one unpacked file or blob (a guard against zstd bombs)
MAX_PLAINTEXT = 1 << 30


class CompressionError(ValueError):
    """Bytes that are not what the format says (bad zstd frame, wrong length, unknown encoding)."""


def decompress(data: bytes, expected_length: int | None = None) -> bytes:
    """One zstd frame; with ``expected_length`` the result must have exactly that length."""
    limit = expected_length if expected_length is not None else MAX_PLAINTEXT
    try:
        out = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    except zstandard.ZstdError as exc:
        raise CompressionError(f"zstd: {exc}") from None
    if len(out) > limit:
        raise CompressionError(f"decompressed to more than {limit} bytes")
    if expected_length is not None and len(out) != expected_length:
        raise CompressionError(f"decompressed to {len(out)} bytes, index says {expected_length}")
    return out


def unpack_document(plaintext: bytes) -> bytes:
    """The JSON bytes of a decrypted config, index or snapshot file."""
    if not plaintext:
        raise CompressionError("empty document")
    first = plaintext[0]
    if first in (ord("{"), ord("[")):
        return plaintext
    if first == 2:
        return decompress(plaintext[1:])
    raise CompressionError(f"unknown encoding version {first}")
