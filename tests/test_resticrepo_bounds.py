"""Issue 14 review: memory of the native reader is bounded by what it really holds.

Bytes in flight are counted as the plaintext they become (a compressed blob of 100 stored
bytes may be 8 MiB once read), a drill's shared runs count fetches still in flight against
their limit, nothing is held once the plan is released, and an unexpected error gives back
what was reserved. Each test failed on the reader before these bounds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import pytest

from backupcheck.backends.resticrepo.blobs import FileStream, group_reads
from backupcheck.backends.resticrepo.crypto import OVERHEAD
from backupcheck.backends.resticrepo.index import BlobEntry, Index
from backupcheck.backends.resticrepo.runs import SharedRuns


def _compressed(pack: str, offset: int, stored: int, plain: int) -> BlobEntry:
    return BlobEntry(pack, "data", offset, stored, plain)


def test_a_read_of_compressed_neighbours_is_bounded_by_their_plaintext() -> None:
    # four blobs of 100 stored bytes that each decompress to 400: one read of all four would
    # hand 1,600 bytes of plaintext at once to a caller that allowed 1,000
    blobs = [(c, _compressed("p", 100 * i, 100, 400)) for i, c in enumerate("abcd")]
    assert [[b for b, _ in g] for g in group_reads(blobs, limit=1000)] == [["a", "b"],
                                                                          ["c", "d"]]


def test_a_stored_blob_counts_its_stored_length_less_the_envelope() -> None:
    assert BlobEntry("p", "data", 0, 1000).plain_size == 1000 - OVERHEAD
    assert BlobEntry("p", "data", 0, 100, 5000).plain_size == 5000


class _HeldPool:
    """An executor that starts nothing: it records what a stream puts in flight."""

    def __init__(self) -> None:
        self.submitted: list[tuple[object, ...]] = []

    def submit(self, fn: Callable[..., object], *args: object) -> Future[object]:
        self.submitted.append(args)
        return Future()


def test_read_ahead_counts_the_plaintext_that_is_in_flight() -> None:
    # each blob in a pack of its own: one read each
    entries = {f"{i:064x}": _compressed(f"p{i}", 0, 1000, 1 << 20) for i in range(64)}
    index = Index([])
    index.blobs.update(entries)
    pool = _HeldPool()
    stream = FileStream(None, None, index, list(entries), pool,  # type: ignore[arg-type]
                        read_ahead=4 << 20)
    stream._fill()
    # 1 MiB of plaintext per blob: 4 MiB of read-ahead is four blobs in flight, not 64
    in_flight = sum(len(args[2]) for args in pool.submitted)  # type: ignore[arg-type]
    assert in_flight == 4


class _SlowStorage:
    """Pack bytes of any length after a pause, so concurrent fetches overlap; records the
    most bytes ever held by the runs plus fetched at once. A read of the ``gated`` pack
    waits for ``gate`` (and sets ``entered``)."""

    location = "slow"

    def __init__(self, gate: threading.Event | None = None, gated: str = "") -> None:
        self.runs: SharedRuns | None = None
        self.inflight = self.peak = 0
        self.lock = threading.Lock()
        self.gate, self.gated = gate, gated
        self.entered = threading.Event()
        self.fail: type[BaseException] | None = None

    def read(self, kind: str, name: str, offset: int = 0, length: int | None = None) -> bytes:
        assert length is not None and self.runs is not None
        if self.fail is not None:
            raise self.fail("the storage broke")
        with self.lock:
            self.inflight += length
            self.peak = max(self.peak, self.inflight + self.runs._held_bytes)
        if self.gate is not None and name == self.gated:
            self.entered.set()
            self.gate.wait(10)
        else:
            time.sleep(0.05)
        with self.lock:
            self.inflight -= length
        return bytes(length)

    def list(self, kind: str) -> list[tuple[str, int]]:
        return []

    def object_key(self, kind: str, name: str) -> str:
        return name

    def close(self) -> None:
        pass


def _runs(storage: _SlowStorage, planned: list[tuple[str, BlobEntry]],
          **limits: int) -> SharedRuns:
    runs = SharedRuns(storage, planned, **limits)  # type: ignore[arg-type]
    storage.runs = runs
    return runs


RUN = 10_000


def _planned(runs: int) -> list[tuple[str, BlobEntry]]:
    # one blob per pack: every blob is a run of its own
    return [(f"{i:064x}", BlobEntry(f"{i:064x}", "data", 0, RUN)) for i in range(runs)]


def test_fetches_in_flight_count_against_the_held_limit() -> None:
    storage = _SlowStorage()
    planned = _planned(12)
    runs = _runs(storage, planned, held_max=int(2.5 * RUN))
    threads = [threading.Thread(target=runs.take, args=planned[i]) for i in range(0, 12, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runs.release()
    assert storage.peak <= 2.5 * RUN
    assert runs.fetches >= 1


def test_nothing_is_held_once_the_plan_is_released() -> None:
    gate = threading.Event()
    planned = _planned(3)
    storage = _SlowStorage(gate, gated=planned[0][1].pack)
    runs = _runs(storage, planned * 2)  # two uses each: a run stays held after one take
    got: list[object] = []
    taker = threading.Thread(target=lambda: got.append(runs.take(*planned[0])))
    taker.start()
    assert storage.entered.wait(10)
    releaser = threading.Thread(target=runs.release)
    releaser.start()
    time.sleep(0.2)
    gate.set()
    taker.join()
    releaser.join()
    assert got and got[0] is not None and len(got[0]) == RUN  # type: ignore[arg-type]
    assert runs._held_bytes == 0 and not runs._held
    assert runs.take(*planned[0]) is None


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_unexpected_error_gives_back_what_was_reserved(error: type[BaseException]) -> None:
    storage = _SlowStorage()
    planned = _planned(2)
    runs = _runs(storage, planned * 2, held_max=RUN)
    storage.fail = error
    with pytest.raises(error):
        runs.take(*planned[1])
    storage.fail = None
    if runs._ahead is not None:
        runs._ahead.shutdown(wait=True)
    assert runs._reserved == 0
    stored = runs.take(*planned[1])  # the room is there again: the run is fetched and shared
    assert stored is not None and len(stored) == RUN
    assert runs._held_bytes == RUN
    runs.release()
