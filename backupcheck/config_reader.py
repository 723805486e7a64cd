"""Typed, located access to one TOML table of a config file: every error names the file, the
line where it can be found, and the dotted key (see :class:`ConfigError`)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from backupcheck.errors import ConfigError

__all__ = ["TableReader", "read_toml"]

#: a ``[table]`` or ``[[array-of-tables]]`` header line (group 1: the bracketed name)
_HEADER = re.compile(r"^\s*(\[\[?\s*[A-Za-z0-9_.\"' -]+?\s*\]\]?)\s*(#.*)?$")


class TableReader:
    """Typed access to one TOML table, reporting errors with file, line and dotted key."""

    def __init__(self, file: Path, text: str, table: Mapping[str, Any], prefix: str = "",
                 known: Iterable[str] = (), max_length: int | None = None) -> None:
        self.file, self.text, self.table, self.prefix = file, text, table, prefix
        self.used: set[str] = set()
        #: every key this table may hold: a missing required key then also names the
        #: unknown keys written instead (``rp0`` for ``rpo``), which are likely its typo
        self.known = frozenset(known)
        #: the longest string value accepted (a path or URL never reaches the OS, S3 or a
        #: report with megabytes); None: no limit
        self.max_length = max_length

    def _table_lines(self) -> tuple[int, int] | None:
        """``(header line, end)`` of this reader's table in the file; None when not found.

        The top level runs up to the first table header; ``policy.`` is the ``[policy]``
        table; ``targets[N].`` is the N-th ``[[targets]]`` table. Each ends at the next header.
        """
        lines = self.text.splitlines()
        headers = [(number, match.group(1)) for number, line in enumerate(lines, start=1)
                   if (match := _HEADER.match(line))]
        ends = [number for number, _ in headers[1:]] + [len(lines) + 1]
        if not self.prefix:
            return 0, headers[0][0] if headers else len(lines) + 1
        table = re.fullmatch(r"(\w+)(?:\[(\d+)\])?\.", self.prefix)
        if table is None:
            return None
        name, index = table.group(1), int(table.group(2) or 0)
        matching = [(start, end) for (start, header), end in zip(headers, ends, strict=True)
                    if header.strip(" []") == name]
        return matching[index] if index < len(matching) else None

    def line_of(self, key: str) -> int | None:
        """The line of ``key`` inside this reader's table (not a same-named key elsewhere)."""
        leaf = key.rsplit(".", 1)[-1].split("[", 1)[0]
        pattern = re.compile(rf"^\s*[\"']?{re.escape(leaf)}[\"']?\s*=")
        lines = self.text.splitlines()
        span = self._table_lines()
        start, end = span if span is not None else (0, len(lines) + 1)
        for number in range(start + 1, end):
            if pattern.match(lines[number - 1]):
                return number
        if span is not None and span[0] > 0:
            return span[0]  # the key is not written out: point at the table's header
        section = re.compile(rf"^\s*\[\[?\s*{re.escape(leaf)}\s*\]\]?")
        for number, line in enumerate(lines, start=1):
            if section.match(line):
                return number
        return None

    def error(self, key: str, message: str) -> ConfigError:
        dotted = f"{self.prefix}{key}"
        return ConfigError(self.file, message, key=dotted, line=self.line_of(key))

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = None,
            required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.table:
            if required:
                raise self._missing(key)
            return default
        value = self.table[key]
        # bool is an int in Python; a TOML `true` where a number belongs is still wrong.
        wrong_bool = isinstance(value, bool) and bool not in _as_tuple(kind)
        if wrong_bool or not isinstance(value, kind):
            raise self.error(key, f"expected {_type_name(kind)}, got {_toml_type(value)}")
        if isinstance(value, str) and "\x00" in value:
            # no file name, command line or environment can hold one
            raise self.error(key, "must not contain a NUL character (\\u0000)")
        if self.max_length is not None and isinstance(value, str) \
                and len(value) > self.max_length:
            # the message never repeats the value: it is too long to print
            raise self.error(key, f"is {len(value)} characters long, at most "
                             f"{self.max_length} are accepted")
        return value

    def _missing(self, key: str) -> ConfigError:
        unknown = [k for k in self.table if self.known and k not in self.known | self.used]
        if not unknown:
            return self.error(key, "required key is missing")
        names = ", ".join(repr(k) for k in unknown)
        plural = "s" if len(unknown) > 1 else ""
        # located at the unknown key: that is the line to fix
        return ConfigError(self.file, f"required key is missing; unknown key{plural} {names} "
                           "found instead (a typo?)", key=f"{self.prefix}{key}",
                           line=self.line_of(unknown[0]))

    def converted(self, key: str, convert: Callable[[str], Any], default: str | None = None,
                  required: bool = False) -> Any:
        raw = self.get(key, str, default, required)
        if raw is None:
            return None
        try:
            return convert(raw)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def choice(self, key: str, choices: Iterable[str], default: str) -> str:
        value: str = self.get(key, str, default)
        options = list(choices)
        if value not in options:
            raise self.error(key, f"must be one of {', '.join(options)}, got {value!r}")
        return value

    def non_negative_int(self, key: str, default: int, minimum: int = 0) -> int:
        value: int = self.get(key, int, default)
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        return value

    def string_list(self, key: str) -> tuple[str, ...]:
        value = self.get(key, list, [])
        if not all(isinstance(item, str) and "\x00" not in item for item in value):
            raise self.error(key, "expected a list of strings (without NUL characters)")
        return tuple(value)

    def reject_unknown(self) -> None:
        for key in self.table:
            if key not in self.used:
                raise self.error(key, "unknown key")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", list: "a list",
             dict: "a table", float: "a number"}
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))


def _toml_type(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read file: {exc}") from None
    try:
        return text, tomllib.loads(text)
    except RecursionError:
        raise ConfigError(path, "TOML syntax error: arrays or tables nested too deeply") from None
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(match.group(1)) if match else None
        if line is None and "(at end of document)" in str(exc):
            line = max(1, len(text.splitlines()))  # the last line: where it ran out
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        raise ConfigError(path, f"TOML syntax error: {message}", line=line) from None
