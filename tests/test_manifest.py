"""Manifest build and load: real files in tmp_path, digests checked against xxhsum -H2."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xxhash

from backupcheck.backends.s3guard import make_s3_client
from backupcheck.errors import ConfigError, TargetUnavailable, UsageError
from backupcheck.manifest import batch, build
from backupcheck.manifest.build import build_manifest
from backupcheck.manifest.hashing import hash_file, hash_stream
from backupcheck.manifest.load import load_manifest
from backupcheck.manifest.schema import MANIFEST_SCHEMA, ManifestEntry

needs_xxhsum = pytest.mark.skipif(shutil.which("xxhsum") is None, reason="xxhsum not installed")


def xxhsum(path: Path) -> str:
    out = subprocess.run(["xxhsum", "-H2", str(path)], check=True, capture_output=True,
                         text=True).stdout
    digest, _, name = out.rstrip("\n").partition("  ")
    assert name == str(path)
    return digest


def rows(path: Path) -> dict[str, dict[str, Any]]:
    return {row["path"]: row for row in pq.read_table(path).to_pylist()}


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    write(root / "empty", b"")
    write(root / "one", b"x")
    write(root / "big.bin", os.urandom((1 << 20) + 17))  # > 1 MiB: the chunked path
    write(root / "mid.bin", os.urandom(300_000))  # above the one-read limit
    write(root / "dir" / "sub" / "deep.txt", b"deep\n" * 1000)
    write(root / "Ünïcödé" / "日本語 ファイル.txt", "grüße".encode())
    write(root / "a.b", b"1")
    write(root / "a" / "x", b"2")
    write(root / "a0", b"3")
    return root


# ---------------------------------------------------------------- build


@needs_xxhsum
def test_digests_equal_xxhsum(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    stats = build_manifest(tree, out)
    found = rows(out)
    files = sorted(p for p in tree.rglob("*") if p.is_file())
    assert sorted(found) == sorted(p.relative_to(tree).as_posix() for p in files)
    for path in files:
        row = found[path.relative_to(tree).as_posix()]
        assert row["xxh3_128"] == xxhsum(path)
        assert row["size"] == path.stat().st_size
        assert row["mtime_ns"] == path.stat().st_mtime_ns
        assert row["kind"] == "file"
    assert found["empty"]["xxh3_128"] == "99aa06d3014798d86001c324468d497f"
    assert stats.files == len(files)
    assert stats.bytes == sum(p.stat().st_size for p in files)
    assert stats.unreadable == () and stats.symlinks == 0


@needs_xxhsum
def test_hash_file_and_hash_stream_equal_xxhsum(tree: Path) -> None:
    big = tree / "big.bin"
    assert hash_file(big) == (xxhsum(big), big.stat().st_size)
    chunks: list[int] = []
    digest, size = hash_stream(io.BytesIO(big.read_bytes()), chunk=100_000,
                               on_chunk=chunks.append)
    assert (digest, size) == (xxhsum(big), big.stat().st_size)
    assert sum(chunks) == size and len(chunks) == 11
    assert hash_stream(io.BytesIO(b"")) == ("99aa06d3014798d86001c324468d497f", 0)


def test_rows_are_sorted_by_path(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    build_manifest(tree, out)
    paths = pq.read_table(out).column("path").to_pylist()
    assert paths == sorted(paths)
    assert paths.index("a.b") < paths.index("a/x") < paths.index("a0")


def test_schema_is_exact(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.parquet"
    build_manifest(tree, out)
    schema = pq.read_schema(out)
    assert schema.equals(MANIFEST_SCHEMA)
    assert schema.names[:4] == ["path", "size", "mtime_ns", "xxh3_128"]
    assert [str(t) for t in schema.types] == ["string", "int64", "int64", "string", "string"]


def test_build_twice_gives_identical_content(tree: Path, tmp_path: Path) -> None:
    build_manifest(tree, tmp_path / "1.parquet")
    build_manifest(tree, tmp_path / "2.parquet")
    assert pq.read_table(tmp_path / "1.parquet").equals(pq.read_table(tmp_path / "2.parquet"))


def test_process_pool_gives_the_same_manifest_as_serial(
        tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(300):  # several batches, so results come back out of order
        write(tree / "many" / f"{i % 7}" / f"f{i:03d}", os.urandom(i * 37))
    os.symlink("../empty", tree / "many" / "link")
    serial = build_manifest(tree, tmp_path / "serial.parquet", workers=1)
    monkeypatch.setattr(build, "SERIAL_MAX_FILES", 0)
    monkeypatch.setattr(build, "BATCH_ITEMS", 16)
    seen: list[tuple[int, int]] = []
    pooled = build_manifest(tree, tmp_path / "pool.parquet", workers=2,
                            progress=lambda f, b: seen.append((f, b)))
    assert serial.method == "serial" and pooled.method.startswith("processes:")
    assert pq.read_table(tmp_path / "serial.parquet").equals(
        pq.read_table(tmp_path / "pool.parquet"))
    assert (pooled.files, pooled.bytes, pooled.symlinks) == (serial.files, serial.bytes, 1)
    assert seen[-1] == (pooled.files + pooled.symlinks, pooled.bytes)


def test_symlinks_recorded_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside / "secret.txt", b"not part of the tree")
    root = tmp_path / "src"
    write(root / "real.txt", b"data")
    os.symlink(outside, root / "to_outside_dir")
    os.symlink("real.txt", root / "to_file")
    os.symlink("/nonexistent/target", root / "dangling")
    out = tmp_path / "m.parquet"
    stats = build_manifest(root, out)
    found = rows(out)
    assert set(found) == {"real.txt", "to_outside_dir", "to_file", "dangling"}
    assert not any("secret" in path for path in found)
    for name, target in [("to_outside_dir", str(outside)), ("to_file", "real.txt"),
                         ("dangling", "/nonexistent/target")]:
        row = found[name]
        assert row["kind"] == "symlink"
        assert row["size"] == len(target.encode())
        assert row["xxh3_128"] == xxhash.xxh3_128_hexdigest(target.encode())
        assert row["mtime_ns"] == os.lstat(root / name).st_mtime_ns
    assert (stats.files, stats.symlinks) == (1, 3)


def test_symlinked_root_is_followed(tmp_path: Path) -> None:
    write(tmp_path / "real" / "f", b"1")
    os.symlink(tmp_path / "real", tmp_path / "link")
    build_manifest(tmp_path / "link", tmp_path / "m.parquet")
    assert set(rows(tmp_path / "m.parquet")) == {"f"}


def test_unreadable_and_vanished_files_are_reported_not_fatal(
        tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, so chmod 000 would not stop a read: fail open() for one path
    # instead, and really delete another between the walk and its hashing.
    real_open = os.open
    denied, vanishing = str(tree / "one"), str(tree / "dir" / "sub" / "deep.txt")

    def fake_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path) == denied:
            raise PermissionError(13, "Permission denied", path)
        if str(path) == vanishing:
            os.unlink(path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)
    out = tmp_path / "m.parquet"
    stats = build_manifest(tree, out, workers=1)
    assert stats.unreadable == (("dir/sub/deep.txt", "vanished before it could be read"),
                                ("one", "permission denied"))
    found = rows(out)
    assert "one" not in found and "dir/sub/deep.txt" not in found
    assert "empty" in found and stats.files == len(found)


def test_unreadable_directory_is_reported(
        tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_scandir = os.scandir
    blocked = str(tree.resolve() / "dir" / "sub")

    def fake_scandir(path: Any) -> Any:
        if str(path) == blocked:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", fake_scandir)
    stats = build_manifest(tree, tmp_path / "m.parquet")
    assert stats.unreadable == (("dir/sub/", "permission denied"),)


def test_fifo_is_skipped_and_a_file_turned_fifo_is_unreadable(tmp_path: Path) -> None:
    root = tmp_path / "src"
    write(root / "f", b"1")
    os.mkfifo(root / "pipe")
    stats = build_manifest(root, tmp_path / "m.parquet")
    assert (stats.files, stats.special, stats.unreadable) == (1, 1, ())
    # the walk saw a regular file, then it was replaced by a FIFO: no hang, reported
    result = batch.hash_items(str(root), [("pipe", False)], batch.ByteMeter(print))
    assert result.paths == [] and result.unreadable == [("pipe", "no longer a regular file")]


def test_file_name_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "src"
    write(root / "ok", b"1")
    try:
        fd = os.open(os.fsencode(root) + b"/bad\xffname", os.O_CREAT | os.O_WRONLY)
    except OSError:
        pytest.skip("filesystem refuses non-UTF-8 names")
    os.close(fd)
    stats = build_manifest(root, tmp_path / "m.parquet")
    assert stats.unreadable == (("bad\\xffname", "name is not valid UTF-8; not recorded"),)
    assert set(rows(tmp_path / "m.parquet")) == {"ok"}


def test_output_inside_the_tree_is_not_recorded(tree: Path) -> None:
    out = tree / "manifest.parquet"
    build_manifest(tree, out)
    build_manifest(tree, out)  # the earlier manifest is skipped as well
    assert "manifest.parquet" not in rows(out)
    assert not [p for p in tree.iterdir() if p.name.endswith(".tmp")]


def test_interrupted_build_leaves_nothing(tree: Path, tmp_path: Path) -> None:
    def stop(files: int, nbytes: int) -> None:
        raise KeyboardInterrupt

    out = tmp_path / "m.parquet"
    with pytest.raises(KeyboardInterrupt):
        build_manifest(tree, out, progress=stop)
    assert list(tmp_path.iterdir()) == [tree]


def test_progress_reports_the_totals(tree: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    stats = build_manifest(tree, tmp_path / "m.parquet", progress=lambda f, b: calls.append((f, b)))
    assert calls[-1] == (stats.files, stats.bytes)


def test_root_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        build_manifest(tmp_path / "missing", tmp_path / "m.parquet")
    write(tmp_path / "file", b"")
    with pytest.raises(UsageError):
        build_manifest(tmp_path / "file", tmp_path / "m.parquet")


def test_empty_tree_gives_an_empty_manifest(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    stats = build_manifest(tmp_path / "src", tmp_path / "m.parquet")
    assert stats.files == 0 and pq.read_table(tmp_path / "m.parquet").num_rows == 0
    assert len(load_manifest(str(tmp_path / "m.parquet"), base_dir=None)) == 0


# ---------------------------------------------------------------- load


def test_load_round_trip_relative_to_base_dir(tree: Path, tmp_path: Path) -> None:
    targets = tmp_path / "targets"
    build_manifest(tree, targets / "manifests" / "m.parquet")
    loaded = load_manifest("manifests/m.parquet", base_dir=targets)
    assert len(loaded) == len(rows(targets / "manifests" / "m.parquet"))
    entry = loaded.lookup("Ünïcödé/日本語 ファイル.txt")
    assert entry is not None
    assert entry.size == len("grüße".encode())
    assert entry.xxh3_128 == xxhash.xxh3_128_hexdigest("grüße".encode())
    assert entry.kind == "file"
    assert loaded.lookup("nope") is None and "one" in loaded


def good_columns() -> dict[str, pa.Array]:
    return {
        "path": pa.array(["a.txt", "dir/b.txt"]),
        "size": pa.array([1, 2], pa.int64()),
        "mtime_ns": pa.array([10, 20], pa.int64()),
        "xxh3_128": pa.array(["0" * 32, "ABCDEF0123456789abcdef0123456789"]),
    }


def write_manifest(target: Path, **changes: pa.Array | None) -> Path:
    columns = {**good_columns(), **changes}
    pq.write_table(pa.table({k: v for k, v in columns.items() if v is not None}), target)
    return target


def test_load_accepts_four_columns_and_normalises_digests(tmp_path: Path) -> None:
    loaded = load_manifest(str(write_manifest(tmp_path / "m.parquet")), base_dir=None)
    entry = loaded.lookup("dir/b.txt")
    assert entry == ManifestEntry(2, 20, "abcdef0123456789abcdef0123456789", "file")


def test_load_accepts_other_integer_widths(tmp_path: Path) -> None:
    path = write_manifest(tmp_path / "m.parquet", size=pa.array([1, 2], pa.int32()))
    assert load_manifest(str(path), base_dir=None).lookup("a.txt") is not None


@pytest.mark.parametrize(("changes", "key", "words"), [
    ({"size": None}, "size", "missing column"),
    ({"xxh3_128": None}, "xxh3_128", "missing column"),
    ({"size": pa.array(["1", "2"])}, "size", "expected int64"),
    ({"mtime_ns": pa.array([1.0, 2.0])}, "mtime_ns", "expected int64"),
    ({"path": pa.array([1, 2])}, "path", "expected string"),
    ({"size": pa.array([2**63 + 1, 1], pa.uint64())}, "size", "int64"),
    ({"mtime_ns": pa.array([1, None], pa.int64())}, "mtime_ns", "null value"),
    ({"path": pa.array(["a", None])}, "path", "null value"),
    ({"xxh3_128": pa.array(["0" * 32, None])}, "xxh3_128", "null value"),
    ({"xxh3_128": pa.array(["0" * 31, "0" * 32])}, "xxh3_128", "not 32 hexadecimal"),
    ({"xxh3_128": pa.array(["0" * 32, "g" * 32])}, "xxh3_128", "row 1"),
    ({"path": pa.array(["a", "a"])}, "path", "duplicate path 'a'"),
    ({"path": pa.array(["a", "/etc/passwd"])}, "path", "absolute path"),
    ({"path": pa.array(["a", "x/../../etc/passwd"])}, "path", "'..' segment"),
    ({"path": pa.array(["..", "b"])}, "path", "'..' segment"),
    ({"path": pa.array(["a", "./b"])}, "path", "not normalised"),
    ({"path": pa.array(["a", ""])}, "path", "empty path"),
    ({"size": pa.array([-1, 2], pa.int64())}, "size", "negative size"),
    ({"kind": pa.array(["file", "dir"])}, "kind", "'dir' is not"),
])
def test_load_rejects_malformed_manifests(tmp_path: Path, changes: dict[str, pa.Array | None],
                                          key: str, words: str) -> None:
    path = write_manifest(tmp_path / "m.parquet", **changes)
    with pytest.raises(ConfigError) as caught:
        load_manifest(str(path), base_dir=None)
    error = caught.value
    assert error.exit_code == 2 and error.key == key and error.file == str(path)
    assert words in str(error)
    assert str(path) in str(error)


def test_load_rejects_a_file_that_is_not_parquet(tmp_path: Path) -> None:
    path = write(tmp_path / "m.parquet", b"path,size\na,1\n")
    with pytest.raises(ConfigError, match="not a readable Parquet file"):
        load_manifest(str(path), base_dir=None)


def test_load_rejects_a_truncated_manifest(tree: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    build_manifest(tree, good)
    data = good.read_bytes()
    for cut in (len(data) // 2, len(data) - 3):
        bad = write(tmp_path / f"cut{cut}.parquet", data[:cut])
        with pytest.raises(ConfigError, match="not a readable Parquet file") as caught:
            load_manifest(str(bad), base_dir=None)
        assert caught.value.exit_code == 2


def test_load_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="manifest file not found") as caught:
        load_manifest("manifests/none.parquet", base_dir=tmp_path)
    assert caught.value.file == str(tmp_path / "manifests" / "none.parquet")


def test_load_from_s3(s3_server: Any, tree: Path, tmp_path: Path) -> None:
    local = tmp_path / "m.parquet"
    build_manifest(tree, local)
    setup = s3_server.client()
    setup.create_bucket(Bucket="manifests-bucket")
    setup.put_object(Bucket="manifests-bucket", Key="acme/latest.parquet",
                     Body=local.read_bytes())
    setup.put_object(Bucket="manifests-bucket", Key="acme/broken.parquet", Body=b"PAR1 nope")

    def factory() -> Any:
        return make_s3_client(endpoint_url=s3_server.url)

    loaded = load_manifest("s3://manifests-bucket/acme/latest.parquet", base_dir=None,
                           s3_client_factory=factory)
    assert len(loaded) == len(rows(local))
    assert loaded.lookup("one") == load_manifest(str(local), base_dir=None).lookup("one")

    with pytest.raises(ConfigError, match="not found") as caught:
        load_manifest("s3://manifests-bucket/acme/none.parquet", base_dir=None,
                      s3_client_factory=factory)
    assert caught.value.file == "s3://manifests-bucket/acme/none.parquet"
    with pytest.raises(ConfigError, match="not a readable Parquet file"):
        load_manifest("s3://manifests-bucket/acme/broken.parquet", base_dir=None,
                      s3_client_factory=factory)
    with pytest.raises(ConfigError, match="s3://bucket/key"):
        load_manifest("s3://manifests-bucket", base_dir=None, s3_client_factory=factory)


def test_load_from_unreachable_s3_is_target_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TargetUnavailable) as caught:
        load_manifest("s3://b/k.parquet", base_dir=None,
                      s3_client_factory=lambda: make_s3_client(
                          endpoint_url=f"http://127.0.0.1:{port}"))
    assert caught.value.exit_code == 3 and "s3://b/k.parquet" in str(caught.value)
