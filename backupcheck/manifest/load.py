"""Loading a manifest for a drill: read its Parquet and validate every row strictly.

A manifest is ground truth, so a malformed one is a configuration error naming the file, the
column and the first bad row, never a silently shorter truth.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from backupcheck.errors import ConfigError
from backupcheck.manifest.schema import KIND_FILE, KIND_SYMLINK, REQUIRED_COLUMNS, Manifest
from backupcheck.manifest.source import locate_manifest

_DIGEST = r"^[0-9a-fA-F]{32}$"
_BAD_PATH = r"^$|^/|//|/$|(^|/)\.\.?(/|$)"


def load_manifest(location: str, *, base_dir: Path | None,
                  s3_client_factory: Callable[[], Any] | None = None) -> Manifest:
    """Load and strictly validate a manifest from a local path or an ``s3://bucket/key`` URL.

    A relative local path is resolved against ``base_dir`` (the targets directory). Every
    malformed manifest raises :class:`ConfigError` naming the file, the column and the
    problem; an S3 manifest that cannot be fetched (denied, unreachable) raises
    :class:`TargetUnavailable`. Digests are normalised to lowercase.
    """
    source = locate_manifest(location, base_dir=base_dir, s3_client_factory=s3_client_factory)
    content = source.content
    table = _read_parquet(pa.BufferReader(content) if isinstance(content, bytes) else content,
                          source.where)
    return Manifest(source.where, _validated_rows(table, source.where))


def _read_parquet(source: Any, where: str) -> Any:
    try:
        return pq.read_table(source)
    except (pa.ArrowException, OSError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(where, f"not a readable Parquet file (truncated or another format): "
                          f"{detail}") from exc


def _validated_rows(table: Any, where: str) -> dict[str, tuple[int, int, str, str]]:
    names = table.schema.names
    for name in (*REQUIRED_COLUMNS, "kind"):
        if names.count(name) > 1:
            raise ConfigError(where, "column appears more than once", key=name)
    for name in REQUIRED_COLUMNS:
        if name not in names:
            raise ConfigError(where, "missing column (a manifest needs path, size, mtime_ns, "
                              "xxh3_128)", key=name)
    paths = _column(table, "path", where, text=True)
    sizes = _column(table, "size", where, text=False)
    mtimes = _column(table, "mtime_ns", where, text=False)
    digests = _column(table, "xxh3_128", where, text=True)

    bad = _first_true(pc.invert(pc.match_substring_regex(digests, _DIGEST)))
    if bad is not None:
        raise ConfigError(where, f"row {bad}: {digests[bad].as_py()!r} is not 32 hexadecimal "
                          "digits", key="xxh3_128")
    bad = _first_true(pc.less(sizes, 0))
    if bad is not None:
        raise ConfigError(where, f"row {bad}: negative size {sizes[bad].as_py()}", key="size")
    bad = _first_true(pc.match_substring_regex(paths, _BAD_PATH))
    if bad is not None:
        value = paths[bad].as_py()
        raise ConfigError(where, f"row {bad}: {_path_problem(value)}: {value!r}", key="path")

    if "kind" in names:
        kinds_column = _column(table, "kind", where, text=True)
        bad = _first_true(pc.invert(pc.is_in(kinds_column,
                                             value_set=pa.array([KIND_FILE, KIND_SYMLINK]))))
        if bad is not None:
            raise ConfigError(where, f"row {bad}: {kinds_column[bad].as_py()!r} is not "
                              "'file' or 'symlink'", key="kind")
        kinds = [KIND_SYMLINK if link else KIND_FILE
                 for link in pc.equal(kinds_column, KIND_SYMLINK).to_pylist()]
    else:
        kinds = [KIND_FILE] * len(table)

    path_list = paths.to_pylist()
    rows = dict(zip(path_list, zip(sizes.to_pylist(), mtimes.to_pylist(),
                                   pc.ascii_lower(digests).to_pylist(), kinds, strict=True),
                    strict=True))
    if len(rows) != len(path_list):
        seen: set[str] = set()
        for index, path in enumerate(path_list):
            if path in seen:
                raise ConfigError(where, f"row {index}: duplicate path {path!r}", key="path")
            seen.add(path)
    return rows


def _column(table: Any, name: str, where: str, *, text: bool) -> Any:
    column = table.column(name)
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if text:
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or getattr(pa.types, "is_string_view", lambda _: False)(kind)):
            raise ConfigError(where, f"has type {kind}, expected string", key=name)
    elif pa.types.is_integer(kind):
        try:
            column = column.cast(pa.int64())  # safe cast: refuses uint64 values beyond int64
        except pa.ArrowInvalid as exc:
            raise ConfigError(where, f"values do not fit int64: {exc}", key=name) from exc
    else:
        raise ConfigError(where, f"has type {kind}, expected int64", key=name)
    if column.null_count:
        first = _first_true(pc.is_null(column))
        raise ConfigError(where, f"{column.null_count} null value(s), first at row {first}",
                          key=name)
    return column


def _first_true(mask: Any) -> int | None:
    """Index of the first true value of a boolean array (nulls count as false), or None."""
    if not pc.any(mask).as_py():
        return None
    index: int = pc.index(pc.fill_null(mask, False), True).as_py()
    return index


def _path_problem(path: str) -> str:
    if not path:
        return "empty path"
    if path.startswith("/"):
        return "absolute path (paths are relative to the backed-up root)"
    if ".." in path.split("/"):
        return "path contains a '..' segment"
    return "path is not normalised ('.' or empty segment)"
