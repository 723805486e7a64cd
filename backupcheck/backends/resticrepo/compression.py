"""Decompression of restic repository format 2 (zstd), through the ``zstandard`` binding.

Blobs marked compressed in the index are one zstd frame; "unpacked" files (config, index,
snapshots) carry an encoding byte: ``{`` or ``[`` means plain JSON (format 1, and format 2
with compression off), ``2`` means a zstd frame follows (restic ``doc/design.rst``,
"Unpacked Data Format").

Output is bounded *while* decompressing (``zstandard``'s stream reader, read in bounded
chunks), never checked only afterwards: a hostile frame that expands far beyond what it may
(a "zip bomb") fails after at most its limit plus one chunk has been produced. The limit of a
blob is the uncompressed length its index entry declares (at most :data:`MAX_PLAINTEXT`); an
unpacked file declares none, so it gets :data:`MAX_DOCUMENT`.
"""

from __future__ import annotations

import zstandard

#: the largest plaintext we accept for one blob, whatever its index entry says (restic's data
#: blobs are at most 8 MiB; a tree blob of a huge directory can be far bigger)
MAX_PLAINTEXT = 1 << 30
#: the largest decompressed config, index or snapshot file: restic (0.14+, the only writers of
#: compressed unpacked files) splits index files at 150,000 blobs, about 30 MiB of JSON, so
#: 512 MiB leaves more than ten times that while refusing a bomb long before memory runs out
MAX_DOCUMENT = 512 << 20
#: output produced per read of the stream (bounds the overshoot past a limit)
CHUNK = 4 << 20


class CompressionError(ValueError):
    """Bytes that are not what the format says (bad zstd frame, wrong length, unknown encoding)."""


def _bounded(data: bytes, limit: int, what: str) -> bytes:
    """One zstd frame decompressed, failing as soon as it exceeds ``limit`` bytes."""
    parts: list[bytes] = []
    produced = 0
    try:
        with zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=False) as reader:
            while chunk := reader.read(min(CHUNK, limit + 1 - produced)):
                produced += len(chunk)
                if produced > limit:
                    raise CompressionError(f"zstd: decompresses to more than {what} "
                                           f"({limit} bytes); stopped there")
                parts.append(chunk)
    except zstandard.ZstdError as exc:
        raise CompressionError(f"zstd: {exc}") from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def decompress(data: bytes, expected_length: int | None = None) -> bytes:
    """One zstd frame; with ``expected_length`` the result must have exactly that length
    (and decompression stops once it is exceeded), without it at most :data:`MAX_DOCUMENT`."""
    if expected_length is None:
        return _bounded(data, MAX_DOCUMENT, "the limit for an unpacked file")
    if expected_length > MAX_PLAINTEXT:
        raise CompressionError(f"index says {expected_length} bytes uncompressed, more than "
                               f"the {MAX_PLAINTEXT} a blob may have")
    out = _bounded(data, expected_length, "the length the index says")
    if len(out) != expected_length:
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
