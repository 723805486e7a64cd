"""Issue 14: zstd output is bounded while decompressing, not checked afterwards.

A crafted frame (64 MiB of zeros, about 2 KiB compressed: a "zip bomb") must fail with a clear
error after producing at most its limit plus one chunk: for a blob the uncompressed length its
index entry declares, for an unpacked file (index, snapshot) ``MAX_DOCUMENT``. tracemalloc's
peak shows the full output was never allocated.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest
import zstandard

from backupcheck.backends.resticrepo import compression
from backupcheck.backends.resticrepo.compression import (
    CompressionError,
    decompress,
    unpack_document,
)

BOMB_SIZE = 64 << 20
#: far below the bomb's size: what decompressing up to a small limit may cost at most
BOUNDED = 16 << 20


def _bomb(*, declare_size: bool) -> bytes:
    """64 MiB of zeros as one frame; with ``declare_size`` its header says so (as restic's
    encoder writes), without it the header says nothing (a streaming writer)."""
    cctx = zstandard.ZstdCompressor(level=3)
    if declare_size:
        return cctx.compress(bytes(BOMB_SIZE))
    stream = cctx.compressobj()
    chunk = bytes(1 << 20)
    parts = [stream.compress(chunk) for _ in range(BOMB_SIZE >> 20)]
    return b"".join(parts) + stream.flush()


def _peak(action: Callable[[], object]) -> tuple[int, BaseException | None]:
    tracemalloc.start()
    try:
        action()
        error: BaseException | None = None
    except CompressionError as exc:
        error = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, error


@pytest.mark.parametrize("declare_size", [True, False])
def test_a_blob_bomb_stops_at_its_declared_length(declare_size: bool) -> None:
    bomb = _bomb(declare_size=declare_size)
    assert len(bomb) < 64 << 10
    peak, error = _peak(lambda: decompress(bomb, 1024))
    assert error is not None, "a 64 MiB frame passed as a 1 KiB blob"
    assert "more than the length the index says (1024 bytes)" in str(error)
    assert peak < BOUNDED, f"decompressing allocated {peak >> 20} MiB"


@pytest.mark.parametrize("declare_size", [True, False])
def test_a_document_bomb_stops_at_max_document(declare_size: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # the real cap (512 MiB) would make the test allocate that much; the mechanism is the same
    monkeypatch.setattr(compression, "MAX_DOCUMENT", 2 << 20)
    sealed = b"\x02" + _bomb(declare_size=declare_size)
    peak, error = _peak(lambda: unpack_document(sealed))
    assert error is not None, "a 64 MiB index file passed a 2 MiB cap"
    assert "more than the limit for an unpacked file (2097152 bytes)" in str(error)
    assert peak < BOUNDED, f"decompressing allocated {peak >> 20} MiB"


def test_the_document_cap_is_the_documented_512_mib() -> None:
    assert compression.MAX_DOCUMENT == 512 << 20


def test_honest_frames_still_decompress_exactly() -> None:
    payload = bytes(range(256)) * 40_000 + b"tail"  # > one CHUNK, several reads
    frame = zstandard.ZstdCompressor(level=3).compress(payload)
    assert decompress(frame, len(payload)) == payload
    assert unpack_document(b"\x02" + zstandard.ZstdCompressor().compress(b'{"a": 1}')) \
        == b'{"a": 1}'
    with pytest.raises(CompressionError, match="decompressed to 10 bytes, index says 11"):
        decompress(zstandard.ZstdCompressor().compress(b"0123456789"), 11)
    with pytest.raises(CompressionError, match="more than the 1073741824 a blob may have"):
        decompress(frame, (1 << 30) + 1)
    with pytest.raises(CompressionError, match="zstd"):
        decompress(b"not a zstd frame at all", 10)
