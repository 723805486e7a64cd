"""Issue 14: zstd output is bounded while decompressing, not checked afterwards.

A crafted frame (64 MiB of zeros, about 2 KiB compressed: a "zip bomb") must fail with a clear
error after producing at most its limit plus one chunk: for a blob the uncompressed length its
index entry declares, for an unpacked file (index, snapshot) ``MAX_DOCUMENT``. tracemalloc's
peak shows the full output was never allocated. The same frames, sealed with a real
repository's key and planted in it, fail as a BlobError / RepositoryError naming the file.
"""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zstandard
from cryptography.hazmat.primitives import poly1305
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from backupcheck.backends.resticrepo import compression
from backupcheck.backends.resticrepo.blobs import BlobError, read_blob
from backupcheck.backends.resticrepo.compression import (
    CompressionError,
    decompress,
    unpack_document,
)
from backupcheck.backends.resticrepo.crypto import MasterKey
from backupcheck.backends.resticrepo.index import BlobEntry
from backupcheck.backends.resticrepo.repo import Repository, RepositoryError
from backupcheck.backends.resticrepo.storage import LocalStorage
from tests.restic_helpers import PASSWORD, init_local_repo, make_tree

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


def _peak(action: Callable[[], object],
          expected: type[Exception] = CompressionError) -> tuple[int, Exception | None]:
    """tracemalloc's peak while ``action`` runs, and the ``expected`` error it raised."""
    tracemalloc.start()
    try:
        action()
        error: Exception | None = None
    except expected as exc:
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


# ---------------------------------------------------------------- through a real repository


def _seal(key: MasterKey, plaintext: bytes) -> bytes:
    """restic's ``IV || AES-256-CTR(plaintext) || Poly1305-AES tag`` (the inverse of
    ``crypto.decrypt``), so a bomb can be planted the way a hostile writer with the key would."""
    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(key.encrypt), modes.CTR(iv)).encryptor()
    body = encryptor.update(plaintext) + encryptor.finalize()
    block = Cipher(algorithms.AES(key.mac_k), modes.ECB()).encryptor()  # noqa: S305
    tag = poly1305.Poly1305.generate_tag(key.mac_r + block.update(iv) + block.finalize(), body)
    return iv + body + tag


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[Repository]:
    repo = init_local_repo(tmp_path, "bombed")
    repo.backup(make_tree(tmp_path / "src", {"a.txt": b"alpha\n"}))
    opened = Repository(LocalStorage(repo.repository), PASSWORD.encode())
    try:
        yield opened
    finally:
        opened.close()


def test_a_bomb_blob_in_a_repository_is_a_blob_error(repository: Repository) -> None:
    sealed = _seal(repository.key, _bomb(declare_size=True))
    pack = hashlib.sha256(sealed).hexdigest()
    path = Path(repository.storage.location) / "data" / pack[:2] / pack
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(sealed)
    entry = BlobEntry(pack, "data", 0, len(sealed), uncompressed_length=1024)
    peak, error = _peak(lambda: read_blob(repository.storage, repository.key, "00" * 32,
                                             entry), BlobError)
    assert error is not None
    assert f"in pack {pack}: zstd: decompresses to more than the length the index says" \
        in str(error)
    assert peak < BOUNDED, f"reading the blob allocated {peak >> 20} MiB"


def test_a_bomb_index_file_in_a_repository_is_a_repository_error(
        repository: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "MAX_DOCUMENT", 2 << 20)
    sealed = _seal(repository.key, b"\x02" + _bomb(declare_size=False))
    name = hashlib.sha256(sealed).hexdigest()
    (Path(repository.storage.location) / "index" / name).write_bytes(sealed)
    peak, error = _peak(lambda: repository.document("index", name), RepositoryError)
    assert error is not None
    assert f"index/{name}: zstd: decompresses to more than the limit for an unpacked file" \
        in str(error)
    assert peak < BOUNDED, f"reading the index file allocated {peak >> 20} MiB"
